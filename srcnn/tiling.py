"""Aligned tiles and the seed's paired-tile format: one image ``2·tile`` wide, clean left, degraded right.

samples, report = tile_photo(prepared_sample, tile=128, stride=64)   # one photo's tiles, as shard samples
tile_photo(prepared_sample, 128, 64, jpeg_quality=[10, 90], seed=0)  # each tile at its own quality
tile_photo(prepared_sample, 128, 64, channels="ycbcr")               # RGB pairs, for a colour model
tile_photo(prepared_sample, 128, 64, [10, 90], degradation="travelled")   # cut from the prepared pair
clean, degraded = split_pair(decode_png(samples[0]["png"]))
"""

from __future__ import annotations

import json

import numpy as np

from .color import is_gray, to_luma_u8
from .degrade import bicubic_down_up, jpeg_roundtrip
from .images import decode_png, encode_png
from .jpeg import is_range, tile_quality


def tile_origins(length: int, tile: int, stride: int) -> list[int]:
    """Start offsets of the tiles along one side; the last tile is flush with the edge."""
    if length < tile:
        return []
    starts = list(range(0, length - tile + 1, stride))
    if starts[-1] != length - tile:
        starts.append(length - tile)
    return starts


def join_pair(clean: np.ndarray, degraded: np.ndarray) -> np.ndarray:
    return np.concatenate([clean, degraded], axis=1)


def split_pair(pair: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split a paired tile (clean left, degraded right) into its two square halves."""
    height, width = pair.shape[:2]
    if width != 2 * height:
        raise ValueError(f"a paired tile is twice as wide as high, got {width}×{height}")
    return pair[:, :height], pair[:, height:]


def _tile_sample(key: str, top: int, left: int, pair: np.ndarray, meta: dict) -> dict:
    """One tile as a shard sample: the pair's PNG and its ``.json`` (``meta`` and the tile's position)."""
    return {
        "__key__": f"{key}_y{top:05d}_x{left:05d}",
        "png": encode_png(pair),
        "json": json.dumps({**meta, "y": top, "x": left}, sort_keys=True).encode(),
    }


def tile_photo(
    sample: dict,
    tile: int,
    stride: int,
    jpeg_quality: int | list[int] | tuple[int, int] | None = None,
    seed: int = 0,
    scale: int = 1,
    channels: str = "y",
    degradation: str = "single",
) -> tuple[list[dict], dict]:
    """Cut one prepared photo (a shard sample: ``clean.png``, ``degraded.png``, ``json``) into
    paired tiles, each a shard sample ``KEY_y<row>_x<col>.png`` in the seed's format, with
    ``.json`` (photo, position, and the JPEG quality of its degraded half); and the photo's report.
    The tiles are 8-bit luma (``channels`` "y", the seed's gray tiles) or RGB ("ycbcr": a colour
    model's, whose halves keep the chroma of the photo and of its JPEG).

    With one quality (or none) the degraded half is cut from the prepared degraded photo. With a
    ``[low, high]`` range of ``jpeg_quality``, each tile gets its own quality (``tile_quality``,
    from the photo's hash, the tile's position and ``seed``): its window of the clean photo
    (bicubic down and up first for ``scale`` > 1, on the whole photo) goes through a JPEG of its
    own, a whole image whose 8×8 blocks start at the tile's corner. One photo's tiles then span the
    range, so each quality is learnt from every photo rather than from the few whose own draw fell
    near it. With ``degradation`` "travelled" every tile is cut from the prepared pair, whose report
    holds the quality ``enhance`` would tell for the photo (``srcnn.photos.travelled_pair``)."""
    photo = json.loads(sample["json"])
    where = f"{photo['name']} ({sample['__key__']})"
    per_tile = is_range(jpeg_quality) and degradation == "single"
    if channels not in ("y", "ycbcr"):
        raise ValueError(f"tile_photo: channels must be y or ycbcr, got {channels!r}")
    planes = (lambda rgb: rgb) if channels == "ycbcr" else to_luma_u8
    clean_rgb = decode_png(sample["clean.png"], where)
    clean = planes(clean_rgb)
    height, width = clean.shape[:2]
    if min(height, width) < tile:
        reason = f"{photo['name']}: {width}×{height} is smaller than one {tile} px tile"
        return [], {"name": photo["name"], "split": photo["split"], "tiles": 0, "reason": reason}
    if per_tile:
        source = bicubic_down_up(clean_rgb, scale)
    else:
        degraded = planes(decode_png(sample["degraded.png"], where))
    info = {key: photo[key] for key in ("name", "sha256", "jpeg_quality", "degradation") if key in photo}
    samples = []
    for top in tile_origins(height, tile, stride):
        for left in tile_origins(width, tile, stride):
            window = (slice(top, top + tile), slice(left, left + tile))
            if per_tile:
                quality = tile_quality(photo["sha256"], top, left, seed, jpeg_quality)
                assert quality is not None  # a range gives every tile a quality
                half = planes(jpeg_roundtrip(np.ascontiguousarray(source[window]), quality))
                meta = {**info, "jpeg_quality": quality}
            else:
                half, meta = degraded[window], info
            samples.append(_tile_sample(sample["__key__"], top, left, join_pair(clean[window], half), meta))
    report = {"name": photo["name"], "split": photo["split"], "tiles": len(samples)}
    return samples, {**report, "gray": is_gray(clean_rgb)} if channels == "ycbcr" else report
