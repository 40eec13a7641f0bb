"""`pim-bridge sandbox`: the local tenant in the foreground, for trying the CLI by hand."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
from datetime import timedelta
from pathlib import Path

from bridge.sandbox.world import running_world


def serve(config_path: str, *, graph_port: int = 0) -> int:
    # A fixed token lets a second shell reuse its environment across sandbox restarts.
    token = os.environ.get("PIM_BRIDGE_GRAPH_TOKEN")
    with running_world(graph_token=token, graph_port=graph_port) as world:
        path = world.write_config(config_path, "sqlite:///sandbox.db", listen="127.0.0.1:9464")
        # Something to see at once: alice is active in prod-admin for an hour.
        actor = world.graph.actor()
        group = world.entra_groups["prod-admin"]
        actor.activate(world.entra_users["alice"], group, timedelta(hours=1), "sandbox start")
        print(f"Graph sandbox:  {world.graph.url}")
        print(f"AWS sandbox:    {world.aws.endpoint_url}")
        print(f"Config written: {Path(path).resolve()}")
        print(f"Entra groups:   {', '.join(f'{k}={v}' for k, v in world.entra_groups.items())}")
        print(f"Entra users:    {', '.join(f'{k}={v}' for k, v in world.entra_users.items())}")
        print("alice is active in prod-admin for an hour.")
        print("\nIn another shell:")
        for key, value in world.env().items():
            print(f"  export {key}={value}")
        print(f"  pim-bridge check-config -c {path}")
        print(f"  pim-bridge sync --dry-run -c {path}   # + alice@example.com -> AWS-Prod-Admin")
        print(f"  pim-bridge run -c {path}              # /healthz, /metrics on 127.0.0.1:9464")
        print("\nActivate bob for 5 minutes (PIM's own request shape, against the sandbox):")
        body = {
            "action": "selfActivate",
            "principalId": world.entra_users["bob"],
            "groupId": group,
            "accessId": "member",
            "justification": "try it",
            "scheduleInfo": {"expiration": {"type": "afterDuration", "duration": "PT5M"}},
        }
        print(
            f'  curl -s -H "Authorization: Bearer $PIM_BRIDGE_GRAPH_TOKEN" '
            f"-H 'Content-Type: application/json' -X POST "
            f"{world.graph.url}/identityGovernance/privilegedAccess/group/"
            f"assignmentScheduleRequests -d '{json.dumps(body)}'"
        )
        print("\nCtrl-C stops the sandbox.")
        sys.stdout.flush()
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0
