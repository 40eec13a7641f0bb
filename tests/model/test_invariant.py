"""The bridge's one promise, checked by the model of tests/model/machine.py: hypothesis drives the
real parts through activations, faults, crashes, clock jumps and config edits, and checks the
promise after every step.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import seed, settings
from hypothesis.stateful import run_state_machine_as_test

from tests.model.conftest import Progress
from tests.model.machine import BridgeMachine

# The examples are shared by this many tests, which the suite's workers run side by side.
PARTS = 4


@pytest.mark.parametrize("part", range(PARTS))
def test_the_bridge_keeps_its_promise(
    part: int, ledger_template: Path, model_settings: settings, progress: Progress
) -> None:
    """One of PARTS runs of the machine, each with its own fixed seed (a fresh one in the soak,
    which is not derandomized), so the suite's workers share the examples between them."""
    share = settings(model_settings, max_examples=model_settings.max_examples // PARTS)

    def machine() -> BridgeMachine:
        progress.example()
        return BridgeMachine(ledger_template)

    fixed = seed(part)(machine) if model_settings.derandomize else machine
    run_state_machine_as_test(fixed, settings=share)
