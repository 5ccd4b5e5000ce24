"""Training data kept in memory: every paired tile decoded once into one uint8 tensor, and batches
cut from it with random crops and the 8 flips/rotations in a single gather — no per-sample Python.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .images import load_gray
from .tiling import split_pair


def load_pairs(folder: str | Path) -> torch.Tensor:
    """All ``*.png`` paired tiles of a folder, sorted by name, as an N×2×T×T uint8 tensor
    (channel 0 clean, channel 1 degraded)."""
    folder = Path(folder)
    paths = sorted(folder.glob("*.png"))
    if not paths:
        raise FileNotFoundError(f"{folder}: no paired tiles (*.png); run the tile stage first")
    tiles = []
    for path in paths:
        clean, degraded = split_pair(load_gray(path))
        if tiles and clean.shape != tiles[0].shape[1:]:
            raise ValueError(f"{path}: tile {clean.shape} differs from the others {tiles[0].shape[1:]}")
        tiles.append(np.stack([clean, degraded]))
    return torch.from_numpy(np.stack(tiles))


def random_batch(pairs: torch.Tensor, batch_size: int, crop: int,
                 generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Random crops, flips and transposes of random tiles, as float (degraded, clean) in [0, 1].

    ``pairs`` may live on any device; indices are drawn on the CPU with ``generator`` so a run is
    reproducible whatever the device.
    """
    count, _, height, width = pairs.shape
    index = torch.randint(count, (batch_size,), generator=generator)
    top = torch.randint(height - crop + 1, (batch_size,), generator=generator)
    left = torch.randint(width - crop + 1, (batch_size,), generator=generator)
    flips = torch.randint(2, (3, batch_size), generator=generator).bool()
    steps = torch.arange(crop)
    rows = top[:, None] + torch.where(flips[0, :, None], crop - 1 - steps, steps)
    cols = left[:, None] + torch.where(flips[1, :, None], crop - 1 - steps, steps)
    transpose = flips[2, :, None, None]
    grid_rows = torch.where(transpose, rows[:, None, :], rows[:, :, None])
    grid_cols = torch.where(transpose, cols[:, :, None], cols[:, None, :])
    device = pairs.device
    batch = pairs[index.to(device)[:, None, None, None], torch.arange(2, device=device)[None, :, None, None],
                  grid_rows.to(device)[:, None], grid_cols.to(device)[:, None]]
    batch = batch.float().div_(255.0)
    return batch[:, 1:2], batch[:, 0:1]
