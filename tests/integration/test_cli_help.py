"""Every verb's --help teaches: what it does, an example, the exit codes; and what `sandbox`
suggests running is a command that works against the sandbox."""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.cli import EXIT_CODES, parser
from bridge.sandbox.world import running_world

VERBS = ("demo", "sandbox", "run", "sync", "check-config", "health", "report")


def _help(*argv: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "bridge", *argv, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("verb", VERBS)
def test_every_verb_help_has_a_description_an_example_and_the_exit_codes(verb: str) -> None:
    text = _help(verb)
    example = text.split("Example:\n", 1)[1]
    assert example.lstrip().startswith(f"pim-bridge {verb}")
    assert EXIT_CODES in text


def test_every_option_of_every_verb_has_help_text() -> None:
    root = parser()
    verbs = next(a for a in root._actions if isinstance(a, argparse._SubParsersAction))
    silent = [
        f"{verb} {action.option_strings[0]}"
        for verb, sub in verbs.choices.items()
        for action in sub._actions
        if action.option_strings and not action.help
    ]
    assert silent == []


def test_the_sync_sandbox_help_suggests_works_against_the_sandbox(tmp_path: Path) -> None:
    suggested = next(
        line.split(" #", 1)[0].strip()
        for line in _help("sandbox").splitlines()
        if line.strip().startswith("pim-bridge sync")
    )
    argv = shlex.split(suggested)[1:]
    with running_world() as world:
        config = world.write_config(tmp_path / "sandbox.toml", f"sqlite:///{tmp_path / 's.db'}")
        argv = [str(config) if a == "sandbox.toml" else a for a in argv]
        proc = subprocess.run(
            [sys.executable, "-m", "bridge", *argv],
            capture_output=True,
            text=True,
            env={**os.environ, **world.env()},
            timeout=120,
            cwd=tmp_path,
        )
    assert str(config) in argv
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "pim-bridge sync:" in proc.stdout
