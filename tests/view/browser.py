"""Headless Chromium for the viewer tests: Debian's /usr/bin/chromium driven by
Playwright, with SwiftShader's software WebGL, never a downloaded browser."""

from __future__ import annotations

import contextlib
import io
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--no-sandbox",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run"]
# Everything over the WebGL canvas (viser's panel, notices, labels) hidden for a screenshot
# of the view alone; the canvas itself stays visible.
CANVAS_ONLY = ("* { visibility: hidden !important; } "
               "canvas[data-engine] { visibility: visible !important; }")


@contextlib.contextmanager
def chromium() -> Iterator[object]:
    """A fresh headless Chromium (its own user-data folder), closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), headless=True, args=FLAGS,
            viewport={"width": 640, "height": 480})
        try:
            yield context
        finally:
            context.close()


def open_page(context, url: str, width: int, height: int):
    page = context.new_page()
    page.set_viewport_size({"width": width, "height": height})
    page.goto(url)
    page.wait_for_selector("canvas[data-engine]", timeout=120_000)
    return page


def screenshot(page, canvas_only: bool = True) -> np.ndarray:
    """The page as RGB (H, W, 3) uint8; with ``canvas_only`` just the 3D view."""
    from PIL import Image

    style = page.add_style_tag(content=CANVAS_ONLY) if canvas_only else None
    try:
        png = page.screenshot()
    finally:
        if style is not None:
            style.evaluate("node => node.remove()")
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def wait_drawn(page, timeout: float = 180.0, settle: float = 1.0) -> tuple[np.ndarray, float]:
    """Wait until the view shows something and stops changing (viser fades splats in);
    returns the settled screenshot and the seconds until the first drawn one."""
    started = time.monotonic()
    first = None
    previous = screenshot(page)
    blank = previous.copy()
    while time.monotonic() - started < timeout:
        time.sleep(settle)
        image = screenshot(page)
        drawn = np.abs(image.astype(int) - blank).mean() > 2.0
        if drawn and first is None:
            first = time.monotonic() - started
        if drawn and np.array_equal(image, previous):
            return image, first
        previous = image
    raise TimeoutError("the view never settled")


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    error = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0 ** 2 / max(error, 1e-12)))
