"""The QC contact sheet: every image as a thumbnail, problems drawn on in color.

Culled images are dimmed and crossed out; each flag is a colored frame and a labelled
badge; a legend and the counts sit on top, skipped files at the bottom.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from setsplat.capture.manifest import Capture
from setsplat.capture.qc import ImageVerdict

COLORS = {
    "blurry": (230, 40, 40),
    "over-exposed": (255, 150, 0),
    "under-exposed": (150, 70, 220),
    "duplicate": (40, 140, 255),
    "mixed-camera": (240, 220, 0),
    "mixed-size": (0, 200, 190),
    "unreadable": (120, 120, 120),
}
BADGES = {"blurry": "BLUR", "over-exposed": "OVER", "under-exposed": "UNDER",
          "duplicate": "DUP", "mixed-camera": "CAMERA", "mixed-size": "SIZE",
          "unreadable": "UNREADABLE"}
OK_COLOR = (70, 170, 90)
CELL_W, CELL_H, LABEL_H, PAD = 200, 150, 36, 10
BACKGROUND, INK = (28, 28, 30), (235, 235, 235)


@lru_cache(maxsize=8)
def _font(size: int):
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def draw_contact_sheet(capture: Capture, thumbs: list[np.ndarray],
                       verdicts: list[ImageVerdict], summary: dict):
    """A Pillow image of the whole capture."""
    from PIL import Image, ImageDraw

    n = len(thumbs)
    cols = max(4, min(10, math.ceil(math.sqrt(n * 1.4))))
    rows = max(1, math.ceil(n / cols))
    header = 92
    skipped = capture.skipped
    footer = 0 if not skipped else 28 + 18 * min(len(skipped), 12)
    width = PAD + cols * (CELL_W + PAD)
    height = header + rows * (CELL_H + LABEL_H + PAD) + footer + PAD
    sheet = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    _header(draw, capture, summary)
    for i, (thumb, verdict) in enumerate(zip(thumbs, verdicts)):
        x = PAD + (i % cols) * (CELL_W + PAD)
        y = header + (i // cols) * (CELL_H + LABEL_H + PAD)
        _cell(sheet, draw, x, y, i, thumb, verdict)
    if skipped:
        y = height - footer - PAD + 8
        draw.text((PAD, y), f"Skipped {len(skipped)} file(s) at ingest:", font=_font(15),
                  fill=(255, 120, 120))
        for k, item in enumerate(skipped[:12]):
            draw.text((PAD + 12, y + 22 + 18 * k), f"{item['source']}: {item['reason']}",
                      font=_font(13), fill=INK)
        if len(skipped) > 12:
            draw.text((width // 2, y), f"(+{len(skipped) - 12} more in qc.json)",
                      font=_font(13), fill=INK)
    return sheet


def _header(draw, capture: Capture, summary: dict) -> None:
    title = (f"{capture.root.name}: {summary['images']} images, {summary['used']} used, "
             f"{summary['culled']} culled, {summary['flagged']} flagged")
    if summary.get("skipped_files"):
        title += f", {summary['skipped_files']} skipped at ingest"
    draw.text((PAD, 10), title, font=_font(20), fill=INK)
    x, y = PAD, 44
    for kind, color in [("ok", OK_COLOR), *COLORS.items()]:
        label = "no problem" if kind == "ok" else kind
        draw.rectangle([x, y, x + 16, y + 16], fill=color)
        draw.text((x + 22, y + 1), label, font=_font(14), fill=INK)
        x += 34 + int(draw.textlength(label, font=_font(14)))
    draw.text((PAD, y + 24), "dimmed and crossed out = culled (left out of SfM; "
              "'check --keep-all' keeps them)", font=_font(13), fill=(180, 180, 180))


def _cell(sheet, draw, x: int, y: int, index: int, thumb: np.ndarray,
          verdict: ImageVerdict) -> None:
    from PIL import Image

    image = Image.fromarray(thumb)
    image.thumbnail((CELL_W - 8, CELL_H - 8))
    if not verdict.use:
        image = Image.blend(image, Image.new("RGB", image.size, (0, 0, 0)), 0.35)
    ox = x + (CELL_W - image.width) // 2
    oy = y + (CELL_H - image.height) // 2
    sheet.paste(image, (ox, oy))
    kinds = [f.kind for f in verdict.flags]
    frame = COLORS.get(kinds[0], OK_COLOR) if kinds else OK_COLOR
    width = 4 if kinds else 2
    for k in range(width):
        draw.rectangle([x + k, y + k, x + CELL_W - 1 - k, y + CELL_H - 1 - k], outline=frame)
    if not verdict.use:
        red = (235, 50, 50)
        draw.line([ox, oy, ox + image.width, oy + image.height], fill=red, width=4)
        draw.line([ox, oy + image.height, ox + image.width, oy], fill=red, width=4)
        draw.text((x + CELL_W // 2, y + CELL_H // 2), "CULLED", font=_font(22), fill=INK,
                  anchor="mm", stroke_width=2, stroke_fill=(0, 0, 0))
    name = verdict.name.removeprefix("images/")
    if len(name) > 26:
        name = name[:11] + "…" + name[-14:]
    draw.text((x, y + CELL_H + 3), f"{index:>3}  {name}", font=_font(13), fill=INK)
    bx = x
    for kind in dict.fromkeys(kinds):
        text = BADGES.get(kind, kind.upper())
        tw = int(draw.textlength(text, font=_font(12)))
        draw.rectangle([bx, y + CELL_H + 19, bx + tw + 8, y + CELL_H + 34],
                       fill=COLORS.get(kind, OK_COLOR))
        draw.text((bx + 4, y + CELL_H + 20), text, font=_font(12), fill=(0, 0, 0))
        bx += tw + 12
