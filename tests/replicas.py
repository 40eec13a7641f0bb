"""`pim-bridge run` as a separate process against a sandbox world, for the tests that kill
replicas."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bridge.sandbox.world import World


def start_replica(world: World, config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, **world.env(), "PIM_BRIDGE_SERVICE__LISTEN": '"127.0.0.1:0"'}
    # The child gets its own copy of the log's descriptor; ours is closed at once.
    with log.open("wb") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "bridge", "run", "-c", str(config)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
