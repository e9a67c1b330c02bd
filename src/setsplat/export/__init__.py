"""Exports: a scene (a file or a catalog asset) into a target folder for an engine or a
viewer, in the target's frame and units, with a README and a manifest.

``export("unreal", scene, "out/", ExportOptions(crop=Crop.parse("box:...")))``;
``load_source("Set_Office@3")`` reads a file or an asset.
"""

from setsplat.export.package import Export
from setsplat.export.select import Crop, crop, decimate, select
from setsplat.export.targets import TARGETS, ExportOptions, export, load_source

__all__ = ["TARGETS", "Crop", "Export", "ExportOptions", "crop", "decimate", "export",
           "load_source", "select"]
