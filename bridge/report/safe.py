"""Ledger text made safe to show: the report prints what Graph, Identity Center and the people
behind them wrote (names, justifications, error messages), and none of it may act on the reader.

Control characters (an ESC starts a terminal escape sequence; a bidirectional override hides
what follows) are shown as `\\x1b`-style escapes in every human format and in CSV; Markdown
also escapes what would become HTML, a link or a table cell border. JSON escapes them itself.
"""

from __future__ import annotations

import re
from html import escape

# C0 and C1 controls, DEL, and the format characters that reorder or hide text.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
# What Markdown would read as markup, each character on its own: a backslash before emphasis,
# code, links and cell borders, an entity for what would become HTML.
_MARKDOWN = str.maketrans(
    {**{ch: "\\" + ch for ch in "\\`*_[]|"}, "&": "&amp;", "<": "&lt;", ">": "&gt;"}
)


def printable(text: str) -> str:
    """`text` with every control or reordering character spelled out as an escape."""
    return _UNSAFE.sub(_spelled, text)


def safe(text: str) -> bool:
    """Whether `text` holds nothing `printable` would spell out. ASCII text is asked without
    the expression: its unsafe characters are exactly those `isprintable` refuses (controls and
    DEL), and both questions are one quick pass in C."""
    if text.isascii():
        return text.isprintable()
    return _UNSAFE.search(text) is None


def printable_cells(cells: list[str]) -> list[str]:
    """`printable` of each cell; the cells themselves in the usual case of nothing to escape,
    found with one search instead of one per cell."""
    if safe("".join(cells)):
        return cells
    return [printable(c) for c in cells]


# What joins a row's cells to be made safe in one call: never in a cell once `printable` found
# nothing to spell out (it spells out every control character), and left alone by both
# `escape` and the Markdown translation.
_JOIN = "\x00"


def html_cells(cells: list[str]) -> list[str]:
    """`html` of each cell, in one search and one escape in the usual case."""
    if not safe("".join(cells)):
        return [html(c) for c in cells]
    return escape(_JOIN.join(cells)).split(_JOIN)


def markdown_cells(cells: list[str]) -> list[str]:
    """`markdown` of each cell, in one search and one translation in the usual case."""
    if not safe("".join(cells)):
        return [markdown(c) for c in cells]
    return _JOIN.join([" ".join(c.split()) for c in cells]).translate(_MARKDOWN).split(_JOIN)


def html(text: str) -> str:
    """`text` as HTML (or SVG) character data: shown, never parsed."""
    return escape(printable(text))


def markdown(text: str) -> str:
    """One Markdown table cell that renders as `text`, literally: on one line, no HTML, no
    link, no emphasis, no cell border."""
    return " ".join(printable(text).split()).translate(_MARKDOWN)


def _spelled(match: re.Match[str]) -> str:
    ch = match.group(0)
    if ch in "\t\n\r":
        return " "  # white space a cell cannot hold: a space, as a reader would expect
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
