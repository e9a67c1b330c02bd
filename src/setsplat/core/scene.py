"""GaussianScene: the one splat model every stage and codec speaks."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from setsplat.core import sh as shlib
from setsplat.core._unit_quats import unit_quaternions
from setsplat.core.axes import RDF, Frame, get_frame
from setsplat.core.errors import SetsplatError
from setsplat.core.rotation import matrix_to_quat, quat_multiply

if TYPE_CHECKING:
    import torch

PARAMETERS = ("means", "quats", "log_scales", "opacity_logits", "sh")


def _finite(array: np.ndarray) -> bool:
    # A float32 sum is one fast pass; it is only non-finite if a value is (or the sum
    # overflows, which the exact check then clears).
    with np.errstate(over="ignore", invalid="ignore"):
        total = array.sum()
    return bool(np.isfinite(total)) or bool(np.isfinite(array).all())


@dataclass(eq=False)
class GaussianScene:
    """N splats in the stored (pre-activation) form of the 3DGS PLY.

    means (N,3); quats (N,4) w,x,y,z; log_scales (N,3); opacity_logits (N,);
    sh (N,K,3), K=(degree+1)², DC first. All float32. ``frame`` says which axes and
    units the numbers are in; ``meta`` carries antialiased, unscaled, provenance, ...;
    ``extras`` keeps per-splat properties we do not interpret (e.g. PLY normals) so
    that a read–write round trip loses nothing. ``verified`` is for codecs whose kernels
    already saw every value finite and every quaternion at unit length: it spares two
    passes over the data.
    """

    means: np.ndarray
    quats: np.ndarray
    log_scales: np.ndarray
    opacity_logits: np.ndarray
    sh: np.ndarray
    frame: Frame = RDF
    meta: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    verified: dataclasses.InitVar[bool] = False

    def __post_init__(self, verified: bool) -> None:
        self.frame = get_frame(self.frame)
        self.means = _float_array("means", self.means, (3,))
        n = self.means.shape[0]
        self.quats = _float_array("quats", self.quats, (4,), n)
        self.log_scales = _float_array("log_scales", self.log_scales, (3,), n)
        self.opacity_logits = _float_array("opacity_logits", self.opacity_logits, (), n)
        self.sh = _float_array("sh", self.sh, (None, 3), n)
        try:
            shlib.degree_of(self.sh.shape[1])
        except ValueError as exc:
            raise SetsplatError(f"sh has shape {self.sh.shape}: {exc}",
                                "SH degree must be 0..3") from None
        for name in () if verified else PARAMETERS:
            if not _finite(getattr(self, name)):
                bad = int((~np.isfinite(getattr(self, name))).reshape(n, -1).any(1).sum())
                raise SetsplatError(f"{bad} splats have NaN or infinite {name}",
                                    "the source is corrupt or its training diverged; "
                                    "drop those splats (--drop-invalid) or re-export it")
        if not verified:
            self.quats = _normalized(self.quats)
        for key, value in self.extras.items():
            if np.asarray(value).shape[:1] != (n,):
                raise SetsplatError(f"extra property {key!r} has {len(value)} values for {n} "
                                    "splats", "give one value per splat")

    # ----- size and derived values -------------------------------------------------
    def __len__(self) -> int:
        return self.means.shape[0]

    @property
    def sh_degree(self) -> int:
        return shlib.degree_of(self.sh.shape[1])

    @property
    def scales(self) -> np.ndarray:
        return np.exp(self.log_scales)

    @property
    def opacities(self) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.opacity_logits))

    @property
    def colors(self) -> np.ndarray:
        """View-independent color (the DC term) in 0..1, clipped."""
        return np.clip(shlib.dc_to_rgb(self.sh[:, 0]), 0.0, 1.0)

    @property
    def nbytes(self) -> int:
        arrays = [getattr(self, name) for name in PARAMETERS] + list(self.extras.values())
        return sum(a.nbytes for a in arrays)

    def bounds(self, percentile: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Axis-aligned (min, max) of the splat centres; ``percentile`` (e.g. 1) trims
        that share at each end, which ignores stray floaters."""
        if len(self) == 0:
            raise SetsplatError("the scene has no splats", "nothing to measure")
        if percentile:
            low, high = np.percentile(self.means, [percentile, 100 - percentile], axis=0)
            return low.astype(np.float64), high.astype(np.float64)
        return self.means.min(0).astype(np.float64), self.means.max(0).astype(np.float64)

    # ----- building new scenes -----------------------------------------------------
    def replace(self, **changes: Any) -> GaussianScene:
        """A new scene with some fields replaced (``meta`` and ``extras`` are copied)."""
        changes.setdefault("meta", dict(self.meta))
        changes.setdefault("extras", dict(self.extras))
        return dataclasses.replace(self, **changes)

    def subset(self, index: np.ndarray | Sequence[int] | slice) -> GaussianScene:
        """The splats picked by a boolean mask, integer indices or a slice."""
        if not isinstance(index, slice):
            index = np.asarray(index)
            if index.dtype == bool and index.shape != (len(self),):
                raise SetsplatError(f"mask has {index.shape} entries for {len(self)} splats",
                                    "give one boolean per splat")
        picked = {name: getattr(self, name)[index] for name in PARAMETERS}
        extras = {key: value[index] for key, value in self.extras.items()}
        return self.replace(**picked, extras=extras)

    def with_sh_degree(self, degree: int) -> GaussianScene:
        """Drop higher SH bands, or pad with zeros up to ``degree``."""
        if not 0 <= degree <= shlib.MAX_DEGREE:
            raise SetsplatError(f"SH degree {degree} is out of range", "use 0, 1, 2 or 3")
        k = shlib.num_coeffs(degree)
        if k <= self.sh.shape[1]:
            return self.replace(sh=np.ascontiguousarray(self.sh[:, :k]))
        sh = np.zeros((len(self), k, 3), np.float32)
        sh[:, : self.sh.shape[1]] = self.sh
        return self.replace(sh=sh)

    @classmethod
    def concat(cls, scenes: Sequence[GaussianScene]) -> GaussianScene:
        """Splats of several scenes in one; they must share a frame. SH bands are padded
        to the highest degree; extras survive only when every scene has them."""
        if not scenes:
            raise SetsplatError("nothing to concatenate", "give at least one scene")
        frame = scenes[0].frame
        if any(s.frame != frame for s in scenes):
            raise SetsplatError("scenes are in different frames",
                                "convert them to one frame first (setsplat.core.frames)")
        degree = max(s.sh_degree for s in scenes)
        padded = [s.with_sh_degree(degree) for s in scenes]
        common = set.intersection(*(set(s.extras) for s in scenes))
        return cls(
            **{name: np.concatenate([getattr(s, name) for s in padded]) for name in PARAMETERS},
            frame=frame,
            meta=dict(scenes[0].meta),
            extras={k: np.concatenate([s.extras[k] for s in scenes]) for k in sorted(common)},
        )

    def transform(
        self,
        matrix: np.ndarray | None = None,
        *,
        rotation: np.ndarray | None = None,
        translation: np.ndarray | Sequence[float] = (0.0, 0.0, 0.0),
        scale: float = 1.0,
    ) -> GaussianScene:
        """Apply a similarity, given as a 4x4 matrix or as rotation/translation/scale.

        The scene stays in its frame; to change frames use ``frames.convert_scene``.
        """
        if matrix is not None:
            matrix = np.asarray(matrix, dtype=np.float64)
            if matrix.shape != (4, 4) or not np.allclose(matrix[3], [0, 0, 0, 1]):
                raise SetsplatError("the transform must be a 4x4 affine matrix",
                                    "give rows [R*s | t] and a last row 0 0 0 1")
            scale, orthogonal = check_similarity(matrix[:3, :3])
            translation = matrix[:3, 3]
        else:
            orthogonal = np.eye(3) if rotation is None else np.asarray(rotation, np.float64)
            check_similarity(orthogonal)
            if not scale > 0:
                raise SetsplatError(f"scale must be positive, got {scale}", None)
        return self.apply_similarity(orthogonal, scale, np.asarray(translation, np.float64))

    def apply_similarity(self, orthogonal: np.ndarray, scale: float, translation: np.ndarray,
                         frame: Frame | None = None) -> GaussianScene:
        """Map every splat by ``x -> scale * Q @ x + t`` (Q may be a reflection).

        A splat's covariance R S² Rᵀ becomes s² Q R S² Rᵀ Qᵀ. That is quadratic in Q, so
        with P = ±Q chosen to be a rotation it equals s² (P R) S² (P R)ᵀ: rotations compose
        with P, scales gain log(s), and only the SH (odd degrees flip) see the reflection.
        """
        q = np.asarray(orthogonal, dtype=np.float64)
        proper = q * np.sign(np.linalg.det(q))
        quats = quat_multiply(matrix_to_quat(proper), self.quats.astype(np.float64))
        means = scale * self.means.astype(np.float64) @ q.T + np.asarray(translation, np.float64)
        sh = shlib.transform_sh(self.sh, q)
        return self.replace(
            means=means.astype(np.float32),
            quats=quats.astype(np.float32),
            log_scales=(self.log_scales + np.float32(np.log(scale))).astype(np.float32),
            sh=sh,
            frame=self.frame if frame is None else frame,
        )

    # ----- torch ---------------------------------------------------------------------
    def to_torch(self, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
        """Tensors for rendering and training, sharing memory on the CPU."""
        import torch

        return {name: torch.from_numpy(getattr(self, name)).to(device) for name in PARAMETERS}

    @classmethod
    def from_torch(
        cls,
        tensors: Mapping[str, torch.Tensor],
        frame: Frame | str = RDF,
        meta: dict[str, Any] | None = None,
    ) -> GaussianScene:
        arrays = {name: tensors[name].detach().to("cpu", dtype=_torch_float32()).numpy()
                  for name in PARAMETERS}
        return cls(**arrays, frame=frame, meta=dict(meta or {}))

    @classmethod
    def empty(cls, sh_degree: int = 0, frame: Frame | str = RDF) -> GaussianScene:
        k = shlib.num_coeffs(sh_degree)
        z = np.zeros
        return cls(z((0, 3)), z((0, 4)), z((0, 3)), z((0,)), z((0, k, 3)), frame=frame)


def _torch_float32() -> Any:
    import torch

    return torch.float32


def _float_array(name: str, value: Any, tail: tuple, n: int | None = None) -> np.ndarray:
    try:
        array = np.ascontiguousarray(value, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise SetsplatError(f"{name} is not numeric: {exc}", None) from None
    expect = "(N, " + ", ".join("K" if d is None else str(d) for d in tail) + ")"
    shape_ok = array.ndim == 1 + len(tail) and all(
        d is None or d == s for d, s in zip(tail, array.shape[1:])
    )
    if not shape_ok or (n is not None and array.shape[0] != n):
        raise SetsplatError(f"{name} has shape {array.shape}, expected {expect}"
                            + ("" if n is None else f" with N={n}"), None)
    return array


def _normalized(quats: np.ndarray) -> np.ndarray:
    unit, zeros = unit_quaternions(quats)
    if zeros:
        raise SetsplatError(f"{zeros} splats have a zero rotation quaternion",
                            "the source is corrupt; drop those splats (--drop-invalid)")
    return unit


def check_similarity(linear: np.ndarray) -> tuple[float, np.ndarray]:
    """Split a 3x3 linear map into (scale, orthogonal); refuse shear and non-uniform scale."""
    linear = np.asarray(linear, dtype=np.float64)
    scale = abs(np.linalg.det(linear)) ** (1 / 3)
    if not scale > 0:
        raise SetsplatError("the transform collapses space (determinant 0)",
                            "give a rotation, uniform scale and translation")
    q = linear / scale
    if not np.allclose(q @ q.T, np.eye(3), atol=1e-5):
        raise SetsplatError("the transform has shear or non-uniform scale",
                            "Gaussian splats can only take a rotation, uniform scale and "
                            "translation (reflections are fine)")
    return scale, q
