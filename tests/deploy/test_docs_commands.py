"""Every `pim-bridge …` command line shown in the deployment and operations docs is one the CLI
accepts, so a reader copying it gets the command, not a usage error."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from bridge.cli import parser

ROOT = Path(__file__).resolve().parents[2]
DOCS = ["deployment.md", "runbook.md", "troubleshooting.md", "security.md", "comparison.md"]
FENCE = re.compile(r"```(?:sh)?\n(.*?)```", re.S)


def _commands() -> list[tuple[str, str]]:
    found = []
    for name in DOCS:
        for block in FENCE.findall((ROOT / "docs" / name).read_text()):
            for line in block.splitlines():
                line = line.split(" #", 1)[0].strip()
                if line.startswith("pim-bridge "):
                    found.append((name, line))
    return found


def test_the_docs_show_cli_commands() -> None:
    verbs = {shlex.split(line)[1] for _, line in _commands()}
    assert {"sandbox", "check-config", "sync", "run", "health", "report"} <= verbs


@pytest.mark.parametrize(("doc", "line"), _commands())
def test_documented_command_is_accepted_by_the_cli(doc: str, line: str) -> None:
    argv = shlex.split(line)[1:]
    try:
        parser().parse_args(argv)
    except SystemExit as exc:
        pytest.fail(f"{doc}: `{line}` is rejected by the CLI (exit {exc.code})")
