"""The sRGB transfer function, both ways (IEC 61966-2-1).

Splats are trained on display-referred sRGB photos, so their colors are sRGB values;
glTF's ``COLOR_n`` vertex attributes and EXR plates hold linear values. Conversions
between the two go through here.
"""

from __future__ import annotations

import numpy as np


def srgb_to_linear(rgb: np.ndarray) -> np.ndarray:
    """Display sRGB values (0..1) to linear light."""
    rgb = np.asarray(rgb)
    return np.where(rgb <= 0.04045, rgb / 12.92, ((np.maximum(rgb, 0.04045) + 0.055)
                                                   / 1.055) ** 2.4)


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """Linear light (0..1) to display sRGB values."""
    linear = np.asarray(linear)
    return np.where(linear <= 0.0031308, linear * 12.92,
                    1.055 * np.maximum(linear, 0.0031308) ** (1 / 2.4) - 0.055)
