"""Luma and chroma as the super-resolution literature computes them (MATLAB's ``rgb2ycbcr``).

ITU-R BT.601 with studio swing: Y in [16, 235], Cb/Cr in [16, 240], for 8-bit RGB in [0, 255].
Every luma in the project (tiles, metrics, the model's input) comes from here.
"""
from __future__ import annotations

import numpy as np

_RGB_TO_YCBCR = np.array([[65.481, 128.553, 24.966],
                          [-37.797, -74.203, 112.0],
                          [112.0, -93.786, -18.214]]) / 255.0
_OFFSET = np.array([16.0, 128.0, 128.0])
_YCBCR_TO_RGB = np.linalg.inv(_RGB_TO_YCBCR)


def rgb_to_y(rgb: np.ndarray) -> np.ndarray:
    """H×W×3 RGB in [0, 255] → H×W float64 luma in [16, 235]."""
    rgb = np.asarray(rgb, dtype=np.float64)
    return rgb @ _RGB_TO_YCBCR[0] + _OFFSET[0]


def rgb_to_ycbcr(rgb: np.ndarray) -> np.ndarray:
    """H×W×3 RGB in [0, 255] → H×W×3 float64 YCbCr."""
    return np.asarray(rgb, dtype=np.float64) @ _RGB_TO_YCBCR.T + _OFFSET


def ycbcr_to_rgb(ycbcr: np.ndarray) -> np.ndarray:
    """H×W×3 float YCbCr → H×W×3 uint8 RGB (rounded and clipped)."""
    rgb = (np.asarray(ycbcr, dtype=np.float64) - _OFFSET) @ _YCBCR_TO_RGB.T
    return np.round(rgb).clip(0, 255).astype(np.uint8)


def to_luma_u8(rgb_or_gray: np.ndarray) -> np.ndarray:
    """A photo (RGB or already single-channel) as rounded uint8 luma."""
    if rgb_or_gray.ndim == 2:
        return np.asarray(rgb_or_gray, dtype=np.uint8)
    return np.round(rgb_to_y(rgb_or_gray)).clip(0, 255).astype(np.uint8)
