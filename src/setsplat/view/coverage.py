"""SfM's coverage in the viewer: the set's outline at camera height, green where enough
photos saw it, orange where few did, red where none did, a label at each place to
reshoot, and the top-down map in the panel — so a tech walks to the wall that is missing
before the set is struck."""

from __future__ import annotations

from typing import Any

import numpy as np

from setsplat.view.server import Viewer
from setsplat.view.target import CoverageOverlay

STATUS_COLORS = {"ok": (40, 160, 70), "weak": (240, 150, 0), "unseen": (220, 30, 30)}


def add_coverage(viewer: Viewer, coverage: CoverageOverlay) -> None:
    server = viewer.server
    colors = np.array([STATUS_COLORS.get(s, STATUS_COLORS["unseen"]) for s in coverage.status],
                      np.uint8)
    shown = bool(coverage.reshoot)  # off when all is seen: out of the view through cameras
    nodes = [server.scene.add_line_segments(
        "/coverage/outline", points=coverage.segments.astype(np.float32),
        colors=np.repeat(colors[:, None], 2, axis=1), thickness=4.0,
        thickness_units="screen", visible=shown)]
    for index, (text, where) in enumerate(coverage.reshoot):
        nodes.append(server.scene.add_label(f"/coverage/reshoot_{index}", f"reshoot: {text}",
                                            position=tuple(float(v) for v in where),
                                            visible=shown))
    with server.gui.add_folder("Coverage"):
        toggle = server.gui.add_checkbox("Show coverage outline", initial_value=shown)
        lines = [f"- reshoot: {text}" for text, _ in coverage.reshoot]
        server.gui.add_markdown("\n".join(lines) or "Every side was seen by enough photos.")
        if coverage.top_down is not None:
            server.gui.add_image(coverage.top_down, label="Top-down map")

    @toggle.on_update
    def _(_: Any) -> None:
        for node in nodes:
            node.visible = toggle.value
