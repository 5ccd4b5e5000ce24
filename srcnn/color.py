"""Luma and chroma as the super-resolution literature computes them (MATLAB's ``rgb2ycbcr``).

ITU-R BT.601 with studio swing: Y in [16, 235], Cb/Cr in [16, 240], for 8-bit RGB in [0, 255].
Every luma in the project (tiles, metrics, the model's input) comes from here, and so does what a
colour model sees: ``ycbcr_planes``, the same conversion on a batch of tensors, divided by 255.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    import torch

_RGB_TO_YCBCR = np.array([[65.481, 128.553, 24.966], [-37.797, -74.203, 112.0], [112.0, -93.786, -18.214]]) / 255.0
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


def ycbcr_to_rgb_float(ycbcr: np.ndarray) -> np.ndarray:
    """H×W×3 float YCbCr → H×W×3 float64 RGB in [0, 255], clipped, not rounded (16-bit photos)."""
    return ((np.asarray(ycbcr, dtype=np.float64) - _OFFSET) @ _YCBCR_TO_RGB.T).clip(0, 255)


def to_gray_float(rgb: np.ndarray) -> np.ndarray:
    """``to_gray_u8`` neither rounded nor made 8-bit: float64 gray levels in [0, 255] (16-bit photos)."""
    return ((rgb_to_y(rgb) - _OFFSET[0]) * 255.0 / 219.0).clip(0, 255)


def to_luma_u8(rgb_or_gray: np.ndarray) -> np.ndarray:
    """A photo (RGB or already single-channel) as rounded uint8 luma."""
    if rgb_or_gray.ndim == 2:
        return np.asarray(rgb_or_gray, dtype=np.uint8)
    return np.round(rgb_to_y(rgb_or_gray)).clip(0, 255).astype(np.uint8)


def jpeg_luma(rgb: np.ndarray) -> np.ndarray:
    """A JPEG encoder's own full-range luma (ITU-R 601, as libjpeg converts), rounded: what a JPEG of
    ``rgb`` (H×W×3, or H×W as it is) quantizes."""
    if rgb.ndim == 2:
        return np.asarray(rgb, dtype=np.uint8)
    return np.asarray(Image.fromarray(np.ascontiguousarray(rgb[..., :3])).convert("L"))


def is_gray(rgb: np.ndarray) -> bool:
    """Whether a photo holds no colour: one channel, or R = G = B at every pixel."""
    return rgb.ndim == 2 or bool((rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all())


def to_gray_u8(rgb: np.ndarray) -> np.ndarray:
    """H×W×3 RGB → the H×W uint8 gray levels whose R = G = B have the same luma (a gray photo's
    output: for R = G = B it gives back that level)."""
    return np.round((rgb_to_y(rgb) - _OFFSET[0]) * 255.0 / 219.0).clip(0, 255).astype(np.uint8)


def ycbcr_planes(rgb: torch.Tensor) -> torch.Tensor:
    """N×3×H×W RGB in [0, 1] → N×3×H×W YCbCr divided by 255 (``rgb_to_ycbcr`` on tensors, any
    device and float type): what a colour model sees and predicts."""
    matrix, offset = rgb.new_tensor(_RGB_TO_YCBCR), rgb.new_tensor(_OFFSET / 255.0)
    return (rgb.movedim(-3, -1) @ matrix.T + offset).movedim(-1, -3)


def rgb_planes(ycbcr: torch.Tensor) -> torch.Tensor:
    """The inverse of ``ycbcr_planes``: N×3×H×W RGB in [0, 1], neither rounded nor clipped."""
    matrix, offset = ycbcr.new_tensor(_YCBCR_TO_RGB), ycbcr.new_tensor(_OFFSET / 255.0)
    return ((ycbcr.movedim(-3, -1) - offset) @ matrix.T).movedim(-1, -3)
