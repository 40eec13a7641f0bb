"""Latency histograms (matplotlib) and per-mapping timelines (plain SVG), inline in the HTML
report. matplotlib is an optional extra (`pip install 'pim-bridge[report]'`); without it the
report says so and carries on without histograms."""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bridge.report.safe import html
from bridge.report.summary import Mark, Span

INSTALL_HINT = "plots need matplotlib: pip install 'pim-bridge[report]'"
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.S)
BLUE, RED, GREY = "#3a6ea5", "#c0392b", "#555555"


def available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _svg(fig: Any) -> str:
    from matplotlib import rc_context

    buf = io.StringIO()
    # Text stays text (the browser's font; nothing to fetch) and ids are stable between runs.
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": "pim-bridge"}):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buf.getvalue()
    # The RDF block only names the generator; dropping it keeps the page smaller and stable.
    return _METADATA.sub("", text[text.index("<svg") :])


def histogram(values: Sequence[float], title: str, xlabel: str, target: float | None = None) -> str:
    import numpy
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.2, 2.6))
    ax = fig.add_subplot()
    bins = min(40, max(5, len(values) // 4))
    # As a numpy array: given an array of doubles, matplotlib made a Python float of each value
    # (32 MB at 100,000 grants); numpy reads the doubles in place.
    ax.hist(numpy.asarray(values, dtype=float), bins=bins, color=BLUE, edgecolor="white")
    if target is not None:
        ax.axvline(target, color=RED, linestyle="--", linewidth=1.2, label=f"target {target:g}s")
        ax.legend(loc="upper right", frameon=False, fontsize=8)
    # From zero: an axis of 1.035 to 1.065 s makes a steady 1 s look like a wide spread.
    ax.set_xlim(left=0, right=max(max(values, default=0), target or 0) * 1.1 or 1)
    ax.set_title(title, fontsize=10, loc="left")
    ax.set_xlabel(xlabel, fontsize=9)
    ax.set_ylabel("grants", fontsize=9)
    ax.tick_params(labelsize=8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return _svg(fig)


# Tick steps for the timeline's time axis, in seconds: the first giving at most eight ticks wins.
_STEPS = (1, 5, 10, 30, 60, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 7 * 86400)
_LANE, _TOP, _BOTTOM, _LABELS, _WIDTH = 18, 28, 34, 360, 1000
_PLOT_W = _WIDTH - _LABELS - 20


@dataclass(frozen=True)
class _Frame:
    """Where the timeline draws: its time span mapped across the plot, and one lane per (user,
    target) in order of first appearance."""

    t0: float
    t1: float
    lanes: dict[tuple[str, str], int]

    @classmethod
    def of(cls, spans: Sequence[Span], now: datetime) -> _Frame:
        lanes: dict[tuple[str, str], int] = {}
        for s in spans:
            lanes.setdefault((s.user, s.target), len(lanes))
        t0 = min(s.start for s in spans).timestamp()
        ends = [s.end or now for s in spans] + [m.until for s in spans for m in s.marks if m.until]
        t1 = max(ends).timestamp()
        return cls(t0, max(t1, t0 + 1), lanes)

    @property
    def axis_y(self) -> int:
        return _TOP + _LANE * len(self.lanes)

    @property
    def height(self) -> int:
        return self.axis_y + _BOTTOM

    def x(self, t: float) -> float:
        return _LABELS + (t - self.t0) / (self.t1 - self.t0) * _PLOT_W


def timeline(mapping: str, spans: Sequence[Span], now: datetime) -> str:
    """One lane per (user, target), a bar per grant from activation to revocation (or now).

    Drawn as plain SVG rather than with matplotlib: a report has one per mapping, and text
    layout of dozens of tick labels made each matplotlib figure take a second."""
    frame = _Frame.of(spans, now)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{frame.height}" '
        f'viewBox="0 0 {_WIDTH} {frame.height}" font-family="sans-serif" font-size="11">',
        f'<text x="0" y="16" font-size="13">{html(mapping)}: grants over time (UTC; '
        "outlined = still live, red = anomaly, red ticks = when it happened)</text>",
        *_ticks(frame),
        *_lane_labels(frame),
        *(_bar(s, frame, now) for s in spans),
        *(_mark(m, s, frame) for s in spans for m in s.marks),
        f'<line x1="{_LABELS}" y1="{frame.axis_y}" x2="{_LABELS + _PLOT_W}" y2="{frame.axis_y}" '
        f'stroke="{GREY}"/></svg>',
    ]
    return "".join(parts)


def _ticks(frame: _Frame) -> list[str]:
    """Grid lines with their times along the axis, then the day the timeline starts."""
    t0, t1, axis_y = frame.t0, frame.t1, frame.axis_y
    step = next((st for st in _STEPS if (t1 - t0) / st <= 8), _STEPS[-1])
    fmt = "%H:%M:%S" if step < 60 else "%H:%M" if step < 86400 else "%Y-%m-%d"
    parts = []
    tick = (int(t0) // step + 1) * step
    while tick <= t1:
        tx = frame.x(tick)
        label = datetime.fromtimestamp(tick, UTC).strftime(fmt)
        parts.append(
            f'<line x1="{tx:.1f}" y1="{_TOP}" x2="{tx:.1f}" y2="{axis_y}" stroke="#dddddd"/>'
            f'<text x="{tx:.1f}" y="{axis_y + 14}" text-anchor="middle" fill="{GREY}">'
            f"{label}</text>"
        )
        tick += step
    day = datetime.fromtimestamp(t0, UTC).strftime("%Y-%m-%d")
    parts.append(
        f'<text x="{_WIDTH - 20}" y="{axis_y + 28}" text-anchor="end" fill="{GREY}">{day}</text>'
    )
    return parts


def _lane_labels(frame: _Frame) -> list[str]:
    return [
        f'<text x="{_LABELS - 6}" y="{_TOP + _LANE * lane + 13}" text-anchor="end">'
        f"{html(_clip(f'{user}  {target}', 60))}</text>"
        for (user, target), lane in frame.lanes.items()
    ]


def _bar(s: Span, frame: _Frame, now: datetime) -> str:
    """A grant's bar: solid once it ended, outlined while live; red when anomalous."""
    y = _TOP + _LANE * frame.lanes[(s.user, s.target)] + 3
    left = frame.x(s.start.timestamp())
    width = max(frame.x((s.end or now).timestamp()) - left, 1.5)
    colour = RED if s.anomalous else BLUE
    fill = f'fill="{colour}"' if s.end else f'fill="{colour}" fill-opacity="0.25"'
    stroke = "" if s.end else f' stroke="{colour}" stroke-width="1.5"'
    return f'<rect x="{left:.1f}" y="{y}" width="{width:.1f}" height="{_LANE - 6}" {fill}{stroke}/>'


def _mark(m: Mark, s: Span, frame: _Frame) -> str:
    """An anomaly on its lane: a red tick at its time, and a red stretch over the time access
    outlived its end; its kind and time as the tooltip."""
    y = _TOP + _LANE * frame.lanes[(s.user, s.target)]
    x = frame.x(m.at.timestamp())
    tip = f"<title>{html(m.kind)} at {m.at:%Y-%m-%d %H:%M:%S}Z</title>"
    stretch = ""
    if m.until is not None:
        width = max(frame.x(m.until.timestamp()) - x, 1.5)
        stretch = (
            f'<rect x="{x:.1f}" y="{y + 1}" width="{width:.1f}" height="{_LANE - 2}" '
            f'fill="{RED}" fill-opacity="0.35">{tip}</rect>'
        )
    tick = (
        f'<line x1="{x:.1f}" y1="{y}" x2="{x:.1f}" y2="{y + _LANE}" stroke="{RED}" '
        f'stroke-width="2.5" class="anomaly" data-kind="{html(m.kind)}">{tip}</line>'
    )
    return stretch + tick


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
