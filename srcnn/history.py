"""Whether a photo's pixels went through a JPEG before, and at which quality: a JPEG re-saved at a
higher quality, cropped and re-saved, a PNG, TIFF or screenshot saved from a JPEG.

    trace = jpeg_trace(rgb)           # JpegTrace(quality=30, offset=(5, 5), lift_db=9.6, note='')
    trace = jpeg_trace(rgb, below=90) # only compressions stronger than a quality-90 table (a JPEG file's)
    jpeg_history(rgb)                 # 30: the same, the quality alone; None: no such history
    photo_damage(rgb, qtable)         # (Damage(30, 0.62, by_pixels=True), trace): what the model is told
    quantization_steps(rgb)           # (6, 6, 6, 5, 7): its 8×8 DCT coefficients sit on multiples of steps

Pixels that are a decoded JPEG of quality Q, saved again at Q on the same 8×8 grid, come back
nearly as they were; on any other grid, or at qualities a few steps away, they change as much as
any photo. So the luma of a window is saved again at candidate qualities on each of the 64 offsets
of the 8×8 grid (a cropped photo's old blocks no longer start at its corner), and each offset's PSNR
curve is compared with the median of all 64 (the grids a photo was never compressed on): the
``lift``. A compression shows as a peak of the lift at its quality on its grid; a later, lighter
re-save on another grid or at a higher quality leaves it visible, so the lowest quality with a
peak is the compression that dominates (FBCNN's "dominant quality factor", Jiang et al. 2021). A
resize moves the old blocks off any 8×8 grid, and the trace is gone (``srcnn.resize_trace`` looks
for it there). Cost: about 1,100 small encodes of a 128 px window, then a few hundred to refine,
whatever the photo's size (``python -m benchmarks.trace_cost``).
A photo under 72 px is checked on its own grid only (uncropped), one under 16 px not at all.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .color import jpeg_luma, rgb_to_y, to_luma_u8
from .degrade import jpeg_roundtrip
from .jpeg import (
    DCT8,
    QUALITY_MARGIN,
    compression_strength,
    estimate_quality,
    resized_quality,
    standard_qtable,
    strength_for_quality,
)
from .metrics import psnr
from .resize_trace import resize_trace

WINDOW = 128  # px of luma saved again (plus 7 for the offsets): the busiest of nine such windows
MIN_SIDE = 16  # a shorter side below this holds too few blocks to show a trace: not looked at
# below this shorter side (64 px on every offset) the 64 offsets' lifts are too noisy to trust (synthetic
# photos never compressed showed strong compressions): only the photo's own grid is checked (``_aligned``)
MIN_SEARCH_SIDE = 72
ALIGNED_QUALITIES = range(5, 96)  # where the aligned check looks for a jump (each needs its neighbours ±3)
EXCESS_DB = 6.0  # how far the aligned PSNR at the photo's own quality rises above its neighbours' mean
# where the 64 offsets are compared; finer at low qualities, where a trace under a re-save is narrow
COARSE_QUALITIES = (5, 7, 9, 11, 13, 15, 18, 21, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90, 95)
LIFT_DB = 2.5  # the least peak lift that counts: on photos never compressed the lift stays within ±1 dB
# a coarse peak this high is refined: a weak trace peaks between the coarse qualities, lower there
COARSE_LIFT_DB = 1.5
# A JPEG file's older compression on a grid shifted along both axes, well below its table's quality,
# counts from a lower lift: the later save on the file's own grid wipes out most of it (FBCNN's
# non-aligned double JPEGs), while photos saved once show no such peak there
# (``python -m benchmarks.off_grid_trace`` measures both)
OFF_GRID_LIFT_DB = 1.3
# where it applies: from 20 (lower, a re-save changes any photo so much that drawn test photos saved once
# peaked that high) to 13 under ``below`` (nearer, the rise to the file's own quality)
OFF_GRID_QUALITIES = (20, 13)
REFINED = 12  # the most coarse peaks refined, lowest quality first
BEYOND = 15  # qualities read above ``below``
HIGHEST_QUALITY = 95  # above it steps of 1 and 2 make the curve uneven without any history
# a JPEG file from this table quality up whose pixels show no older grid is searched for one shrunk after an
# older save (``srcnn.resize_trace``): at lower qualities its table already tells a strength near the best
RESIZED_FROM = 78


@dataclass(frozen=True)
class JpegTrace:
    """What a photo's pixels show: the quality of the strongest JPEG compression found (None:
    none), the grid it is on (rows, columns from the photo's top left corner to its first whole
    block: (0, 0) for an uncropped JPEG) and its peak lift; ``note`` says why none was found."""

    quality: int | None
    offset: tuple[int, int] = (0, 0)
    lift_db: float = 0.0
    note: str = ""
    resize: float = 1.0  # the share of each side kept by a shrink after that compression (srcnn.resize_trace)


def _busiest_window(luma: np.ndarray, side: int) -> tuple[np.ndarray, int, int]:
    """Of nine windows of ``side`` px (three rows of three, on the photo's 8 px grid), the one with
    the most detail, and its top and left: a flat one (sky, a slide's white) saves nearly
    losslessly on every grid and shows no trace."""
    height, width = luma.shape
    tops = sorted({min(height - side, place // 8 * 8) for place in (0, (height - side) // 2, height - side)})
    lefts = sorted({min(width - side, place // 8 * 8) for place in (0, (width - side) // 2, width - side)})
    placed = [(top, left) for top in tops for left in lefts]
    top, left = max(
        placed, key=lambda at: float(np.abs(np.diff(luma[at[0] : at[0] + side, at[1] : at[1] + side], axis=1)).mean())
    )
    return luma[top : top + side, left : left + side], top, left


def _resave_psnr(block_rows: np.ndarray, quality: int) -> float:
    """The PSNR of a luma window (sides multiples of 8) saved as a gray JPEG at ``quality`` and decoded."""
    buffer = io.BytesIO()
    Image.fromarray(block_rows).save(buffer, format="JPEG", quality=int(quality))
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        error = np.asarray(decoded, dtype=np.float64) - block_rows
    return 10.0 * np.log10(255.0**2 / max(float(np.mean(error**2)), 1e-3))


def _curves(window: np.ndarray, offsets: list[tuple[int, int]], qualities: list[int] | tuple[int, ...]) -> np.ndarray:
    """PSNR of saving again, one row per offset, one column per quality."""
    side = (min(window.shape) - 7) // 8 * 8
    crops = [np.ascontiguousarray(window[dy : dy + side, dx : dx + side]) for dy, dx in offsets]
    return np.array([[_resave_psnr(crop, quality) for quality in qualities] for crop in crops])


def _peaks(lift: np.ndarray, least: list[float]) -> list[int]:
    """The indices where ``lift`` is at least ``least`` (one value per quality) and no lower than either
    neighbour; the highest quality is no peak (a flat table's steps, a video frame's, show as a rise
    towards it)."""
    return [
        index
        for index in range(len(lift) - 1)
        if lift[index] >= least[index] and lift[index] >= lift[max(0, index - 1) : index + 2].max()
    ]


def _least_lifts(coarse: list[int], below: float | None, grid: tuple[int, int]) -> list[float]:
    """The least coarse lift of a peak at each quality of ``coarse`` on ``grid`` (rows, columns from the
    file's own): ``COARSE_LIFT_DB``, or for a JPEG file (``below``) on a grid shifted along both axes
    and in ``OFF_GRID_QUALITIES``, ``OFF_GRID_LIFT_DB`` (along one axis only, half the grid's edges stay
    on the file's own: drawn test photos saved once peaked that high there)."""
    if below is None or 0 in grid:
        return [COARSE_LIFT_DB] * len(coarse)
    lowest, under = OFF_GRID_QUALITIES
    return [OFF_GRID_LIFT_DB if lowest <= quality <= below - under else COARSE_LIFT_DB for quality in coarse]


def jpeg_trace(rgb: np.ndarray, below: float | None = None) -> JpegTrace:
    """The strongest JPEG compression ``rgb`` (H×W×3 or H×W uint8) shows on any 8×8 grid (see the
    module docstring); with ``below``, only qualities under it are looked for (a JPEG file's own
    table already says as much for the others)."""
    luma = jpeg_luma(rgb)
    if min(luma.shape) < MIN_SIDE:
        return JpegTrace(None, note=f"too small for the pixel check: under {MIN_SIDE} px")
    if min(luma.shape) < MIN_SEARCH_SIDE:  # as before the search: a JPEG file's own table decides
        if below is not None:
            return JpegTrace(None, note=f"too small for the 64-offset search: under {MIN_SEARCH_SIDE} px")
        return _aligned(rgb)
    # the curve is read past ``below``: a peak at the table's own quality then shows as one, not as
    # a rise to the edge of the qualities looked at
    highest = HIGHEST_QUALITY if below is None else min(HIGHEST_QUALITY, below + BEYOND)
    coarse = [quality for quality in COARSE_QUALITIES if quality <= highest]
    if below is not None and below <= coarse[0]:
        return JpegTrace(None, note="no stronger compression to look for")
    window, top, left = _busiest_window(luma, min(WINDOW + 7, *luma.shape))
    offsets = [(dy, dx) for dy in range(8) for dx in range(8)]
    curves = _curves(window, offsets, coarse)
    median = np.median(curves, axis=0)
    lifts = curves - median
    least = [_least_lifts(coarse, below, ((top + dy) % 8, (left + dx) % 8)) for dy, dx in offsets]
    peaks = sorted(
        (coarse[peak], -lifts[index, peak], index, peak)
        for index in range(len(offsets))
        for peak in _peaks(lifts[index], least[index])
    )
    for _, _, index, peak in peaks[:REFINED]:  # the lowest quality first: the first that holds is the answer
        weak = least[index][peak] < COARSE_LIFT_DB
        trace = _refine(
            window, offsets[index], coarse, peak, median, (top, left), OFF_GRID_LIFT_DB if weak else LIFT_DB
        )
        if trace.quality is not None and (below is None or trace.quality < below):
            return trace
    return JpegTrace(None, note="no JPEG grid in its pixels")


def _refine(
    window: np.ndarray,
    offset: tuple[int, int],
    coarse: list[int],
    peak: int,
    median: np.ndarray,
    corner: tuple[int, int],
    least: float = LIFT_DB,
) -> JpegTrace:
    """The single quality of a coarse peak: the highest lift over the qualities between its coarse
    neighbours, against the median curve interpolated there, if at least ``least``."""
    low, high = coarse[max(0, peak - 1)], coarse[min(len(coarse) - 1, peak + 1)]
    qualities = list(range(low, high + 1))
    lift = _curves(window, [offset], qualities)[0] - np.interp(qualities, coarse, median)
    best = int(np.argmax(lift))
    if lift[best] < least:
        return JpegTrace(None)
    grid = ((corner[0] + offset[0]) % 8, (corner[1] + offset[1]) % 8)
    return JpegTrace(qualities[best], grid, round(float(lift[best]), 1))


def _aligned(rgb: np.ndarray) -> JpegTrace:
    """The check for photos too small for the 64 offsets: on the photo's own grid only (uncropped), the
    quality whose re-save PSNR is at least ``EXCESS_DB`` above the mean of the qualities 3 below and 3
    above it (a smooth curve for a photo never compressed)."""
    luma = to_luma_u8(rgb).astype(np.float64)
    curve = {
        quality: psnr(luma, to_luma_u8(jpeg_roundtrip(rgb, quality)).astype(np.float64))
        for quality in range(ALIGNED_QUALITIES.start - 3, ALIGNED_QUALITIES.stop + 3)
    }
    excess = {quality: curve[quality] - (curve[quality - 3] + curve[quality + 3]) / 2 for quality in ALIGNED_QUALITIES}
    best = max(excess, key=lambda quality: excess[quality])
    if excess[best] < EXCESS_DB:
        return JpegTrace(None, note=f"no JPEG grid in its pixels (under {MIN_SEARCH_SIDE} px: uncropped grid only)")
    return JpegTrace(best, (0, 0), round(excess[best], 1))


@dataclass(frozen=True)
class Damage:
    """The compression a photo is restored as: its JPEG quality, the strength the model is told
    (``srcnn.jpeg``), and whether its pixels decided (a compression stronger than its table's)."""

    quality: float
    strength: float
    by_pixels: bool


def trace_below(qtable: list[int] | None) -> float | None:
    """The quality under which ``jpeg_trace`` looks for a JPEG file with ``qtable`` (None: not a JPEG
    file, every quality): only a compression clearly stronger than its table's can change the strength."""
    return estimate_quality(qtable) - QUALITY_MARGIN if qtable is not None else None


def told_damage(qtable: list[int] | None, trace: JpegTrace | None) -> Damage | None:
    """The larger damage of a photo's JPEG luma table (None: not a JPEG file) and of what its pixels
    show (``trace``; None: not looked for); None when neither shows a compression. What ``enhance``
    tells the model, and what training pairs record (``degradation: travelled``), so the two agree."""
    history = trace.quality if trace is not None else None
    if history is not None and trace is not None and trace.resize < 1.0:
        history = resized_quality(history, trace.resize)
        if qtable is not None and history >= estimate_quality(qtable):  # the table's damage is the larger
            history = None
    if history is not None:
        return Damage(history, strength_for_quality(history), True)
    if qtable is not None:
        return Damage(estimate_quality(qtable), compression_strength(qtable), False)
    return None


def pixel_trace(rgb: np.ndarray, qtable: list[int] | None) -> JpegTrace:
    """What the pixels ``rgb`` of a photo with JPEG luma table ``qtable`` (None: not a JPEG file) show:
    ``jpeg_trace`` below the table's quality (``trace_below``); for a JPEG file from ``RESIZED_FROM``
    whose pixels show nothing there, an older save shrunk since (``srcnn.resize_trace``), if any."""
    trace = jpeg_trace(rgb, trace_below(qtable))
    if trace.quality is None and qtable is not None and estimate_quality(qtable) >= RESIZED_FROM:
        shrunk = resize_trace(rgb)
        if shrunk is not None:
            return JpegTrace(shrunk.quality, (0, 0), shrunk.lift_db, resize=shrunk.scale)
    return trace


def photo_damage(rgb: np.ndarray, qtable: list[int] | None) -> tuple[Damage | None, JpegTrace]:
    """``told_damage`` of a photo's pixels ``rgb`` and its JPEG luma table (``pixel_trace``); and the trace."""
    trace = pixel_trace(rgb, qtable)
    return told_damage(qtable, trace), trace


def told_for_jpeg(rgb: np.ndarray, quality: int) -> tuple[int, float, JpegTrace]:
    """What ``enhance`` tells the model for pixels ``rgb`` saved last as a JPEG of ``quality`` (libjpeg's
    standard tables): the quality (whole: a standard table's estimate is its own quality), its
    strength, and the trace of the pixels (``photo_damage``)."""
    damage, trace = photo_damage(rgb, standard_qtable(quality))
    assert damage is not None  # a JPEG file's table always tells a strength
    return round(damage.quality), damage.strength, trace


def jpeg_history(rgb: np.ndarray) -> int | None:
    """The quality of the strongest JPEG compression ``rgb`` shows (``jpeg_trace``), or None."""
    return jpeg_trace(rgb).quality


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
    step; far more at the step it was quantized with."""
    height, width = (side // 8 * 8 for side in rgb.shape[:2])
    luma = (rgb_to_y(rgb[:height, :width]) - 16.0) * 255.0 / 219.0  # the JPEG's full-range Y
    blocks = luma.reshape(height // 8, 8, width // 8, 8).swapaxes(1, 2)
    coefficients = DCT8 @ blocks @ DCT8.T
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
