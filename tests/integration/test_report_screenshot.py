"""The HTML report as a browser shows it: rendered by headless Chromium (Debian's `chromium`)
from a ledger made by a real sync cycle, with nothing fetched from the network."""

from __future__ import annotations

import importlib.util
import struct
from datetime import timedelta
from pathlib import Path
from types import ModuleType

import pytest

from bridge.config import config_from_dict
from bridge.report import write_report_file
from bridge.sandbox.world import running_world
from bridge.wiring import build


def _load_script() -> ModuleType:
    # scripts/ is not a package: load the script the way `python scripts/...` would.
    path = Path(__file__).parents[2] / "scripts" / "screenshot_report.py"
    spec = importlib.util.spec_from_file_location("screenshot_report", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


shots = _load_script()

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        shots.find_browser() is None,
        reason="chromium is not installed (Debian: apt-get install -y chromium)",
    ),
]


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def test_html_report_renders_in_headless_chromium(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("matplotlib")
    with running_world() as world:
        for k, v in world.env().items():
            monkeypatch.setenv(k, v)
        data = world.config_dict(f"sqlite:///{tmp_path / 'ledger.db'}")
        world.graph.actor().activate(
            world.entra_users["alice"],
            world.entra_groups["prod-admin"],
            timedelta(hours=1),
            "on call",
        )
        bridge = build(config_from_dict(data, {}))
        try:
            assert bridge.reconciler.cycle(kind="sync").exit_code == 0
        finally:
            bridge.close()
        html = tmp_path / "report.html"
        write_report_file(data["store"]["url"], html, config_from_dict(data, {}))
    png = shots.screenshot(html, tmp_path / "report.png", width=1200, height=1600)
    assert _png_size(png) == (1200, 1600)
    # A blank page compresses to a few kilobytes; text, tables and plots do not.
    assert png.stat().st_size > 40_000
