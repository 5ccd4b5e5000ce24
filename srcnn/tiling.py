"""Aligned tiles and the seed's paired-tile format: one image ``2·tile`` wide, clean left, degraded right.

    samples, report = tile_photo(prepared_sample, tile=128, stride=64)   # one photo's tiles, as shard samples
    clean, degraded = split_pair(decode_png(samples[0]["png"]))
"""
from __future__ import annotations

import json

import numpy as np

from .color import to_luma_u8
from .images import decode_png, encode_png


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


def tile_photo(sample: dict, tile: int, stride: int) -> tuple[list[dict], dict]:
    """Cut one prepared photo (a shard sample: ``clean.png``, ``degraded.png``, ``json``) into
    paired luma tiles, each a shard sample ``KEY_y<row>_x<col>.png`` in the seed's format, with
    ``.json`` (photo, position, and what the photo was degraded with); and the photo's report."""
    photo = json.loads(sample["json"])
    where = f"{photo['name']} ({sample['__key__']})"
    clean = to_luma_u8(decode_png(sample["clean.png"], where))
    degraded = to_luma_u8(decode_png(sample["degraded.png"], where))
    height, width = clean.shape
    if min(height, width) < tile:
        return [], {"name": photo["name"], "split": photo["split"], "tiles": 0,
                    "reason": f"{photo['name']}: {width}×{height} is smaller than one {tile} px tile"}
    info = {key: photo[key] for key in ("name", "sha256", "jpeg_quality") if key in photo}
    samples = []
    for top in tile_origins(height, tile, stride):
        for left in tile_origins(width, tile, stride):
            pair = join_pair(clean[top:top + tile, left:left + tile], degraded[top:top + tile, left:left + tile])
            samples.append({"__key__": f"{sample['__key__']}_y{top:05d}_x{left:05d}", "png": encode_png(pair),
                            "json": json.dumps({**info, "y": top, "x": left}, sort_keys=True).encode()})
    return samples, {"name": photo["name"], "split": photo["split"], "tiles": len(samples)}
