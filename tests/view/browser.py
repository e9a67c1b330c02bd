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
        context.profile_dir = profile  # finds the browser's processes (benchmarks/view.py)
        try:
            yield context
        finally:
            context.close()


def open_page(context, url: str, width: int, height: int):
    """The page at ``url`` once its 3D view is there, with the notice about software
    WebGL dismissed (it would sit over the view)."""
    page = context.new_page()
    page.set_viewport_size({"width": width, "height": height})
    page.goto(url)
    page.wait_for_selector("canvas[data-engine]", timeout=120_000)
    close = page.locator(".mantine-Notification-closeButton")
    with contextlib.suppress(Exception):  # not every browser is told it is slow
        close.first.click(timeout=10_000)
    return page


def view_box(page) -> tuple[int, int, int, int]:
    """Left, top, width and height of the 3D view (the WebGL canvas) in the page."""
    box = page.locator("canvas[data-engine]").bounding_box()
    return (round(box["x"]), round(box["y"]), round(box["width"]), round(box["height"]))


def screenshot(page, canvas_only: bool = True, timeout_ms: float = 120_000) -> np.ndarray:
    """The 3D view as RGB (H, W, 3) uint8, nothing over it (``canvas_only``), or the
    whole page."""
    from PIL import Image

    if not canvas_only:
        return np.asarray(Image.open(io.BytesIO(page.screenshot(timeout=timeout_ms))).convert(
            "RGB"))
    left, top, width, height = view_box(page)
    style = page.add_style_tag(content=CANVAS_ONLY)
    try:
        png = page.screenshot(clip={"x": left, "y": top, "width": width, "height": height},
                              timeout=timeout_ms)
    finally:
        style.evaluate("node => node.remove()")
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def wait_drawn(page, background: np.ndarray | None = None, timeout: float = 180.0,
               every: float = 1.0) -> tuple[np.ndarray, float]:
    """Wait until the view shows splats (differs from the page background) and stops
    changing (viser fades splats in); returns the settled screenshot and the seconds until
    the first drawn one."""
    color = page_background(page) * 255 if background is None else background * 255
    started = time.monotonic()
    first = None
    previous = None
    while time.monotonic() - started < timeout:
        image = screenshot(page)
        drawn = np.abs(image - color).mean() > 4.0
        if drawn and first is None:
            first = time.monotonic() - started
        if drawn and previous is not None and np.abs(
                image.astype(int) - previous).mean() < 0.05:
            return image, first
        previous = image
        time.sleep(every)
    raise TimeoutError("the view never settled")


def settled(page, timeout: float = 120.0) -> np.ndarray:
    """The view once it stops changing."""
    return wait_drawn(page, getattr(page, "background", None), timeout)[0]


def page_background(page, timeout: float = 60.0) -> np.ndarray:
    """The color the view shows where no splat covers it (the page behind the canvas),
    RGB in 0..1: read with the canvas hidden, at the bottom-left corner (no panel there),
    once the page has painted it the same twice."""
    from PIL import Image

    deadline = time.monotonic() + timeout
    previous = None
    while time.monotonic() < deadline:
        style = page.add_style_tag(
            content="canvas[data-engine] { visibility: hidden !important; }")
        try:
            png = page.screenshot()
        finally:
            style.evaluate("node => node.remove()")
        left, top, _, height = view_box(page)
        corner = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))[
            top + height - 20:top + height, left:left + 20]
        color = np.median(corner.reshape(-1, 3), axis=0) / 255.0
        if previous is not None and np.array_equal(color, previous):
            return color
        previous = color
        time.sleep(0.5)
    raise TimeoutError("the page never painted its background")


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    error = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0 ** 2 / max(error, 1e-12)))
