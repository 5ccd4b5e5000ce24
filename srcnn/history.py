"""Whether a photo's pixels were a JPEG before: a PNG, TIFF or screenshot saved from a JPEG.

    jpeg_history(rgb)        # 75: its pixels are a decoded JPEG of quality 75; None: no such history

A file that is no JPEG carries no quantization table (``srcnn.jpeg``), but its pixels can still be
a decoded JPEG, uncropped and unscaled. Saved again at that JPEG's own quality, on the same 8×8
grid, such pixels come back nearly as they were, while a few qualities either side change them as
much as any photo. Set5's woman.png, the luma PSNR of saving it again: 47.9 dB at quality 72,
67.2 dB at 75, 48.0 dB at 78; a photo never compressed gives a smooth curve.
"""
from __future__ import annotations

import numpy as np

from .color import to_luma_u8
from .degrade import jpeg_roundtrip
from .metrics import psnr

# where a jump is looked for (each needs its neighbours 3 below and 3 above); not above 95, where
# steps of 1 and 2 make the curve uneven without any history (urban40's img_001: 54.5 dB at 96, 48.6
# at 97), and where enhance leaves a photo unchanged anyway
QUALITIES = range(5, 96)
EXCESS_DB = 6.0  # how far the PSNR at the photo's own quality rises above its neighbours' mean
SIZE = 256  # px of the window read: about 100 JPEG encodes of 256×256


def _busiest_window(rgb: np.ndarray) -> np.ndarray:
    """Of the ``SIZE`` px windows at the corners and the centre, on the 16 px grid of the JPEG's
    blocks and chroma, the one with the most detail: a flat one (sky, a slide's white) saves
    nearly losslessly at every quality and shows no jump."""
    height, width = rgb.shape[:2]
    tops = sorted({0, max(0, (height - SIZE) // 2 // 16 * 16), max(0, (height - SIZE) // 16 * 16)})
    lefts = sorted({0, max(0, (width - SIZE) // 2 // 16 * 16), max(0, (width - SIZE) // 16 * 16)})
    windows = [rgb[top:top + SIZE, left:left + SIZE] for top in tops for left in lefts]
    return max(windows, key=lambda window: float(np.abs(np.diff(window.astype(np.int16), axis=1)).mean()))


def jpeg_history(rgb: np.ndarray) -> int | None:
    """The JPEG quality whose decoded pixels ``rgb`` (H×W×3 uint8) are, or None when they show none:
    the quality in ``QUALITIES`` whose re-save PSNR is at least ``EXCESS_DB`` above the mean of
    the qualities 3 below and 3 above it."""
    crop = np.ascontiguousarray(_busiest_window(rgb))
    luma = to_luma_u8(crop).astype(np.float64)
    curve = {quality: psnr(luma, to_luma_u8(jpeg_roundtrip(crop, quality)).astype(np.float64))
             for quality in range(QUALITIES.start - 3, QUALITIES.stop + 3)}
    excess = {quality: curve[quality] - (curve[quality - 3] + curve[quality + 3]) / 2 for quality in QUALITIES}
    best = max(excess, key=excess.get)
    return best if excess[best] >= EXCESS_DB else None
