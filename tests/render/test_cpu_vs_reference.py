"""The fast CPU backend against the plain PyTorch reference: images and every gradient."""

from __future__ import annotations

import pytest
import torch

from setsplat.render import rasterize, reference
from tests.render.helpers import H, W, intrinsics, leaves, splats, views


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    scale = b.abs().max().item()
    return (a - b).abs().max().item() / (scale if scale > 0 else 1.0)


def _compare(params, viewmats, ks, *, tol=1e-4, loss_on=("rgb", "alpha", "depth"), **options):
    """Render with both, backprop the same random loss of the ``loss_on`` images, compare
    everything."""
    ours_in, ref_in = leaves(params), leaves(params)
    ours = rasterize(*ours_in, viewmats, ks, W, H, **options)
    ours.means2d.retain_grad()
    rgb, alpha, depth, median, ref_means2d = reference.render(*ref_in, viewmats, ks, W, H,
                                                              **options)
    for mine, truth in ((ours.rgb, rgb), (ours.alpha, alpha), (ours.depth, depth),
                        (ours.median_depth, median)):
        assert mine.shape == truth.shape
        assert _relative(mine.detach(), truth.detach()) <= tol
    g = torch.Generator().manual_seed(1)
    names = ("rgb", "alpha", "depth")
    weights = [torch.randn(t.shape, generator=g, dtype=t.dtype) for t in (rgb, alpha, depth)]
    for images in ((getattr(ours, name) for name in names), (rgb, alpha, depth)):
        sum((o * w).sum() for o, w, name in zip(images, weights, names)
            if name in loss_on).backward()
    for name, mine, truth in zip(("means", "quats", "scales", "opacities", "colors"),
                                 ours_in, ref_in):
        expected = torch.zeros_like(truth) if truth.grad is None else truth.grad  # no path
        assert _relative(mine.grad, expected) <= tol, name
    truth2d = torch.stack([m.grad for m in ref_means2d])
    assert _relative(ours.means2d.grad, truth2d) <= tol
    return ours, alpha


@pytest.mark.parametrize("degree", [0, 1, 3])
def test_sh_scene_matches_reference(degree):
    _, alpha = _compare(splats(degree=degree, seed=degree), views()[:1], intrinsics(1),
                           sh_degree=degree)
    assert alpha.mean() > 0.3  # the scene really covers the image


@pytest.mark.parametrize("image", ["rgb", "alpha", "depth"])
def test_a_loss_of_one_image_alone(image):
    """The images left out of the loss get no gradient at all (not zeros), which the
    backward pass reads as zeros."""
    bg = torch.tensor([[0.2, 0.4, 0.6]], dtype=torch.float64)
    _compare(splats(seed=7), views()[:1], intrinsics(1), sh_degree=3, backgrounds=bg,
             loss_on=(image,))


def test_three_cameras_one_mirrored_with_backgrounds_and_antialiasing():
    bg = torch.tensor([[0.1, 0.5, 0.9], [1.0, 0.0, 0.0], [0.2, 0.2, 0.2]], dtype=torch.float64)
    _compare(splats(seed=3), views(), intrinsics(3), sh_degree=3, backgrounds=bg,
             antialiased=True)


def test_plain_colors_with_more_channels():
    params = splats(seed=4)
    params["colors"] = torch.rand(300, 5, dtype=torch.float64)
    _compare(params, views()[:2], intrinsics(2))


def test_behind_camera_huge_tiny_and_off_screen_splats():
    params = splats(n=200, seed=5)
    means, scales = params["means"], params["scales"]
    means[:40, 2] = -means[:40, 2]  # behind the camera
    means[40:45, 2] = 0.005  # between camera and near plane
    scales[45:55] = 3.0  # huge: cover the whole image
    scales[55:80] = 1e-4  # tiny: sub-pixel, only the 0.3 px blur is left
    means[80:110, 0] += 30.0  # far off to the side
    means[110:120, 1] -= 6.0  # just above the top edge: footprints clipped
    _compare(params, views()[:1], intrinsics(1), sh_degree=3, near_plane=0.01)


def test_empty_images():
    params = splats(n=50, seed=6)
    params["means"][:, 2] = -5.0  # everything behind the camera
    ours, _ = _compare(params, views()[:1], intrinsics(1), sh_degree=3)
    assert ours.alpha.abs().max() == 0
    assert not ours.visibility.any()
    empty = {k: v[:0] for k, v in splats(seed=7).items()}
    out = rasterize(*leaves(empty), views(), intrinsics(3), W, H, sh_degree=3)
    assert out.rgb.shape == (3, H, W, 3) and out.rgb.abs().max() == 0


def test_float32_matches_float64_reference():
    params = splats(seed=8)
    ours = rasterize(*[p.float() for p in leaves(params)], views().float(),
                     intrinsics(3).float(), W, H, sh_degree=3)
    rgb, *_ = reference.render(*leaves(params), views(), intrinsics(3), W, H, sh_degree=3)
    assert ours.rgb.dtype == torch.float32
    assert _relative(ours.rgb.double(), rgb.detach()) <= 1e-4


def test_gradcheck_on_a_tiny_scene():
    params = splats(n=6, seed=9, depth=3.0, max_opacity=0.8)
    params["means"][:, :2] *= 0.15  # all in the small view, overlapping
    params["scales"] = params["scales"] * 2
    inputs = leaves(params)
    viewmats, ks = views()[:2], intrinsics(2)

    def images(*tensors):
        out = rasterize(*tensors, viewmats, ks, 16, 12, sh_degree=3, antialiased=True)
        return out.rgb, out.alpha, out.depth

    ks = ks.clone()
    ks[:, 0, 2], ks[:, 1, 2] = 8.0, 6.0
    assert images(*inputs)[1].max() > 0.5  # the splats are in view
    assert torch.autograd.gradcheck(images, inputs, eps=1e-6, atol=1e-6, rtol=1e-4)


def test_float32_gradients_match_float64_reference():
    """Training runs in float32: its gradients stay close to the float64 truth."""
    params = splats(seed=10, max_opacity=0.95)
    ours_in = [p.detach().float().requires_grad_() for p in leaves(params)]
    ref_in = leaves(params)
    ours = rasterize(*ours_in, views().float(), intrinsics(3).float(), W, H, sh_degree=3)
    rgb, *_ = reference.render(*ref_in, views(), intrinsics(3), W, H, sh_degree=3)
    weights = torch.randn(rgb.shape, generator=torch.Generator().manual_seed(2),
                          dtype=torch.float64)
    (ours.rgb * weights.float()).sum().backward()
    (rgb * weights).sum().backward()
    for name, mine, truth in zip(("means", "quats", "scales", "opacities", "colors"),
                                 ours_in, ref_in):
        assert _relative(mine.grad.double(), truth.grad) <= 1e-3, name


def _gradients(inputs: list[torch.Tensor]) -> list[torch.Tensor]:
    grads = [p.grad.clone() for p in inputs]
    for p in inputs:
        p.grad = None
    return grads


def test_renders_awaiting_their_backward_keep_their_own_records():
    """The forward pass leaves per-contribution records for the backward in pooled
    buffers: two renders made before either backward (different scenes, so different
    records), then both backward passes, give each scene exactly the gradients it gets
    alone; a backward run twice (retain_graph) gives the same gradients twice."""
    viewmats, ks = views()[:1], intrinsics(1)
    scenes = [leaves(splats(seed=s)) for s in (11, 12)]
    alone = []
    for inputs in scenes:
        rasterize(*inputs, viewmats, ks, W, H, sh_degree=3).rgb.sum().backward()
        alone.append(_gradients(inputs))
    first, second = (rasterize(*inputs, viewmats, ks, W, H, sh_degree=3) for inputs in scenes)
    second.rgb.sum().backward(retain_graph=True)
    again = _gradients(scenes[1])
    first.rgb.sum().backward()
    second.rgb.sum().backward()
    for inputs, expected in zip(scenes, alone):
        for got, want in zip(_gradients(inputs), expected):
            assert torch.equal(got, want)
    for got, want in zip(again, alone[1]):
        assert torch.equal(got, want)
