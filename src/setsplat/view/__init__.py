"""The viewer: scenes, runs and assets in the browser (viser serves, the browser draws
the splats), live training, and the page of ``export web``.

``viewer = view("run-folder", ViewOptions(port=0))``, then ``serve_forever(viewer)``;
``LiveTraining(Viewer())`` is a training observer; ``WebPage(...)`` writes the page.
"""

from .live import LiveTraining
from .server import Viewer, ViewOptions
from .show import serve_forever, show_target, view
from .splats import DEFAULT_BUDGET, splat_arrays
from .target import ViewTarget, open_target

__all__ = ["DEFAULT_BUDGET", "LiveTraining", "ViewOptions", "ViewTarget", "Viewer",
           "open_target", "serve_forever", "show_target", "splat_arrays", "view"]
