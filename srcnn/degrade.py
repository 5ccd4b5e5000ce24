"""The degradation a photo goes through: resize to a working size, optional super-resolution loss
(bicubic down and up by ``scale``), then JPEG compression at ``jpeg_quality``, decoded back; and
``jpeg_history``, which tells a photo that went through a JPEG already from its pixels alone.
"""
from __future__ import annotations

import io

import numpy as np
from PIL import Image

from .color import to_luma_u8
from .jpeg import is_range


def fit_long_side(rgb: np.ndarray, max_side: int) -> np.ndarray:
    """Shrink (antialiased, never enlarge) so that the long side is at most ``max_side``."""
    height, width = rgb.shape[:2]
    if max(height, width) <= max_side:
        return rgb
    factor = max_side / max(height, width)
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0))


def crop_to_multiple(rgb: np.ndarray, scale: int) -> np.ndarray:
    """Crop the bottom/right so both sides divide by ``scale`` (the literature's "modcrop")."""
    height, width = rgb.shape[:2]
    return rgb[: height - height % scale, : width - width % scale]


def bicubic_down_up(rgb: np.ndarray, scale: int) -> np.ndarray:
    """Lose detail as a low-resolution camera would: bicubic down by ``scale``, bicubic back up."""
    if scale == 1:
        return rgb
    height, width = rgb.shape[:2]
    if height % scale or width % scale:
        raise ValueError(f"image {width}×{height} does not divide by scale {scale}; crop_to_multiple first")
    image = Image.fromarray(rgb)
    small = image.resize((width // scale, height // scale), Image.Resampling.BICUBIC)
    return np.asarray(small.resize((width, height), Image.Resampling.BICUBIC))


def jpeg_roundtrip(rgb: np.ndarray, quality: int) -> np.ndarray:
    """Encode as baseline JPEG at ``quality`` (4:2:0, as cameras and the seed did) and decode back."""
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=quality, subsampling=2, optimize=False)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return np.asarray(decoded.convert(Image.fromarray(rgb).mode))


def degrade(clean: np.ndarray, scale: int = 1, jpeg_quality: int | None = 20) -> np.ndarray:
    """The degraded version of a clean photo (whose sides divide by ``scale``), at one JPEG quality
    (or none). For a ``jpeg_quality`` range in params, draw each photo's quality with
    ``srcnn.jpeg.photo_quality`` first."""
    if is_range(jpeg_quality):
        raise TypeError(f"degrade takes one JPEG quality (a whole number) or None, got {jpeg_quality!r}; "
                        f"for a range, draw the photo's quality with srcnn.jpeg.photo_quality")
    degraded = bicubic_down_up(clean, scale)
    if jpeg_quality is not None:
        degraded = jpeg_roundtrip(degraded, jpeg_quality)
    return degraded


def jpeg_history(rgb: np.ndarray, qualities: range = range(5, 98), size: int = 256,
                 excess_db: float = 6.0) -> int | None:
    """The JPEG quality whose decoded pixels ``rgb`` are (a PNG or screenshot saved from a JPEG,
    uncropped and unscaled), or None when its pixels show no such history.

    A decoded JPEG saved again at its own quality (on the same 8×8 grid) comes back nearly as it
    was, so the luma PSNR of saving it again jumps at that quality above its neighbours'. Set5's
    woman.png: 67.2 dB at quality 75, 47.9 and 48.0 dB at 72 and 78; a photo never compressed
    gives a smooth curve. Read from the top-left ``size`` px (where the grid starts): the quality
    whose PSNR is at least ``excess_db`` above the mean of those 3 below and 3 above it."""
    crop = np.ascontiguousarray(rgb[:size - size % 16, :size - size % 16])
    luma = to_luma_u8(crop).astype(np.float64)

    def psnr(quality: int) -> float:
        mse = float(np.mean((to_luma_u8(jpeg_roundtrip(crop, quality)).astype(np.float64) - luma) ** 2))
        return 10 * np.log10(255.0 ** 2 / max(mse, 1e-10))

    curve = {quality: psnr(quality) for quality in range(max(1, qualities.start - 3), min(100, qualities.stop + 2) + 1)}
    excess = {quality: curve[quality] - (curve[quality - 3] + curve[quality + 3]) / 2
              for quality in qualities if quality - 3 in curve and quality + 3 in curve}
    best = max(excess, key=excess.get)
    return best if excess[best] >= excess_db else None
