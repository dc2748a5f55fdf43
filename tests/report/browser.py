"""Open a page in headless Chromium (Debian's, driven by playwright) and record what it did."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@dataclass
class Visit:
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    # Every request other than the page itself and data: URLs.
    external_requests: list[str] = field(default_factory=list)
    # Each data-figure element's name, with the share of its pixels that differ from the background.
    figure_ink: dict[str, float] = field(default_factory=dict)


def require_browser() -> None:
    if not Path(CHROMIUM).is_file():
        pytest.skip("chromium is not installed (make browser installs it as root)")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the test extra)")


def visit(page_path: Path, screenshot: Path, width: int = 1280) -> Visit:
    """Load ``page_path``, screenshot the whole page and measure each figure's ink."""
    from playwright.sync_api import sync_playwright

    seen = Visit()
    url = page_path.resolve().as_uri()
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.on("console", lambda m: seen.console_errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: seen.page_errors.append(str(e)))
            page.on("request", lambda r: None if r.url == url or r.url.startswith("data:")
                    else seen.external_requests.append(r.url))
            page.goto(url, wait_until="load")
            page.screenshot(path=str(screenshot), full_page=True)
            boxes = page.eval_on_selector_all(
                "[data-figure]", "els => els.map(e => { const r = e.getBoundingClientRect(); return "
                "[e.dataset.figure, r.left + window.scrollX, r.top + window.scrollY, r.width, r.height]; })")
        finally:
            browser.close()
    shot = np.asarray(Image.open(screenshot).convert("L"), dtype=np.int16)
    for name, left, top, box_width, box_height in boxes:
        region = shot[int(top):int(top + box_height), int(left):int(left + box_width)]
        if region.size == 0:
            seen.figure_ink[name] = 0.0
            continue
        background = np.bincount(region.ravel()).argmax()
        seen.figure_ink[name] = float(np.mean(np.abs(region - background) > 24))
    return seen
