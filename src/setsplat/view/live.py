"""Training, live: a training observer that pushes the current splats to the viewer every
few seconds, with the loss and PSNR curves and the step count.

The viewer's server runs in its own threads; training only hands it a copy of the
splats now and then. A browser that closes (or never opens) changes nothing for
training, and a viewer that fails is announced once and then left alone.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np

from setsplat.view.server import Viewer, overview_camera

if TYPE_CHECKING:
    from setsplat.reconstruct.train import StepReport

PUSH_EVERY_S = 5.0
CURVE_POINTS = 400  # the curves keep at most this many points (every k-th step)


class LiveTraining:
    """Call it with each ``StepReport`` (it is a ``TrainObserver``)."""

    def __init__(self, viewer: Viewer, every_s: float = PUSH_EVERY_S):
        self.viewer = viewer
        self.every_s = every_s
        self._last_push = -np.inf
        self._steps: list[float] = []
        self._losses: list[float] = []
        self._psnrs: list[float] = []
        self._failed = False
        server = viewer.server
        with server.gui.add_folder("Training"):
            self.progress = server.gui.add_markdown("Waiting for the first step…")
            self.curves = self._plot(server)

    def __call__(self, report: StepReport) -> None:
        if self._failed:
            return
        try:
            self._record(report)
            now = time.monotonic()
            if now - self._last_push >= self.every_s or report.step == report.steps:
                self._last_push = now
                self._push(report)
        except Exception as exc:  # the viewer must never stop training
            self._failed = True
            self.viewer.announce(f"live view stopped ({type(exc).__name__}: {exc}); "
                                 "training goes on")

    def _record(self, report: StepReport) -> None:
        self._steps.append(report.step)
        self._losses.append(report.loss)
        self._psnrs.append(report.psnr)

    def _push(self, report: StepReport) -> None:
        scene = report.scene()
        self.viewer.show_splats(scene, note=f"Training step {report.step:,}")
        if self.viewer.start_camera is None:  # the first splats: look at them from above
            self.viewer.set_start(overview_camera(scene))
        self.progress.content = (f"**Step** {report.step:,} / {report.steps:,}  \n"
                                 f"**Loss** {report.loss:.4f} · **PSNR** {report.psnr:.2f} dB"
                                 f" · **Splats** {report.splats:,}")
        stride = max(1, len(self._steps) // CURVE_POINTS)
        self.curves.data = tuple(np.asarray(values[::stride], np.float64) for values in
                                 (self._steps, self._losses, self._psnrs))

    @staticmethod
    def _plot(server: Any) -> Any:
        empty = np.zeros(0)
        return server.gui.add_uplot(
            data=(empty, empty, empty),
            series=({"label": "step"}, {"label": "loss", "stroke": "#d33", "scale": "loss"},
                    {"label": "PSNR dB", "stroke": "#36c", "scale": "dB"}),
            scales={"x": {"time": False}, "loss": {"auto": True}, "dB": {"auto": True}},
            axes=({}, {"scale": "loss"}, {"scale": "dB", "side": 1}),
            title="Loss and PSNR", aspect=1.6)
