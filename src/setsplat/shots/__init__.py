"""Shots: camera paths through a set asset, plates and conditioning for AI video, AI
clips registered per shot, USD shot stages and OpenTimelineIO timelines.

``new_shot("EP01_SH010", ShotOptions(asset="Set_Office@3", path="orbit"))``,
``render_shot("EP01_SH010")``, ``add_clip("EP01_SH010", "take.mp4", "model / prompt")``,
``write_timeline("EP01", "EP01.otio")``. Everything lives in the asset library.
"""

from .camera_data import camera_record, shot_cameras
from .clips import add_clip
from .create import ShotOptions, new_shot
from .model import Lens, Shot
from .paths import Pose, SetGeometry, evaluate
from .plates import RenderOptions, render_shot
from .stage import asset_tracks, write_shot_stage
from .timeline import build_timeline, write_timeline

__all__ = ["Lens", "Pose", "RenderOptions", "SetGeometry", "Shot", "ShotOptions", "add_clip",
           "asset_tracks", "build_timeline", "camera_record", "evaluate", "new_shot",
           "render_shot", "shot_cameras", "write_shot_stage", "write_timeline"]
