"""`pim-bridge sandbox`: the local tenant in the foreground, for trying the CLI by hand."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from pathlib import Path

from bridge.sandbox.world import running_world


def serve(config_path: str, *, graph_port: int = 0) -> int:
    # A fixed token lets a second shell reuse its environment across sandbox restarts.
    token = os.environ.get("PIM_BRIDGE_GRAPH_TOKEN")
    with running_world(graph_token=token, graph_port=graph_port) as world:
        path = world.write_config(config_path, "sqlite:///sandbox.db")
        actor_hint = ", ".join(f"{k}={v}" for k, v in world.entra_groups.items())
        print(f"Graph sandbox:  {world.graph.url}")
        print(f"AWS sandbox:    {world.aws.endpoint_url}")
        print(f"Config written: {Path(path).resolve()}")
        print(f"Entra groups:   {actor_hint}")
        print("\nIn another shell:")
        for key, value in world.env().items():
            print(f"  export {key}={value}")
        print(f"  pim-bridge check-config -c {path}")
        print(f"  pim-bridge sync --dry-run -c {path}")
        print(f"  pim-bridge run -c {path}")
        print("\nCtrl-C stops the sandbox.")
        sys.stdout.flush()
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0
