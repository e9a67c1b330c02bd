"""Training parts that need no renderer: losses, config, split, MCMC relocation, floaters."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from setsplat.core.camera import Camera
from setsplat.core.errors import SetsplatError
from setsplat.reconstruct.train.config import TrainConfig
from setsplat.reconstruct.train.data import split
from setsplat.reconstruct.train.floaters import outside_bounds, remove_floaters
from setsplat.reconstruct.train.losses import photometric_loss, psnr, ssim
from setsplat.reconstruct.train.mcmc import covariances, relocation


def test_losses_and_metrics():
    rng = torch.Generator().manual_seed(0)
    a = torch.rand(32, 40, 3, generator=rng)
    assert float(ssim(a, a)) == pytest.approx(1.0, abs=1e-6)
    b = (a + 0.1).clamp(0, 1)
    assert psnr(a, a + 0.0) == math.inf
    noisy = a + 0.01 * torch.randn(a.shape, generator=rng)
    mse = torch.mean((noisy.clamp(0, 1) - a) ** 2).item()
    assert psnr(noisy, a) == pytest.approx(-10 * math.log10(mse), rel=1e-6)
    assert 0 < float(ssim(b, a)) < 1
    loss = photometric_loss(b, a, 0.2)
    expected = 0.8 * torch.abs(b - a).mean() + 0.2 * (1 - ssim(b, a))
    assert float(loss) == pytest.approx(float(expected), rel=1e-6)


def test_config_round_trip_and_errors(tmp_path):
    config = TrainConfig(steps=123, strategy="mcmc", downscale=2)
    config.save(tmp_path / "config.json")
    back = TrainConfig.load(tmp_path / "config.json", steps=456)
    assert back.steps == 456 and back.strategy == "mcmc" and back.downscale == 2
    assert back.lr == config.lr
    with pytest.raises(SetsplatError, match="steps must be at least 1"):
        TrainConfig(steps=0)
    (tmp_path / "bad.json").write_text('{"stepz": 3}')
    with pytest.raises(SetsplatError, match="unknown config keys stepz"):
        TrainConfig.load(tmp_path / "bad.json")


def test_every_eighth_image_is_held_out():
    names = [f"img_{i:03d}.jpg" for i in range(20)][::-1]
    train, held = split(names, 8)
    assert sorted(names[i] for i in held) == ["img_000.jpg", "img_008.jpg", "img_016.jpg"]
    assert len(train) == 17 and not set(train) & set(held)
    assert split(names, 0)[1] == []


def test_relocation_matches_the_paper_double_sum():
    opacities = torch.tensor([0.9, 0.5, 0.05, 0.99, 0.3], dtype=torch.float64)
    counts = torch.tensor([1, 2, 3, 7, 40])
    scales = torch.ones(5, 3, dtype=torch.float64)
    new_o, new_s = relocation(opacities, scales, counts)
    for o, n, o2, s2 in zip(opacities.tolist(), counts.tolist(), new_o.tolist(),
                            new_s[:, 0].tolist()):
        assert (1 - o2) ** n == pytest.approx(1 - o, rel=1e-12)  # same composited opacity
        denominator = sum(math.comb(i - 1, k) * (-1) ** k * o2 ** (k + 1) / math.sqrt(k + 1)
                          for i in range(1, n + 1) for k in range(i))
        assert s2 == pytest.approx(o / denominator, rel=1e-9)
    assert new_s[0, 0].item() == pytest.approx(1.0)  # one copy: unchanged


def test_covariances_from_quaternions():
    quats = torch.tensor([[2.0, 0, 0, 0], [math.cos(0.5), 0, 0, math.sin(0.5)]])
    scales = torch.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    cov = covariances(quats, scales)
    torch.testing.assert_close(cov[0], torch.diag(torch.tensor([1.0, 4.0, 9.0])))
    angle = 1.0  # the quaternion above is a 1 rad turn about z
    rot = torch.tensor([[math.cos(angle), -math.sin(angle), 0],
                        [math.sin(angle), math.cos(angle), 0], [0, 0, 1]])
    torch.testing.assert_close(cov[1], rot @ torch.diag(torch.tensor([1.0, 4, 9])) @ rot.T)


def test_floaters_outside_bounds_and_unseen(scene_factory):
    rng = np.random.default_rng(0)
    points = rng.uniform(-1, 1, (500, 3))
    scene = scene_factory(100, spread=0.5)
    means = scene.means.copy()
    means[0] = [30, 0, 0]  # far outside the SfM box
    means[1] = [0, 0, -1.95]  # inside the grown box (±1.96), but behind the camera
    # 0.4 in front of the camera, centres 10 px right of the image: the wide splat's
    # 3-sigma footprint (14 px) reaches in, the narrow one's (3 px) does not
    means[2] = means[3] = [0.9, 0, -1.5]
    # beside the camera, 23 px right of its view: the photo sees only the splats' tails,
    # the wide one's 3-sigma reaching 42 px (more than half the image: graze_share 0.5),
    # the other's 28 px
    means[4] = means[5] = [0.6, 0, -1.7]
    log_scales = scene.log_scales.copy()
    log_scales[2], log_scales[3] = np.log(0.1), np.log(0.02)
    log_scales[4], log_scales[5] = np.log(0.15), np.log(0.1)
    scene = scene.replace(means=means, log_scales=log_scales)
    camera = Camera.look_at([0, 0, -1.9], [0, 0, 0], width=64, height=64, fov_x_deg=120)
    kept, report = remove_floaters(scene, points, [camera], margin=0.5, graze_share=0.5)
    assert report == {"outside_bounds": 1, "unseen": 2, "grazed": 1}
    assert len(kept) == 96
    for kept_one in (2, 5):  # of each same-place pair, only the expected one is left
        here = np.all(kept.means == means[kept_one], axis=1)
        assert kept.log_scales[here].tolist() == [log_scales[kept_one].tolist()]


def test_the_set_includes_what_lies_between_an_object_and_its_cameras():
    """Around an object the SfM points hold just the object; the backdrop the photos show
    lies between it and the ring of cameras and must stay."""
    points = np.random.default_rng(1).uniform(-0.2, 0.2, (300, 3))
    ring = [Camera.look_at([3 * math.cos(a), 0, 3 * math.sin(a)], [0, 0, 0], width=64,
                           height=64, fov_x_deg=60) for a in np.linspace(0, 2 * math.pi, 8)]
    means = np.array([[0, 0, 1.5], [0, 0, 12.0], [0.5, 0, 0]])
    np.testing.assert_array_equal(outside_bounds(means, points, ring, 0.5), [False, True, False])
    np.testing.assert_array_equal(outside_bounds(means, points, [], 0.5), [True, True, True])


def test_separable_ssim_equals_the_full_window():
    import torch.nn.functional as F

    gen = torch.Generator().manual_seed(3)
    a = torch.rand(40, 50, 3, generator=gen)
    b = (a + 0.1 * torch.randn(a.shape, generator=gen)).clamp(0, 1)
    g = torch.exp(-((torch.arange(11.0) - 5) ** 2) / (2 * 1.5**2))
    g = g / g.sum()
    window = (g[:, None] * g[None]).expand(3, 1, 11, 11)
    x, y = a.permute(2, 0, 1)[None], b.permute(2, 0, 1)[None]

    def blur(t):
        return F.conv2d(t, window, padding=5, groups=3)

    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    full = ((2 * mx * my + 1e-4) * (2 * cxy + 9e-4)) / ((mx**2 + my**2 + 1e-4)
                                                          * (vx + vy + 9e-4))
    assert float(ssim(a, b)) == pytest.approx(float(full.mean()), abs=1e-6)
