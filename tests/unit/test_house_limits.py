"""The package's size limits: no module over 400 lines, no class over 250, no function over 60.
A piece over its limit is split along its concerns; the few that are long for a reason are named
in EXCEPTIONS with that reason."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import bridge

ROOT = Path(bridge.__file__).parent
MODULE_LINES, CLASS_LINES, FUNCTION_LINES = 400, 250, 60

# Pieces allowed over their limit, each with why. An entry that no longer exceeds its limit fails
# the test too, so the list cannot outlive the reason it was written for.
EXCEPTIONS: dict[str, str] = {
    # The first migration creates the whole initial schema as one revision: Alembic runs a
    # revision's upgrade() as a unit, and a released migration is never rewritten (databases
    # already stamped with it must see the same steps).
    "migrations/versions/0001_initial.py:upgrade": "the initial schema, one revision",
}

Piece = tuple[str, int, int]  # (name, lines, limit)


def _pieces(tree: ast.AST, module: str, prefix: str = "") -> Iterator[Piece]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            qualified = f"{prefix}{node.name}"
            limit = CLASS_LINES if isinstance(node, ast.ClassDef) else FUNCTION_LINES
            lines = (node.end_lineno or node.lineno) - node.lineno + 1
            yield f"{module}:{qualified}", lines, limit
            yield from _pieces(node, module, f"{qualified}.")
        else:
            yield from _pieces(node, module, prefix)


def _measured() -> Iterator[Piece]:
    for path in sorted(ROOT.rglob("*.py")):
        module = path.relative_to(ROOT).as_posix()
        text = path.read_text(encoding="utf-8")
        yield module, len(text.splitlines()), MODULE_LINES
        yield from _pieces(ast.parse(text), module)


def test_no_module_class_or_function_is_over_its_limit() -> None:
    over = [
        f"{name}: {lines} lines (limit {limit})"
        for name, lines, limit in _measured()
        if lines > limit and name not in EXCEPTIONS
    ]
    assert over == [], "split along its concerns:\n" + "\n".join(over)


def test_every_exception_is_still_over_its_limit() -> None:
    measured = {name: lines > limit for name, lines, limit in _measured()}
    stale = [name for name in EXCEPTIONS if not measured.get(name, False)]
    assert stale == [], "no longer over its limit (or gone): drop from EXCEPTIONS"
