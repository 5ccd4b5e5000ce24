"""A JPEG's compression, read from its quantization table and described by one number.

    table = luma_qtable("IMG_0001.jpg")      # 64 luma steps, or None for a PNG/TIFF/...
    estimate_quality(table)                  # 87.0: the IJG quality whose standard table is nearest
    compression_strength(table)              # 0.33: what the model is told (0 = never compressed)
    steepness(table)                         # 1.0: its steps rise with frequency as the standard tables' do
    strength_for_quality(20)                 # the same for a photo we compress at quality 20
    photo_quality(digest, seed, [10, 95])    # the quality a training photo is degraded at
    tile_quality(digest, 64, 128, seed, [10, 95])   # ... and one of its tiles (by its position)

Tables are lists of 64 ints in natural order: row-major over the 8×8 block of DCT frequencies
(index ``8 * v + u``: row ``v`` = vertical frequency, column ``u`` = horizontal; index 0 is DC).
That is the order Pillow gives in ``Image.quantization`` (Pillow ≥ 8.3 undoes the file's zigzag
order) and takes in ``save(..., qtables=)``.

The strength is derived from the table itself, not from a quality number, so a camera's own
tables (which are not scaled IJG tables) map to what they really do: it is the mean log step of
the 15 lowest frequencies (``u + v <= 4``, where the content of a photo and the visible blocking
and ringing are), divided by that of the IJG table at quality 5. Standard tables give 0.0 at
quality 97 and up (steps of 1 there) up to 1.0 at quality 5 (1.11 at quality 1), never increasing with
quality; a photo that was never compressed is 0.0 too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO, cast

import numpy as np
from PIL import Image

# The IJG/libjpeg luma table (JPEG standard, Annex K.1) at quality 50, natural order.
BASE_LUMA = (
    16,
    11,
    10,
    16,
    24,
    40,
    51,
    61,
    12,
    12,
    14,
    19,
    26,
    58,
    60,
    55,
    14,
    13,
    16,
    24,
    40,
    57,
    69,
    56,
    14,
    17,
    22,
    29,
    51,
    87,
    80,
    62,
    18,
    22,
    37,
    56,
    68,
    109,
    103,
    77,
    24,
    35,
    55,
    64,
    81,
    104,
    113,
    92,
    49,
    64,
    78,
    87,
    103,
    121,
    120,
    101,
    72,
    92,
    95,
    98,
    112,
    100,
    103,
    99,
)
# the low frequencies the strength and the quality estimate look at: u + v <= 4 (15 of 64)
LOW_FREQUENCIES = tuple(8 * v + u for v in range(8) for u in range(8) if u + v <= 4)
# the high frequencies ``steepness`` compares them with: u + v >= 8 (28 of 64)
HIGH_FREQUENCIES = tuple(8 * v + u for v in range(8) for u in range(8) if u + v >= 8)
NORMALISING_QUALITY = 5  # standard tables of this quality have strength 1.0
# a JPEG this far outside a model's trained qualities, or from a rung of its ladder, counts as there; a
# compression its pixels show counts as stronger than its table's only this far below (the estimate's ±2)
QUALITY_MARGIN = 2


# the orthonormal 8-point DCT-II (JPEG's), row k the k-th basis vector: a block's coefficients are
# DCT8 @ block @ DCT8.T
DCT8 = np.sqrt(2 / 8) * np.cos(np.pi * np.outer(np.arange(8), 2 * np.arange(8) + 1) / 16)
DCT8[0] /= np.sqrt(2)


def _ijg_scale(quality: float) -> float:
    """libjpeg's ``jpeg_quality_scaling``: percent applied to the base table."""
    return 5000.0 / quality if quality < 50 else 200.0 - 2.0 * quality


# a photo shrunk by s after a JPEG save shows that save's artifacts weaker: it is restored as the quality
# whose table steps are the old ones times s to this power: s², the share of pixels kept (powers of 2 to 2.5
# did alike on urban40, 1 and 3 worse: ``python -m benchmarks.resized_strength``, docs/photos.md)
SHRINK_POWER = 2.0


def resized_quality(quality: int, scale: float, power: float = SHRINK_POWER) -> int:
    """The JPEG quality (at most 95) a photo saved at ``quality``, then shrunk by ``scale``, is restored as."""
    percent = _ijg_scale(quality) * scale**power
    return int(min(round(5000.0 / percent if percent > 100 else (200.0 - percent) / 2), 95))


def standard_qtable(quality: int) -> list[int]:
    """The luma table libjpeg (and so Pillow's encoder) uses at ``quality`` 1–100, natural order.

    ``jpeg_set_quality(cinfo, quality, force_baseline=TRUE)``: steps scaled, rounded, kept in 1–255.
    """
    if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)) or not 1 <= quality <= 100:
        raise ValueError(f"JPEG quality must be a whole number from 1 to 100, got {quality!r}")
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return [min(max((base * scale + 50) // 100, 1), 255) for base in BASE_LUMA]


def luma_qtable(source: str | Path | BinaryIO | Image.Image) -> list[int] | None:
    """The 64 luma quantization steps of a JPEG (a path, a binary file or an open Pillow image), natural order;
    None for anything that is not a JPEG (PNG, TIFF, WebP, BMP, ...) or holds no table.

    The luma table is the one the first component (Y) uses, as the frame header says; table 0
    when Pillow does not say.
    """
    if isinstance(source, Image.Image):
        return _table_of(source)
    with Image.open(source) as image:  # the header only: no pixels are decoded
        return _table_of(image)


def _table_of(image: Image.Image) -> list[int] | None:
    if image.format not in ("JPEG", "MPO"):
        return None
    tables = getattr(image, "quantization", None)
    if not tables:
        return None
    layer = getattr(image, "layer", None)  # [(component id, h, v, table id), ...] from the frame header
    index = layer[0][3] if layer and layer[0][3] in tables else min(tables)
    table = [int(step) for step in tables[index]]
    return table if len(table) == 64 else None


def _checked(qtable: Sequence[int]) -> np.ndarray:
    table = np.asarray(qtable, dtype=np.float64).ravel()
    if table.size != 64 or not np.all(np.isfinite(table)) or (table < 1).any():
        raise ValueError(f"a quantization table is 64 steps of 1 or more, got {len(table)} values")
    return table


def _low_log_mean(table: np.ndarray) -> float:
    return float(np.log(table[list(LOW_FREQUENCIES)]).mean())


_STANDARD = {quality: standard_qtable(quality) for quality in range(1, 101)}
_QUALITY_GRID = np.linspace(1.0, 100.0, 9901)  # steps of 0.01
_LOW_BASE = np.array([BASE_LUMA[index] for index in LOW_FREQUENCIES], dtype=np.float64)
_GRID_LOGS = np.log(
    np.clip(_LOW_BASE[None, :] * np.array([_ijg_scale(q) for q in _QUALITY_GRID])[:, None] / 100.0, 1.0, 255.0)
)
_STRENGTH_UNIT = _low_log_mean(np.asarray(_STANDARD[NORMALISING_QUALITY], dtype=np.float64))


def estimate_quality(qtable: Sequence[int]) -> float:
    """The IJG quality (a float in [1, 100]) whose standard table is nearest to ``qtable``.

    A standard table gives its own quality exactly. Any other table (a camera's, or one written
    with custom steps) gives the quality whose continuous IJG table (steps scaled without
    rounding, kept in 1–255) is nearest by least squares on the log steps of the low
    frequencies, the ones ``compression_strength`` reads, so the two agree.
    """
    table = _checked(qtable)
    exact = [quality for quality, standard in _STANDARD.items() if np.array_equal(table, standard)]
    if exact:
        return float(sum(exact) / len(exact))
    logs = np.log(table[list(LOW_FREQUENCIES)])
    errors = ((_GRID_LOGS - logs[None, :]) ** 2).sum(axis=1)
    best = np.flatnonzero(errors <= errors.min() + 1e-12)  # a flat minimum (all steps 1): its middle
    return round(float(_QUALITY_GRID[best].mean()), 2)


def compression_strength(qtable: Sequence[int] | None) -> float:
    """The one conditioning value the model sees: 0.0 for no compression (None, or steps of 1),
    1.0 for the standard table of quality 5, more for coarser tables; from the table's own steps."""
    if qtable is None:
        return 0.0
    return _low_log_mean(_checked(qtable)) / _STRENGTH_UNIT


def steepness(qtable: Sequence[int]) -> float:
    """How much coarser a table's high frequencies are than its low ones (the mean log step of
    ``HIGH_FREQUENCIES`` less that of ``LOW_FREQUENCIES``), as a share of the same for the standard
    table of its estimated quality: 1.0 for the standard tables, 0.0 for a flat one (one step for
    every frequency, as some encoders and video codecs use), above 1 for a steeper one. The
    strength reads the low frequencies only; a flatter table than the model was trained on lost less
    of the fine detail than that strength says. Near-lossless standard tables are flat themselves
    (steps of 1 and 2): where the standard table's rise is under 0.1, 1.0."""
    table = np.log(_checked(qtable))
    standard = np.log(np.asarray(_STANDARD[max(1, min(100, round(estimate_quality(qtable))))], dtype=np.float64))
    rise = table[list(HIGH_FREQUENCIES)].mean() - table[list(LOW_FREQUENCIES)].mean()
    standard_rise = standard[list(HIGH_FREQUENCIES)].mean() - standard[list(LOW_FREQUENCIES)].mean()
    return 1.0 if standard_rise < 0.1 else float(rise / standard_rise)


def strength_for_quality(quality: int | None) -> float:
    """``compression_strength`` of the standard table of ``quality``; None (never compressed) is 0.0."""
    if quality is None:
        return 0.0
    return compression_strength(standard_qtable(quality))


def is_range(jpeg_quality: int | Sequence[int] | None) -> bool:
    """Whether the ``jpeg_quality`` param is a ``[low, high]`` range (not one quality, not None)."""
    return jpeg_quality is not None and not (
        isinstance(jpeg_quality, (int, np.integer)) and not isinstance(jpeg_quality, bool)
    )


def photo_quality(digest: str, seed: int, jpeg_quality: int | Sequence[int] | None) -> int | None:
    """The JPEG quality a training photo is degraded at, for the ``jpeg_quality`` param.

    An int is used as it is, None (no JPEG step) stays None, and a ``[low, high]`` range gives a
    whole number drawn uniformly from it by a hash of the photo's ``digest`` and ``seed``: the
    same photo always gets the same quality, whatever other photos there are. The hash is salted
    ("quality:") so it is independent of the train/val split, which hashes ``f"{seed}:{digest}"``.
    """
    if jpeg_quality is None:
        return None
    if isinstance(jpeg_quality, int) or not is_range(jpeg_quality):
        return int(cast(int, jpeg_quality))
    low, high = (int(value) for value in jpeg_quality)
    if not 1 <= low <= high <= 100:
        raise ValueError(f"jpeg_quality range must be [low, high] with 1 <= low <= high <= 100, got {jpeg_quality!r}")
    mixed = hashlib.sha256(f"quality:{seed}:{digest}".encode()).digest()
    return low + int.from_bytes(mixed[:8], "big") % (high - low + 1)


def tile_quality(digest: str, top: int, left: int, seed: int, jpeg_quality: int | Sequence[int] | None) -> int | None:
    """The JPEG quality of the training tile at (``top``, ``left``) of the photo with ``digest``:
    as ``photo_quality``, drawn from the photo and the tile's position, so that the tiles of one
    photo cover the range too (each quality is then seen on many photos, not on the few whose
    own draw fell near it)."""
    return photo_quality(f"{digest}@{top},{left}", seed, jpeg_quality)
