"""Render a report.html in headless Chromium to a PNG (the README's screenshot).

    python tools/report_screenshot.py build/demo/cpu/report.html report.png [--full-page] [--colors 128]

Needs Debian's chromium (/usr/bin/chromium) and the playwright package (the test extra).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import sync_playwright


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", type=Path)
    parser.add_argument("png", type=Path)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=1400)
    parser.add_argument("--full-page", action="store_true")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--colors", type=int, default=None,
                        help="Reduce to this many colours (a README image a third of the size).")
    args = parser.parse_args()
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": args.width, "height": args.height})
        page.goto(args.page.resolve().as_uri())
        page.screenshot(path=str(args.png), full_page=args.full_page)
        browser.close()
    if args.colors:
        from PIL import Image

        with Image.open(args.png) as shot:
            reduced = shot.convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=args.colors)
        reduced.save(args.png, optimize=True)
    print(f"wrote {args.png}")


if __name__ == "__main__":
    main()
