"""The old JPEG grid of a photo resized after it was compressed: a JPEG of quality 30, shrunk to 75 %
and saved again at 90, whose file's table says 90 and whose 8×8 grid (``srcnn.history``) is gone.

    resize_trace(rgb)     # ShrunkGrid(quality=30, scale=0.75, lift_db=3.6): saved at 30, then shrunk to 75 %
    resize_trace(rgb)     # None: no such grid (or a note of why it was not looked for: ``why_not``)

A photo shrunk as a whole keeps its top left corner where the original's was, so the original's
first 8×8 block starts there. Enlarged back by the right factor, that corner's window lies on the
old grid again, and its low-frequency DCT coefficients (those a shrink keeps best) sit near the
multiples of the old quality's steps: quantized again at that quality on that grid they barely
change, on other grids as much as any photo's (the JPEG ghost that ``srcnn.history`` reads, here
in the DCT domain: no encoder runs). Each shrink factor from ``SCALES`` is tried, then the best one
refined: an error of 0.5 % puts the window's far side a pixel off the grid. Where the top left
corner is flat (a sky), the bottom left is read: its old blocks start on one of 8 rows, as the
original's height fell on the grid, so each is tried.

Not looked for: a photo cropped before it was shrunk (its old grid has another origin), one shrunk
below half (the factors tried start at 0.5: restored as its table says) or more along one side
than the other (one factor is tried for both), or one whose top and bottom left corners are both
flat (no coefficients to read).
Cost: about 3,000 quantizations of a 96 px window's blocks, whatever the photo's size; with the
8×8 search before it, 0.65 s of the 15.7 s enhance takes on a 12 MP photo (``python -m benchmarks.trace_cost``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from .color import jpeg_luma
from .jpeg import DCT8, standard_qtable

WINDOW = 96  # px of the corner, enlarged back, that are read (plus 8 for the other grids)
SCALES = np.round(np.arange(0.5, 0.985, 0.004), 3)  # shrink factors tried: steps of 0.4 %
FINE_STEP = 0.001  # the best factor is refined in these steps over ± one coarse step
QUALITIES = (10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70)  # the older saves looked for
LOW_BAND = 3  # the coefficients read: u + v up to this (a shrink blurs the higher ones away)
# Where the old grid's blocks start in the window (rows, columns), and other grids to compare: at the
# top left corner, where the photo's first block did; at the bottom left (the photo flipped upside down),
# on one of 8 rows, as the photo's unknown height fell on its grid
CORNERS = ("top_left", "bottom_left")
GRIDS = {
    "top_left": ([(0, 0)], [(4, 4), (3, 5), (5, 3), (2, 6)]),
    "bottom_left": ([(row, 0) for row in range(8)], [(row, 4) for row in range(8)]),
}
# the least lift that counts: none of 236 JPEGs never shrunk reached it (``python -m benchmarks.resize_trace``)
LIFT_DB = 2.0
FLAT_DB = 45.0  # other grids quantized again this close to lossless: too flat to tell anything
# the least share of the corner's 8×8 blocks with some detail (a standard deviation above BUSY_STD levels): a
# slide's white corner lined up its few edges with the old grid's at a shrink it never had
BUSY_SHARE, BUSY_STD = 0.3, 2.0
_TABLES = np.array([standard_qtable(quality) for quality in range(1, 101)], dtype=np.float64).reshape(100, 8, 8)
_LOW = np.add.outer(np.arange(8), np.arange(8)) <= LOW_BAND


@dataclass(frozen=True)
class ShrunkGrid:
    """An old JPEG grid found in a shrunk photo: the old save's quality, the shrink factor, the lift."""

    quality: int
    scale: float
    lift_db: float


def _corner(rgb: np.ndarray, corner: str) -> np.ndarray:
    """The JPEG luma of ``rgb``'s corner read (``WINDOW`` + 16 px a side), as seen from ``corner``: as it
    is from the top left, flipped upside down from the bottom left. Only the corner is converted."""
    side = WINDOW + 16
    region = rgb[:side, :side] if corner == "top_left" else rgb[::-1][:side, :side]
    return jpeg_luma(np.ascontiguousarray(region))


def _busy(luma: np.ndarray) -> bool:
    blocks = luma[:WINDOW, :WINDOW].astype(np.float64).reshape(WINDOW // 8, 8, WINDOW // 8, 8)
    return bool((blocks.std(axis=(1, 3)) > BUSY_STD).mean() >= BUSY_SHARE)


def _corner_read(rgb: np.ndarray) -> tuple[str | None, str]:
    """The first of ``CORNERS`` with some detail in ``rgb`` (H×W×3 or H×W uint8), or None and why."""
    if min(rgb.shape[:2]) < WINDOW + 8:
        return None, f"too small to look for a resize: under {WINDOW + 8} px"
    busy = [corner for corner in CORNERS if _busy(_corner(rgb, corner))]
    return (busy[0], "") if busy else (None, "its top and bottom left corners are too flat to look for a resize")


def why_not(rgb: np.ndarray) -> str:
    """Why ``resize_trace`` cannot look at ``rgb`` (empty when it can)."""
    return _corner_read(rgb)[1]


def _requantized_db(window: np.ndarray, offset: tuple[int, int], qualities: list[int]) -> np.ndarray:
    """For each quality, the PSNR of the window's low-frequency coefficients quantized again on the grid
    at ``offset``."""
    dy, dx = offset
    blocks = window[dy : dy + WINDOW, dx : dx + WINDOW] - 128.0
    blocks = blocks.reshape(WINDOW // 8, 8, WINDOW // 8, 8).transpose(0, 2, 1, 3)
    coefficients = (DCT8 @ blocks @ DCT8.T)[..., _LOW].reshape(-1, 1, int(_LOW.sum()))
    steps = _TABLES[[quality - 1 for quality in qualities]][:, _LOW]
    error = coefficients - steps * np.round(coefficients / steps)
    return 10.0 * np.log10(255.0**2 / np.maximum((error**2).mean(axis=(0, 2)), 1e-6))


def _lifts(window: Image.Image, scale: float, qualities: list[int], corner: str) -> np.ndarray:
    """How much closer to lossless the window, enlarged back by 1/``scale``, quantizes again on the old
    grid's places (``GRIDS``) than on other grids, per quality (the best place); 0 where the others are
    too flat to tell."""
    side = WINDOW + 8
    box = (0, 0, side * scale, side * scale)
    enlarged = np.asarray(window.resize((side, side), Image.Resampling.BICUBIC, box=box)).astype(np.float64)
    grids, others = GRIDS[corner]
    reference = np.median([_requantized_db(enlarged, offset, qualities) for offset in others], axis=0)
    lift = np.max([_requantized_db(enlarged, offset, qualities) for offset in grids], axis=0) - reference
    return np.where(reference < FLAT_DB, lift, 0.0)


def corner_trace(rgb: np.ndarray, corner: str) -> ShrunkGrid | None:
    """``resize_trace`` at one corner of ``CORNERS``, busy or not."""
    window = Image.fromarray(_corner(rgb, corner).astype(np.float32), "F")
    coarse = [
        (float(lift.max()), float(scale), int(np.argmax(lift)))
        for scale in SCALES
        for lift in [_lifts(window, float(scale), list(QUALITIES), corner)]
    ]
    best, scale, index = max(coarse)
    if best < LIFT_DB / 2:
        return None
    low, high = QUALITIES[max(0, index - 1)], QUALITIES[min(len(QUALITIES) - 1, index + 1)]
    qualities = list(range(low, high + 1))
    fine = np.round(np.arange(scale - 0.004, scale + 0.0045, FINE_STEP), 4)
    refined = [
        (float(lift.max()), float(each), qualities[int(np.argmax(lift))])
        for each in fine
        for lift in [_lifts(window, float(each), qualities, corner)]
    ]
    lift, scale, quality = max(refined)
    return ShrunkGrid(quality, round(scale, 3), round(lift, 1)) if lift >= LIFT_DB else None


def resize_trace(rgb: np.ndarray) -> ShrunkGrid | None:
    """The JPEG compression a photo (H×W×3 or H×W uint8) shows on an old grid shrunk by a factor of
    ``SCALES`` (see the module docstring), at the first of ``CORNERS`` with some detail; or None."""
    corner, _ = _corner_read(rgb)
    return corner_trace(rgb, corner) if corner is not None else None
