"""Trained models on disk and on photos: safe checkpoint loading, and luma restoration of a whole
photo of any size in overlapping tiles, equal to one whole-image pass.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from .color import rgb_to_ycbcr, ycbcr_to_rgb
from .files import atomic_path
from .model import SRCNN
from .train import autocast

FORMAT = "srcnn-checkpoint/1"


class CheckpointError(ValueError):
    """A file that is not a model checkpoint of this project."""


def save_model(path: str | Path, model: SRCNN, info: dict[str, Any] | None = None) -> None:
    """Write the state dict, the model's config and ``info`` (plain values) atomically."""
    state = {"format": FORMAT, "config": dict(model.config),
             "state_dict": {key: value.detach().cpu().contiguous() for key, value in model.state_dict().items()},
             "info": dict(info or {})}
    with atomic_path(path) as temp:
        torch.save(state, temp)


def load_model(path: str | Path) -> tuple[SRCNN, dict[str, Any]]:
    """Load a checkpoint written by ``save_model``; never unpickles code (``weights_only=True``)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such model file; train one with 'dvc repro' or pass --model")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise CheckpointError(f"{path}: not a model checkpoint of this project "
                              f"(refused to load it safely: {type(error).__name__}: {str(error)[:200]})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a model checkpoint of this project (no '{FORMAT}' marker)")
    try:
        model = SRCNN.from_config(state["config"])
        model.load_state_dict(state["state_dict"])
    except Exception as error:
        raise CheckpointError(f"{path}: checkpoint does not match the SRCNN model ({error})") from None
    return model.eval(), state.get("info", {})


@torch.no_grad()
def restore_luma(model: SRCNN, luma: np.ndarray, device: torch.device = torch.device("cpu"),
                 dtype: torch.dtype | None = None, tile: int = 512) -> np.ndarray:
    """Run the model over an H×W luma image in [0, 255] (float or uint8); returns float64 in [0, 255].

    The photo goes through in ``tile``-sized blocks, each read with a margin of the model's
    receptive radius, so memory stays bounded and the result equals a whole-image pass.
    """
    model = model.to(device).eval().to(memory_format=torch.channels_last)
    image = torch.from_numpy(np.asarray(luma, dtype=np.float32) / 255.0)
    height, width = image.shape
    margin = model.radius
    result = np.empty((height, width), dtype=np.float64)
    for top in range(0, height, tile):
        for left in range(0, width, tile):
            bottom, right = min(top + tile, height), min(left + tile, width)
            y0, x0 = max(0, top - margin), max(0, left - margin)
            y1, x1 = min(height, bottom + margin), min(width, right + margin)
            block = image[y0:y1, x0:x1][None, None].to(device).contiguous(memory_format=torch.channels_last)
            with autocast(device, dtype):
                output = model(block)
            output = output.float()[0, 0, top - y0:bottom - y0, left - x0:right - x0]
            result[top:bottom, left:right] = output.clamp(0, 1).cpu().numpy() * 255.0
    return result


def restore_rgb(model: SRCNN, rgb: np.ndarray, device: torch.device = torch.device("cpu"),
                dtype: torch.dtype | None = None, tile: int = 512) -> np.ndarray:
    """Restore a colour photo: the model runs on luma, chroma is kept from the input."""
    ycbcr = rgb_to_ycbcr(rgb)
    ycbcr[..., 0] = restore_luma(model, ycbcr[..., 0], device, dtype, tile)
    return ycbcr_to_rgb(ycbcr)
