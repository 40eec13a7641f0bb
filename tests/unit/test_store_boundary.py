"""The store owns the database: no module outside bridge/store/ (and the schema and migrations it
applies) talks SQLAlchemy, and the concrete ledger offers everything the core's port names."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import bridge
from bridge import ports
from bridge.store import Ledger

ROOT = Path(bridge.__file__).parent
OWNERS = ("store/", "migrations/", "schema.py")


def _imports_sqlalchemy(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import) and any(
            a.name.split(".")[0] == "sqlalchemy" for a in node.names
        ):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sqlalchemy":
            return True
    return False


def test_only_the_store_imports_sqlalchemy() -> None:
    outside = [
        str(p.relative_to(ROOT))
        for p in sorted(ROOT.rglob("*.py"))
        if not str(p.relative_to(ROOT)).startswith(OWNERS) and _imports_sqlalchemy(p)
    ]
    assert outside == []


def test_the_ledger_offers_every_method_of_the_port_with_its_parameters() -> None:
    wanted = {n: f for n, f in vars(ports.Ledger).items() if inspect.isfunction(f) and n[0] != "_"}
    assert wanted
    for name, method in wanted.items():
        offered = getattr(Ledger, name)
        assert list(inspect.signature(offered).parameters) == list(
            inspect.signature(method).parameters
        ), name
