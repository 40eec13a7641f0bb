"""Hypothesis profiles for the model test, and the migrated ledger every example copies.

The profiles are applied to the model test alone (not loaded globally, which would change the
other property tests' settings): `model` by default, `model-soak` when PIM_BRIDGE_SOAK=1
(`make soak`).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, settings

from bridge.store import Ledger

# Few steps per example, many examples: most defects need a handful of steps, and a short
# example shrinks to a readable one.
_COMMON = {
    "deadline": None,  # a step's time is SQLite's, not the code under test's
    "stateful_step_count": 16,
    "suppress_health_check": [HealthCheck.too_slow],
    # No "explain" phase: on Python 3.11 it traces every line, and a shrunk failure then takes
    # minutes to report instead of seconds.
    "phases": [Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
}
# `make test` runs 300 examples from fixed seeds (a run in a worker that ran other hypothesis
# tests first can still draw a few differently); `make soak` explores afresh. What either finds
# is fixed and kept as a named regression (test_regressions.py) or listed in KNOWN_DEFECTS.
# No example database there: the four parts share one database key, and an example another part
# (or an older version of the code) saved would be replayed where it does not belong.
settings.register_profile("model", max_examples=300, derandomize=True, database=None, **_COMMON)
settings.register_profile("model-soak", max_examples=20_000, **_COMMON)


SOAK = os.environ.get("PIM_BRIDGE_SOAK") == "1"
# The suite's 180 s per test would cut off the shrinking of a failure the model found (minutes,
# on a busy machine) and the soak itself.
TIMEOUT = 4 * 3600 if SOAK else 900


@pytest.fixture(scope="session")
def model_settings() -> settings:
    return settings.get_profile("model-soak" if SOAK else "model")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(here):
            item.add_marker(pytest.mark.timeout(TIMEOUT))


@pytest.fixture(scope="session")
def ledger_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ledger file migrated once: each example starts from a copy (a migration is ~0.1 s)."""
    path = tmp_path_factory.mktemp("model-ledger") / "template.db"
    Ledger(f"sqlite:///{path}").close()
    return path


@pytest.fixture(autouse=True)
def quiet_bridge_logs() -> Iterator[None]:
    """Thousands of cycles log thousands of lines; what matters is hypothesis's shrunk steps."""
    logger = logging.getLogger("bridge")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    yield
    logger.setLevel(level)


class Progress:
    """How far a long soak has come: every 100 examples a line (examples, seconds) is appended to
    the file PIM_BRIDGE_SOAK_PROGRESS names, so a soak stopped before its end still says how many
    examples ran clean."""

    def __init__(self, path: str | None, part: str) -> None:
        self.path, self.part = path, part
        self.count = 0
        self.started = time.monotonic()

    def example(self) -> None:
        self.count += 1
        if self.path and self.count % 100 == 0:
            seconds = time.monotonic() - self.started
            with open(self.path, "a", encoding="utf-8") as out:
                out.write(f"{self.part} {self.count} examples {seconds:.0f} s\n")


@pytest.fixture
def progress(request: pytest.FixtureRequest) -> Progress:
    return Progress(os.environ.get("PIM_BRIDGE_SOAK_PROGRESS"), request.node.name)
