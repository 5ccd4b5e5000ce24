"""The degradation a photo goes through: resize to a working size, optional super-resolution loss
(bicubic down and up by ``scale``), then JPEG compression at ``jpeg_quality``, decoded back.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

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
        raise TypeError(
            f"degrade takes one JPEG quality (a whole number) or None, got {jpeg_quality!r}; "
            f"for a range, draw the photo's quality with srcnn.jpeg.photo_quality"
        )
    degraded = bicubic_down_up(clean, scale)
    if jpeg_quality is not None:
        degraded = jpeg_roundtrip(degraded, jpeg_quality)
    return degraded
