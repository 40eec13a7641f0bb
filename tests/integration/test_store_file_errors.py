"""The store and output files going wrong under the CLI: a corrupt ledger, a missing or
read-only store directory, an output that is a directory, a full disk or a missing folder.
Each is one line on stderr and an exit code from the CLI's table, never a traceback; `report`
never writes over the ledger and reads one it cannot write."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bridge.cli import main
from bridge.graph.credentials import STATIC_TOKEN_ENV
from bridge.store import Ledger

pytestmark = pytest.mark.integration
EXIT_CONFIG = 2
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
CONFIG = """\
[entra]
credential = "static"
graph_url = "http://127.0.0.1:9/v1.0"
[aws]
identity_store_id = "d-1"
instance_arn = "arn:aws:sso:::instance/ssoins-1"
endpoint_url = "http://127.0.0.1:9"
[store]
url = "sqlite:///{db}"
[[mappings]]
name = "admins"
entra_group_id = "11111111-1111-1111-1111-111111111111"
identity_center_group = "AWS-Admin"
"""


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STATIC_TOKEN_ENV, "t")


def cli(*argv: str, prefix: Sequence[str] = ()) -> subprocess.CompletedProcess[str]:
    """The command as a user runs it, in a process of its own."""
    return subprocess.run(
        [*prefix, sys.executable, "-m", "bridge", *argv],
        capture_output=True,
        text=True,
        timeout=120,
    )


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> subprocess.CompletedProcess[str]:
    """The command in this process (quicker): an exception escaping `main` fails the test."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(argv, code, out, err)


def one_line(proc: subprocess.CompletedProcess[str], code: int = EXIT_CONFIG) -> str:
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert proc.returncode == code, proc.stderr
    return lines[0]


def ledger_at(db: Path) -> Path:
    """A ledger with one finished cycle (so the report has nothing to warn about)."""
    ledger = Ledger(f"sqlite:///{db}")
    ledger.finish_cycle(ledger.start_cycle("sync", NOW), NOW, "ok", {})
    ledger.close()
    return db


def config_for(tmp: Path, db: Path) -> Path:
    path = tmp / "pim-bridge.toml"
    path.write_text(CONFIG.format(db=db))
    return path


def test_report_onto_the_ledger_itself_refuses_and_leaves_it_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ledger_at(tmp_path / "ledger.db")
    before = db.read_bytes()
    (tmp_path / "alias.db").symlink_to(db)
    for output in (db, tmp_path / "ledger.db-wal", tmp_path / "alias.db"):
        proc = run(capsys, "report", "--store", f"sqlite:///{db}", "-o", str(output))
        assert "is the ledger itself" in one_line(proc)
    assert db.read_bytes() == before
    assert run(capsys, "report", "--store", f"sqlite:///{db}").returncode == 0  # still a ledger


@pytest.mark.parametrize("verb", ["report", "sync", "health"])
def test_a_corrupt_ledger_is_one_line_naming_the_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], verb: str
) -> None:
    db = tmp_path / "ledger.db"
    db.write_bytes(b"not a database, just bytes " * 400)
    line = one_line(run(capsys, verb, "-c", str(config_for(tmp_path, db))))
    assert "store.url" in line and "not a database" in line


@pytest.mark.parametrize("verb", ["report", "sync", "health"])
def test_a_missing_store_directory_is_one_line_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], verb: str
) -> None:
    line = one_line(run(capsys, verb, "-c", str(config_for(tmp_path, tmp_path / "gone" / "l.db"))))
    assert "store.url" in line and "gone" in line


@pytest.mark.parametrize(
    "output", ["a-directory", "/dev/full", "no-such-folder/report.csv"], ids=["dir", "full", "gone"]
)
def test_an_output_that_cannot_be_written_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], output: str
) -> None:
    db = ledger_at(tmp_path / "ledger.db")
    (tmp_path / "a-directory").mkdir()
    target = output if output.startswith("/") else str(tmp_path / output)
    proc = run(capsys, "report", "--store", f"sqlite:///{db}", "-o", target, "--format", "csv")
    line = one_line(proc)
    assert line.startswith("pim-bridge report: cannot write") and target in line


def read_only(folder: Path) -> list[str]:
    """A command prefix under which `folder` cannot be written: its permissions for anyone but
    root; for root (who ignores them), a read-only bind mount in a mount namespace of its own."""
    if os.geteuid() != 0:
        for path in folder.iterdir():
            path.chmod(0o444)
        folder.chmod(0o555)
        return []
    if shutil.which("unshare") is None:
        pytest.skip("running as root without unshare: cannot make a read-only directory")
    remount = 'mount --bind "$0" "$0" && mount -o remount,ro,bind "$0" && exec "$@"'
    prefix = ["unshare", "-m", "sh", "-c", remount, str(folder)]
    probe = subprocess.run([*prefix, "touch", str(folder / "probe")], capture_output=True)
    if probe.returncode == 0 or b"Read-only" not in probe.stderr:
        pytest.skip(f"cannot mount {folder} read-only here: {probe.stderr!r}")
    return prefix


def test_report_reads_a_ledger_it_cannot_write(tmp_path: Path) -> None:
    folder = tmp_path / "store"
    folder.mkdir()
    db = ledger_at(folder / "ledger.db")
    prefix = read_only(folder)
    try:
        proc = cli("report", "--store", f"sqlite:///{db}", "--format", "json", prefix=prefix)
        assert proc.returncode == 0 and proc.stderr == "", proc.stderr
        assert '"rows": []' in proc.stdout
        line = one_line(cli("sync", "-c", str(config_for(tmp_path, db)), prefix=prefix))
        assert "store.url" in line and str(folder) in line
    finally:
        folder.chmod(0o755)
