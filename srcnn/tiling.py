"""Aligned tiles and the seed's paired-tile format: one image ``2·tile`` wide, clean left, degraded right.

    write_tiles(clean_png, degraded_png, out_dir, tile=128, stride=64)  # one photo's tiles
    clean, degraded = split_pair(load_gray(out_dir / "photo.png_y00000_x00000.png"))
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .color import to_luma_u8
from .images import load_rgb, save_png


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


def write_tiles(clean_path: Path, degraded_path: Path, out_dir: Path, tile: int, stride: int) -> dict:
    """Cut one prepared photo pair into paired luma tiles ``out_dir/<photo>_y<row>_x<col>.png``."""
    clean, degraded = to_luma_u8(load_rgb(clean_path)), to_luma_u8(load_rgb(degraded_path))
    height, width = clean.shape
    if min(height, width) < tile:
        return {"file": clean_path.name, "tiles": 0,
                "reason": f"{clean_path.name}: {width}×{height} is smaller than one {tile} px tile"}
    stem = clean_path.name.removesuffix(".png")
    count = 0
    for top in tile_origins(height, tile, stride):
        for left in tile_origins(width, tile, stride):
            pair = join_pair(clean[top:top + tile, left:left + tile], degraded[top:top + tile, left:left + tile])
            save_png(out_dir / f"{stem}_y{top:05d}_x{left:05d}.png", pair)
            count += 1
    return {"file": clean_path.name, "tiles": count}
