"""The public entry points: input checks, backend choice, the scene helper."""

from __future__ import annotations

import pytest
import torch

from setsplat.core.camera import Camera
from setsplat.core.errors import SetsplatError
from setsplat.core.scene import GaussianScene
from setsplat.render import rasterize, render_scene
from tests.render.helpers import H, W, intrinsics, splats, views


def _args(**changes):
    p = splats(n=20)
    p.update(changes)
    return (p["means"], p["quats"], p["scales"], p["opacities"], p["colors"], views(),
            intrinsics(3), W, H)


@pytest.mark.parametrize("change", [{"quats": torch.ones(20, 3)}, {"opacities": torch.ones(20, 1)},
                                    {"colors": torch.ones(20, 4, 3)}])
def test_bad_shapes_are_value_errors(change):
    with pytest.raises(ValueError):
        rasterize(*_args(**change), sh_degree=3)


def test_backend_choice():
    out = rasterize(*_args(), sh_degree=3)
    assert out.backend == "cpu"
    with pytest.raises(ValueError, match="backend must be one of"):
        rasterize(*_args(), sh_degree=3, backend="metal")
    if not torch.cuda.is_available():
        with pytest.raises(SetsplatError, match="no CUDA GPU"):
            rasterize(*_args(), sh_degree=3, backend="cuda")


def test_info_is_what_gsplat_strategies_read():
    out = rasterize(*_args(), sh_degree=3)
    info = out.info
    assert info["width"] == W and info["height"] == H and info["n_cameras"] == 3
    assert info["gaussian_ids"] is None
    assert info["radii"].shape == (3, 20, 2) and info["means2d"].shape == (3, 20, 2)
    assert out.visibility.shape == (3, 20) and out.visibility.any()


def test_render_scene_handles_empty_scenes_and_sh_degree(scene_factory):
    camera = Camera.look_at([0, 0, -4.0], [0, 0, 0], width=32, height=24)
    empty = render_scene(GaussianScene.empty(3), [camera], background=(0.2, 0.4, 0.6))[0]
    assert torch.allclose(empty.rgb, torch.tensor([0.2, 0.4, 0.6]).expand(1, 24, 32, 3))
    scene = scene_factory(200, degree=3, spread=1.0)
    full, dc = (render_scene(scene, [camera], sh_degree=d)[0] for d in (None, 0))
    assert full.alpha.max() > 0.5
    assert torch.equal(full.alpha, dc.alpha) and not torch.equal(full.rgb, dc.rgb)


def test_images_changed_in_place_keep_the_gradients():
    """The backward keeps its own transmittance and depth sums: a caller's in-place edit
    of the returned images is its own op in the graph, not a corruption of ours."""
    weights = torch.rand((3, H, W, 4), generator=torch.Generator().manual_seed(5))

    def gradients(loss_of) -> list[torch.Tensor]:
        args = _args()
        for t in args[:5]:
            t.requires_grad_(True)
        loss_of(rasterize(*args, sh_degree=3, backgrounds=torch.full((3, 3), 0.25))).backward()
        return [t.grad for t in args[:5]]

    def loss(rgb, depth):
        return (rgb * weights[..., :3]).sum() + (depth * weights[..., 3:]).sum()

    def edited_in_place(out):
        out.rgb.mul_(2.0)
        out.depth.add_(1.0)
        out.alpha.zero_()
        return loss(out.rgb, out.depth)

    edited = gradients(edited_in_place)
    written_out = gradients(lambda out: loss(2.0 * out.rgb, out.depth + 1.0))
    plain = gradients(lambda out: loss(out.rgb, out.depth))
    for got, want, before in zip(edited, written_out, plain):
        torch.testing.assert_close(got, want, rtol=0, atol=0)
        assert not torch.equal(got, before)
