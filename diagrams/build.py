"""Render every diagram: each `diagrams/*.dot` with Graphviz `dot`, and the session timeline
with matplotlib from the latency benchmark's figures (`make bench` writes them).

    python diagrams/build.py [--out DIR] [--results bench/results/latency.json]

Nothing is downloaded: `dot` and matplotlib run locally. `make diagrams` calls this.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = ROOT / "bench" / "results" / "latency.json"
TIMELINE = "session-timeline.png"
DPI = 96
# The activation drawn on the timeline. The figures around it are the benchmark's; the
# activation's own length is only the frame and does not change any interval.
ACTIVATION_MINUTES = 60.0


def render_dot(source: Path, out_dir: Path) -> Path:
    dot = shutil.which("dot")
    if dot is None:
        raise SystemExit("diagrams: `dot` not found; install Graphviz (apt-get install graphviz)")
    target = out_dir / f"{source.stem}.png"
    subprocess.run([dot, "-Tpng", f"-Gdpi={DPI}", str(source), "-o", str(target)], check=True)
    return target


def _p(block: dict[str, Any], name: str, q: str = "p50") -> float:
    return float(block[name][q])


def render_timeline(figures: dict[str, Any], target: Path) -> Path:
    """Two lanes on one minute scale: Entra's SCIM path and the bridge's, for one activation.

    The post-expiry window of each path is drawn to scale from the benchmark's p50 (bar) and
    p95 (whisker). The bridge's window is a few seconds, so an inset repeats the first seconds
    after the PIM end at a readable scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bridge, native = figures["bridge"], figures["native_scim"]
    end = ACTIVATION_MINUTES
    n_access = _p(native, "activation_to_access_s") / 60
    n_window = _p(native, "post_expiry_window_s") / 60
    n_window95 = _p(native, "post_expiry_window_s", "p95") / 60
    b_access = _p(bridge, "activation_to_access_s") / 60
    b_member = _p(bridge, "end_to_membership_gone_s")
    b_assign = _p(bridge, "end_to_assignment_deleted_s")
    b_deny = _p(bridge, "end_to_denial_provisioned_s")
    b_deny95 = _p(bridge, "end_to_denial_provisioned_s", "p95")

    fig, ax = plt.subplots(figsize=(11, 4.6), dpi=DPI)
    lanes = {"Entra SCIM provisioning\n(modelled)": 1.0, "pim-bridge\n(measured)": 0.0}
    green, red, grey = "#4d8f4d", "#c0392b", "#9e9e9e"
    h = 0.34

    # SCIM lane: waiting for export, access, then the window after the PIM end.
    y = lanes["Entra SCIM provisioning\n(modelled)"]
    ax.barh(y, n_access, left=0, height=h, color=grey, alpha=0.5)
    ax.barh(y, end - n_access, left=n_access, height=h, color=green)
    ax.barh(y, n_window, left=end, height=h, color=red)
    ax.errorbar(
        end + n_window, y, xerr=[[0], [n_window95 - n_window]], color="black", capsize=4, lw=1
    )
    ax.text(
        n_access + 1,
        y,
        f"access after SCIM export (p50 {n_access:.1f} min)",
        va="center",
        color="white",
        fontsize=9,
    )
    ax.text(
        end + n_window / 2,
        y,
        f"access after PIM end: p50 {n_window:.0f} min (p95 {n_window95:.0f})",
        ha="center",
        va="center",
        color="white",
        fontsize=9,
    )

    # Bridge lane.
    y = lanes["pim-bridge\n(measured)"]
    ax.barh(y, b_access, left=0, height=h, color=grey, alpha=0.5)
    ax.barh(y, end - b_access, left=b_access, height=h, color=green)
    ax.barh(y, b_deny / 60, left=end, height=h, color=red)
    ax.text(
        b_access + 1, y, f"access p50 {b_access * 60:.1f} s", va="center", color="white", fontsize=9
    )

    ax.axvline(0, color="black", lw=0.8)
    ax.axvline(end, color="black", lw=1.2, ls="--")
    ax.text(0, 1.55, " PIM activation", fontsize=9, va="bottom")
    ax.text(end, 1.55, " PIM endDateTime", fontsize=9, va="bottom")
    ax.set_yticks(list(lanes.values()), list(lanes.keys()))
    ax.set_ylim(-0.75, 1.75)
    ax.set_xlim(-2, end + n_window95 + 8)
    ax.set_xlabel(f"minutes from activation (a {ACTIVATION_MINUTES:.0f}-minute activation)")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)

    # The bridge's window is seconds wide: repeat it at a readable scale, to the right.
    inset = ax.inset_axes((0.62, 0.1, 0.33, 0.3))
    steps = [
        ("membership gone", b_member),
        ("assignment deleted", b_assign),
        ("stale sessions denied", b_deny),
    ]
    for i, (label, seconds) in enumerate(steps):
        inset.barh(i, seconds, color=red)
        at = max(seconds, b_deny95) if i == len(steps) - 1 else seconds
        inset.text(at + 0.3, i, f"{label} {seconds:.1f} s", va="center", fontsize=8)
    inset.errorbar(b_deny, 2, xerr=[[0], [b_deny95 - b_deny]], color="black", capsize=3, lw=1)
    inset.set_yticks([])
    inset.set_xlim(0, max(b_deny95, b_deny) * 2.3)
    inset.set_title("pim-bridge after the PIM end (p50 bars, p95 whisker)", fontsize=8)
    inset.set_xlabel("seconds", fontsize=8)
    inset.tick_params(labelsize=7)
    ax.annotate(
        "",
        xy=(end + b_deny / 60, y),
        xytext=(0.62, 0.25),
        textcoords="axes fraction",
        arrowprops={"arrowstyle": "<-", "lw": 0.8},
    )

    title = (
        "Post-expiry window, drawn to scale. pim-bridge: `make bench` "
        f"({figures['grants']} grants, poll {figures['poll_interval_s']:g} s), "
        f"measured {figures.get('measured_at', '?')}.\nEntra SCIM: modelled from its documented "
        "cycle (export 2-10 min, removal within 40 min, then the 1 h session)"
    )
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(target, dpi=DPI, metadata={"Software": None})
    plt.close(fig)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="where to write the PNGs")
    parser.add_argument("--results", type=Path, default=RESULTS, help="latency benchmark JSON")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    written = [render_dot(src, args.out) for src in sorted(HERE.glob("*.dot"))]
    if not args.results.is_file():
        print(f"diagrams: {args.results} not found; run `make bench` first", file=sys.stderr)
        return 1
    figures = json.loads(args.results.read_text())
    written.append(render_timeline(figures, args.out / TIMELINE))
    for path in written:
        print(f"written: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
