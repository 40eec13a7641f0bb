"""Open an HTML report in headless Chromium (Debian's `chromium` package) and save a screenshot,
to check by eye that the report of `make demo` looks right.

    python scripts/screenshot_report.py [out/report.html] [-o out/report.png]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser")
# Everything that would make the browser reach the network or a profile is switched off: the
# report must render from the file alone.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
)


def find_browser() -> str | None:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def screenshot(html: Path, png: Path, width: int = 1400, height: int = 2400) -> Path:
    browser = find_browser()
    if browser is None:
        raise RuntimeError("chromium is not installed (Debian: apt-get install -y chromium)")
    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="report-shot-") as profile:
        proc = subprocess.run(
            [
                browser,
                *FLAGS,
                f"--user-data-dir={profile}",
                f"--window-size={width},{height}",
                f"--screenshot={png.resolve()}",
                html.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    if not png.exists() or png.stat().st_size == 0:
        raise RuntimeError(f"chromium wrote no screenshot (exit {proc.returncode}): {proc.stderr}")
    return png


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("html", nargs="?", default="out/report.html")
    p.add_argument("-o", "--output", default=None, help="PNG path (default: next to the HTML)")
    p.add_argument("--width", type=int, default=1400)
    p.add_argument("--height", type=int, default=2400)
    args = p.parse_args(argv)
    html = Path(args.html)
    png = Path(args.output) if args.output else html.with_suffix(".png")
    try:
        print(screenshot(html, png, args.width, args.height))
    except RuntimeError as exc:
        print(f"screenshot_report: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
