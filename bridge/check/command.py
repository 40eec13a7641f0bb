"""The order of `check-config`: the file, the three endpoints, then every mapping, each side
only where its endpoint answered (one unreachable Graph is one failure, not one a mapping)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import TextIO

from bridge.check.aws import HeldBy, check_aws
from bridge.check.entra import check_entra, is_object_id, well_formed
from bridge.check.lines import Checks
from bridge.config import Config, MappingConfig
from bridge.errors import BridgeError, ConfigError
from bridge.graph.config_reads import GraphConfigReader
from bridge.ports import GroupRead
from bridge.store import Ledger
from bridge.wiring import Bridge, build


def check_config(config: Config, out: TextIO) -> int:
    """0 when every check passed, 1 when one warned, 2 when one failed (bridge/cli.py's
    table of exit codes)."""
    checks = Checks(out)
    checks.ok("config", f"ok ({len(config.mappings)} mappings)")
    bridge = build(config)
    reader = GraphConfigReader(config.entra)
    try:
        # The credential on its own; each mapped group is checked by name after this.
        graph = _endpoint(checks, "graph", lambda: bridge.source.check())
        aws = _endpoint(checks, "identity center", bridge.ic.check)
        _endpoint(checks, "store", lambda: f"{bridge.ledger.dialect} ok")
        reads = _pim_reads(config, bridge) if graph else {}
        held = _held_by(bridge.ledger)
        for mapping in config.mappings:
            _mapping(mapping, bridge, reader, reads, held, checks, graph=graph, aws=aws)
        if aws:
            bridge.reconciler.targets()  # what each mapping names now, to tell orphans apart
        for orphan in bridge.reconciler.orphans():
            checks.ok("orphan", orphan.detail)
    finally:
        reader.close()
        bridge.close()
    return checks.exit_code


def _endpoint(checks: Checks, name: str, check: Callable[[], str]) -> bool:
    try:
        checks.ok(name, check())
    except ConfigError:
        raise
    except BridgeError as exc:
        checks.fail(name, str(exc))
        return False
    return True


def _pim_reads(config: Config, bridge: Bridge) -> dict[str, GroupRead]:
    """Every mapped group's PIM instances in one read, as a poll reads them."""
    ids = sorted({m.entra_group_id for m in config.mappings if is_object_id(m.entra_group_id)})
    return bridge.source.read_groups(ids) if ids else {}


def _held_by(ledger: Ledger) -> HeldBy:
    held: dict[str, set[str]] = defaultdict(set)
    for binding in ledger.holdings():
        held[binding.target_key].add(binding.ic_user_id)
    return lambda key: held.get(key, set())


def _mapping(
    mapping: MappingConfig,
    bridge: Bridge,
    reader: GraphConfigReader,
    reads: dict[str, GroupRead],
    held: HeldBy,
    checks: Checks,
    *,
    graph: bool,
    aws: bool,
) -> None:
    subject = f"mapping {mapping.name}"
    entra = None
    if well_formed(mapping, checks):
        if graph:
            entra = check_entra(mapping, reader, reads[mapping.entra_group_id], checks)
        else:
            checks.skip(f"{subject}: Entra group", "Graph was not reached")
    if aws:
        check_aws(mapping, bridge.ic, held, entra, checks)
    else:
        checks.skip(f"{subject}: Identity Center", "Identity Center was not reached")
