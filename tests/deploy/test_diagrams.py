"""diagrams/: every picture the docs show exists, each source has its committed PNG, and
`make diagrams` (diagrams/build.py) redraws all of them with no network."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DIAGRAMS = ROOT / "diagrams"
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LATENCY = ROOT / "bench" / "results" / "latency.json"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
LINK = re.compile(r"\]\(([^)\s]+\.png)\)")

# Any socket that is not loopback fails the run: the builder must need no network.
NO_NETWORK = """
import runpy, socket, sys
real = socket.socket.connect
def connect(self, address):
    host = address[0] if isinstance(address, tuple) else ''
    if host not in ('127.0.0.1', '::1', 'localhost'):
        raise OSError('network used while drawing diagrams: %r' % (address,))
    return real(self, address)
socket.socket.connect = connect
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name='__main__')
"""


def _references() -> dict[Path, list[Path]]:
    refs: dict[Path, list[Path]] = {}
    for doc in DOCS:
        for target in LINK.findall(doc.read_text()):
            refs.setdefault(doc, []).append((doc.parent / target).resolve())
    return refs


def _expected_pngs() -> set[str]:
    return {f"{p.stem}.png" for p in DIAGRAMS.glob("*.dot")} | {"session-timeline.png"}


def test_every_diagram_the_docs_show_exists() -> None:
    refs = _references()
    assert refs, "no document shows a diagram"
    for doc, targets in refs.items():
        for target in targets:
            assert target.is_file(), f"{doc.relative_to(ROOT)} shows missing {target}"


def test_every_diagram_is_shown_by_some_document() -> None:
    shown = {t.name for targets in _references().values() for t in targets}
    assert _expected_pngs() <= shown, _expected_pngs() - shown


def test_every_diagram_source_has_its_committed_png() -> None:
    for name in _expected_pngs():
        png = DIAGRAMS / name
        assert png.is_file(), name
        assert png.read_bytes()[:8] == PNG_MAGIC, name


def test_make_diagrams_target_runs_the_builder() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^diagrams:", makefile, re.M)
    assert "diagrams/build.py" in makefile


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` not installed")
@pytest.mark.skipif(
    importlib.util.find_spec("matplotlib") is None,
    reason="matplotlib not installed (pip install -e '.[docs]')",
)
@pytest.mark.skipif(not LATENCY.is_file(), reason="no bench/results/latency.json: run make bench")
def test_builder_redraws_every_png_without_network(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-c", NO_NETWORK, str(DIAGRAMS / "build.py"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr
    drawn = {p.name for p in tmp_path.glob("*.png")}
    assert drawn == _expected_pngs()
    for name in drawn:
        data = (tmp_path / name).read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 10_000, name
