"""The proxy mesh's files keep its colors in each format's color space: glTF's COLOR_0
and USD's displayColor linear, OBJ's vertex colors as display values; the readers give
the display values back."""

from __future__ import annotations

import numpy as np
import pytest

from setsplat.core.frames import YUP
from setsplat.mesh import ProxyMesh, read_glb, read_usd_prim, write_glb, write_usd

DISPLAY = np.array([[0.5, 0.04, 1.0], [0.2, 0.8, 0.0], [0.735357, 0.1, 0.3]], np.float32)
LINEAR = [[0.2140411, 0.04 / 12.92, 1.0], [0.0331048, 0.6038273, 0.0],
          [0.5, 0.0100228, 0.0732390]]


@pytest.fixture
def triangle() -> ProxyMesh:
    vertices = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], np.float32)
    normals = np.tile(np.array([[0, 0, 1]], np.float32), (3, 1))
    return ProxyMesh(vertices, np.array([[0, 1, 2]], np.uint32), DISPLAY, normals, YUP,
                     False)


def test_usd_display_color_is_linear(tmp_path, triangle):
    from pxr import Usd, UsdGeom

    write_usd(tmp_path / "proxy.usda", triangle)
    stage = Usd.Stage.Open(str(tmp_path / "proxy.usda"))
    prim = stage.GetPrimAtPath("/Proxy/Mesh")
    stored = np.asarray(UsdGeom.Mesh(prim).GetDisplayColorAttr().Get())
    np.testing.assert_allclose(stored, LINEAR, atol=2e-6)
    np.testing.assert_allclose(read_usd_prim(prim).colors, DISPLAY, atol=2e-6)


def test_glb_color_0_reads_back_as_display_values(tmp_path, triangle):
    write_glb(tmp_path / "proxy.glb", triangle)
    np.testing.assert_allclose(read_glb(tmp_path / "proxy.glb").colors, DISPLAY, atol=2e-6)
