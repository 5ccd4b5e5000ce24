"""Checks that keep a broken model or checkpoint from harming a photo: a model's weights are
finite and not all zero (checked once, at load), a checkpoint's info is of the types and bounds the
pipeline writes, and a restored photo stays close to its input (checked before every write).

Used by ``srcnn.inference.load_model`` (and so by ``enhance`` and the evaluate stage) and by
``srcnn.enhance.enhance_photo``; ``from_another_photo`` tells an existing output of ``enhance`` made from
another photo of the same name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from .images import MAX_PIXELS, ImageError, load_rgb
from .metrics import psnr

MAX_SCALE = 4  # the largest factor the pipeline trains (params.py allows 1-4)
# A restoration changes a JPEG's pixels by a few grey levels: across the shipped models on
# urban40/set14 photos at JPEG 10-95 the restored photo stays above 27 dB of its input. A black,
# blank or noise output lies under 15 dB; 20 dB leaves room on both sides.
MIN_INPUT_PSNR = 20.0


class BrokenModelError(ValueError):
    """A model whose weights or outputs cannot be a restoration."""


def check_weights(model: nn.Module, path: str | Path) -> None:
    """Refuse a model with NaN or infinite weights, or with every weight zero, naming its file."""
    tensors = [tensor for tensor in model.state_dict().values() if tensor.is_floating_point()]
    for name, tensor in model.state_dict().items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise BrokenModelError(
                f"{path}: the model is broken: its weights {name} hold NaN or infinite values "
                f"(a diverged training run?); it was not used"
            )
    if tensors and all(not bool(tensor.any()) for tensor in tensors):
        raise BrokenModelError(f"{path}: the model is broken: every weight is zero; it was not used")


def check_info(info: Any, path: str | Path) -> dict[str, Any]:
    """The checkpoint's info when its fields have the types and bounds the train stage writes;
    otherwise CheckpointError-like ValueError naming the field."""
    if not isinstance(info, dict):
        raise ValueError(f"{path}: checkpoint field 'info' is a {type(info).__name__}, not a mapping")
    params = info.get("params", {})
    if not isinstance(params, dict):
        raise ValueError(f"{path}: checkpoint field 'info.params' is a {type(params).__name__}, not a mapping")
    scale = params.get("scale", 1)
    if scale is None:
        scale = 1
    if isinstance(scale, bool) or not isinstance(scale, int) or not 1 <= scale <= MAX_SCALE:
        raise ValueError(f"{path}: checkpoint field 'info.params.scale' is {scale!r}; the pipeline trains 1 to 4")
    quality = params.get("jpeg_quality")
    if quality is not None and not isinstance(quality, (int, float, list, tuple)):
        raise ValueError(f"{path}: checkpoint field 'info.params.jpeg_quality' is {quality!r}; not a quality")
    return info


def check_restored(restored: np.ndarray, original: np.ndarray, model: str | Path) -> None:
    """Refuse a restored photo that no working model can have made from ``original`` (same size,
    uint8): one far from its input (black, blank, noise), naming the model."""
    similarity = psnr(original.astype(np.float64), restored.astype(np.float64))
    if not np.isfinite(similarity) or similarity < MIN_INPUT_PSNR:
        raise BrokenModelError(
            f"the model {model} is broken: its output is {similarity:.1f} dB from the input, where a "
            f"restoration stays above {MIN_INPUT_PSNR:.0f} dB; the photo was written unchanged"
        )


def from_another_photo(photo: Path, output: Path, scale: int) -> bool:
    """Whether ``output`` cannot be a restoration of ``photo``: it is not of its size times ``scale``
    or, brought back to its size, lies under ``MIN_INPUT_PSNR`` of it (where ``check_restored`` keeps
    every output); another photo of the same name lies far under that bound. Comparing the pixels,
    rather than recording each output's source in a file or a metadata chunk, works for every output
    format and for outputs written before, and adds no file to the folder. False when either cannot
    be read as a photo: nothing tells where such a file came from."""
    try:
        original, written = load_rgb(photo), load_rgb(output, max_pixels=MAX_SCALE**2 * MAX_PIXELS)
    except ImageError:
        return False
    height, width = original.shape[:2]
    if written.shape[:2] != (height * scale, width * scale):
        return True
    if scale > 1:
        written = np.asarray(Image.fromarray(written).resize((width, height), Image.Resampling.BICUBIC))
    return bool(psnr(original.astype(np.float64), written.astype(np.float64)) < MIN_INPUT_PSNR)
