"""Whether a photo's pixels were a JPEG before: a PNG, TIFF or screenshot saved from a JPEG.

    jpeg_history(rgb)        # 75: its pixels are a decoded JPEG of quality 75; None: no such history
    quantization_steps(rgb)  # (6, 6, 6, 5, 7): its 8×8 DCT coefficients sit on multiples of steps; None: not

A file that is no JPEG carries no quantization table (``srcnn.jpeg``), but its pixels can still be
a decoded JPEG, uncropped and unscaled. Saved again at that JPEG's own quality, on the same 8×8
grid, such pixels come back nearly as they were, while a few qualities either side change them as
much as any photo. Set5's woman.png, the luma PSNR of saving it again: 47.9 dB at quality 72,
67.2 dB at 75, 48.0 dB at 78; a photo never compressed gives a smooth curve.
"""

from __future__ import annotations

import numpy as np
from scipy.fft import dctn

from .color import rgb_to_y, to_luma_u8
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
    windows = [rgb[top : top + SIZE, left : left + SIZE] for top in tops for left in lefts]
    return max(windows, key=lambda window: float(np.abs(np.diff(window.astype(np.int16), axis=1)).mean()))


def jpeg_history(rgb: np.ndarray) -> int | None:
    """The JPEG quality whose decoded pixels ``rgb`` (H×W×3 uint8) are, or None when they show none:
    the quality in ``QUALITIES`` whose re-save PSNR is at least ``EXCESS_DB`` above the mean of
    the qualities 3 below and 3 above it."""
    crop = np.ascontiguousarray(_busiest_window(rgb))
    luma = to_luma_u8(crop).astype(np.float64)
    curve = {
        quality: psnr(luma, to_luma_u8(jpeg_roundtrip(crop, quality)).astype(np.float64))
        for quality in range(QUALITIES.start - 3, QUALITIES.stop + 3)
    }
    excess = {quality: curve[quality] - (curve[quality - 3] + curve[quality + 3]) / 2 for quality in QUALITIES}
    best = max(excess, key=lambda quality: excess[quality])
    return best if excess[best] >= EXCESS_DB else None


# the low AC frequencies (row v, column u of the 8×8 block) whose coefficients are looked at
LOW_AC = ((0, 1), (1, 0), (1, 1), (0, 2), (2, 0))
STEPS = range(2, 41)  # quantization steps looked for (a JPEG's, in the orthonormal DCT's units)
NEAR = 0.1  # a coefficient within this share of a step of a multiple counts as on it: 20 % by chance
ON_STEPS = 0.3  # the mean share on the best steps from which the coefficients count as quantized
MIN_COEFFICIENTS = 200  # per frequency, outside the zero bin: fewer decide nothing


def quantization_steps(rgb: np.ndarray) -> tuple[int, ...] | None:
    """The steps, one per frequency of ``LOW_AC``, on whose multiples the luma's 8×8 DCT coefficients
    (on the grid from the top left corner) sit, when they do: pixels that went through a JPEG, or a
    video codec's 8×8 transform, at some point (a frame of a compressed video, a PNG saved from a
    JPEG and perhaps converted or re-saved since), which ``jpeg_history`` does not always see.
    Otherwise, and for photos too small or too flat to tell, None.

    For each frequency, of the coefficients outside a step's zero bin, the share within
    ``NEAR`` × step of a multiple of it: about ``NEAR`` × 2 for a photo never quantized, whatever the
    step; far more at the step it was quantized with. Set14's frames of the videos coastguard and
    foreman give step 13, its zebra and Set5's woman 6, its ppt3 3; Set14's lenna, Set5's bird and
    urban40's img_001 none (21 to 22 % on their best steps, against 38 to 82 % for those)."""
    height, width = (side // 8 * 8 for side in rgb.shape[:2])
    luma = (rgb_to_y(rgb[:height, :width]) - 16.0) * 255.0 / 219.0  # the JPEG's full-range Y
    blocks = luma.reshape(height // 8, 8, width // 8, 8).swapaxes(1, 2)
    coefficients = dctn(blocks, axes=(-2, -1), norm="ortho")
    steps, shares = [], []
    for v, u in LOW_AC:
        values = np.abs(coefficients[:, :, v, u].ravel())
        best_step, best_share = 0, 0.0
        for step in STEPS:
            outside = values[values >= step / 2] / step
            if len(outside) < MIN_COEFFICIENTS:
                continue
            share = float(np.mean(np.abs(outside - np.round(outside)) < NEAR))
            if share > best_share:
                best_step, best_share = step, share
        if not best_step:
            return None
        steps.append(best_step)
        shares.append(best_share)
    return tuple(steps) if np.mean(shares) >= ON_STEPS else None
