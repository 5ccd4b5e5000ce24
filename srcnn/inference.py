"""Trained models on disk and on photos: safe checkpoint loading, and restoration of a whole photo
of any size in overlapping tiles, equal to one whole-image pass: of its luma by a luma model, of
all three channels of YCbCr by a colour model (``channels_of`` 3); with ``passes`` above 1, the
mean of the passes over that many of the photo's 8 flips and rotations.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from .archs import align_of, arch_of, channels_of, from_config
from .checks import check_info, check_weights
from .color import rgb_to_ycbcr, ycbcr_to_rgb, ycbcr_to_rgb_float
from .device import INT8, autocast, pick_precision
from .files import atomic_path

CPU = torch.device("cpu")

# (quarter turns, mirrored) of each pass, in the order ``passes`` takes them: 2 passes are the photo
# and its half turn, 4 its four turns, 8 EDSR's self-ensemble (Lim et al. 2017)
VIEWS = ((0, False), (2, False), (1, False), (3, False), (0, True), (2, True), (1, True), (3, True))
PASSES = (1, 2, 4, 8)

FORMAT = "srcnn-checkpoint/1"


class CheckpointError(ValueError):
    """A file that is not a model checkpoint of this project."""


def save_model(path: str | Path, model: nn.Module, info: dict[str, Any] | None = None) -> None:
    """Write the state dict, the network's arch and config, and ``info`` (plain values) atomically."""
    state = {
        "format": FORMAT,
        "arch": arch_of(model),
        "config": dict(cast(dict[str, Any], model.config)),
        "state_dict": {key: value.detach().cpu().contiguous() for key, value in model.state_dict().items()},
        "info": dict(info or {}),
    }
    with atomic_path(path) as temp:
        torch.save(state, temp)


def load_model(path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """Load a checkpoint written by ``save_model``, as the network of the arch it records (SRCNN for
    checkpoints from before there were others); never unpickles code (``weights_only=True``)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such model file; train one with 'dvc repro' or pass --model")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        # PyTorch's own message would suggest loading the file with weights_only=False, which runs
        # whatever code the file carries: never relay that advice for a file we did not write.
        raise CheckpointError(
            f"{path}: not a model checkpoint of this project: it is not a file of plain "
            f"tensors and values as the train stage writes them, so it was not loaded"
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a model checkpoint of this project (no '{FORMAT}' marker)")
    arch = state.get("arch", "srcnn")
    try:
        info = check_info(state.get("info", {}), path)
    except ValueError as error:
        raise CheckpointError(str(error)) from None
    try:
        model = from_config(arch, state["config"])
        model.load_state_dict(state["state_dict"])
    except Exception as error:
        raise CheckpointError(f"{path}: checkpoint does not match its {arch} network ({error})") from None
    check_weights(model, path)
    return model.eval(), info


def model_scale(info: dict[str, Any]) -> int:
    """The super-resolution factor a checkpoint was trained for (1: restoration at the same size)."""
    return int(info.get("params", {}).get("scale", 1) or 1)


def trained_qualities(info: dict[str, Any]) -> tuple[int, int] | None:
    """The JPEG qualities a checkpoint was trained on, as (low, high) (one quality q: (q, q)), from
    the ``jpeg_quality`` param the train stage stores in ``info["params"]``; None when it was
    trained with no JPEG step (null) or the checkpoint does not say."""
    quality = info.get("params", {}).get("jpeg_quality")
    if quality is None or isinstance(quality, bool):
        return None
    if isinstance(quality, (int, float)):
        return int(quality), int(quality)
    try:
        low, high = (int(value) for value in quality)
    except (TypeError, ValueError):
        return None
    return low, high


def windows(
    height: int, width: int, tile: int, margin: int
) -> Iterator[tuple[tuple[slice, slice], tuple[slice, slice], tuple[slice, slice]]]:
    """Cover an image with ``tile``×``tile`` blocks, each read with ``margin`` pixels of context.

    Yields (read, keep, put): the window to read from the image, the part of the model's output on
    it to keep, and where that part goes in the result. With ``margin`` at least the model's
    receptive radius, every kept pixel sees exactly what it would see in a whole-image pass.
    """
    if tile < 1:
        raise ValueError(f"tile must be at least 1 pixel, got {tile}")
    for top in range(0, height, tile):
        bottom = min(top + tile, height)
        y0, y1 = max(0, top - margin), min(height, bottom + margin)
        for left in range(0, width, tile):
            right = min(left + tile, width)
            x0, x1 = max(0, left - margin), min(width, right + margin)
            yield (
                (slice(y0, y1), slice(x0, x1)),
                (slice(top - y0, bottom - y0), slice(left - x0, right - x0)),
                (slice(top, bottom), slice(left, right)),
            )


def forward_planes(
    model: nn.Module,
    planes: torch.Tensor,
    device: torch.device,
    dtype: torch.dtype | None,
    strength: float | None = None,
    passes: int = 1,
) -> torch.Tensor:
    """The model over a C×H×W block in [0, 1] (luma, or YCbCr for a colour model); float32 C×H×W
    out, clamped to [0, 1].

    Channels-last memory and, when ``dtype`` is given, autocast (bf16 on CPUs that have it): the
    convolutions run in ``dtype`` while the residual sum stays in float32. ``strength`` goes to a
    conditioned model (one with ``conditioned`` true) and is ignored by any other.
    ``passes`` (1, 2, 4 or 8): the mean of that many passes, over the first ``passes`` of ``VIEWS``
    (``passes`` times the time).
    """
    if passes not in PASSES:
        raise ValueError(f"passes must be one of {', '.join(map(str, PASSES))}, got {passes}")
    if passes > 1:
        return _mean_of_views(model, planes, device, dtype, strength, passes)
    block = planes[None].to(device).contiguous(memory_format=torch.channels_last)
    with autocast(device, dtype):
        output = model(block, strength) if getattr(model, "conditioned", False) else model(block)
    return output.float()[0].clamp_(0, 1).cpu()


def _mean_of_views(
    model: nn.Module,
    planes: torch.Tensor,
    device: torch.device,
    dtype: torch.dtype | None,
    strength: float | None,
    passes: int,
) -> torch.Tensor:
    """``forward_planes`` averaged over the first ``passes`` views of the block, each pass undone.

    An odd side is first padded to the model's grid by repeating its last row or column (as
    ``arch_util.fold`` pads a whole photo): a turned window then folds on the photo's own grid,
    so that tiles still equal a whole-photo pass.
    """
    height, width = planes.shape[-2:]
    align = align_of(model)
    padded = torch.nn.functional.pad(planes[None], (0, -width % align, 0, -height % align), mode="replicate")[0]
    total = torch.zeros(padded.shape, dtype=torch.float32)
    for turns, mirrored in VIEWS[:passes]:
        view = torch.rot90(padded, turns, (-2, -1))
        view = view.flip(-1) if mirrored else view
        output = forward_planes(model, view.contiguous(), device, dtype, strength)
        output = output.flip(-1) if mirrored else output
        total += torch.rot90(output, -turns, (-2, -1))
    return (total / passes)[..., :height, :width]


def forward_luma(
    model: nn.Module,
    luma: torch.Tensor,
    device: torch.device,
    dtype: torch.dtype | None,
    strength: float | None = None,
    passes: int = 1,
) -> torch.Tensor:
    """``forward_planes`` on an H×W luma block; float32 H×W out."""
    return forward_planes(model, luma[None], device, dtype, strength, passes)[0]


def _samples(
    luma_of: Callable[[tuple[slice, slice]], np.ndarray], height: int, width: int, size: int = 128, count: int = 3
) -> list[torch.Tensor]:
    """Up to count² luma blocks spread over the photo, for int8 calibration."""
    size_y, size_x = min(size, height), min(size, width)
    tops = np.linspace(0, height - size_y, count).astype(int)
    lefts = np.linspace(0, width - size_x, count).astype(int)
    return [
        torch.from_numpy((luma_of((slice(top, top + size_y), slice(left, left + size_x))) / 255.0).astype(np.float32))[
            None, None
        ]
        for top in tops
        for left in lefts
    ]


def _prepared(
    model: nn.Module,
    device: torch.device,
    dtype: torch.dtype | None,
    samples: Callable[[], list[torch.Tensor]],
    strength: float | None = None,
) -> tuple[nn.Module, torch.device, torch.dtype | None]:
    """The module to run and how: int8 is a quantized copy calibrated on ``samples()`` (CPU), at
    ``strength`` for a conditioned model; one that cannot be made (a strength out of the int8
    input's range, a copy that disagrees) runs in bf16 (or fp32) instead, with a warning."""
    if getattr(model, "conditioned", False) and strength is None:
        raise ValueError(
            "this model is conditioned on the photo's compression strength: pass strength "
            "(srcnn.jpeg.strength_for_quality(q), or 0.0 for a photo never compressed)"
        )
    if dtype == INT8:
        from .quantized import QuantizationError, quantize

        try:
            return quantize(model, samples(), strength), CPU, None
        except QuantizationError as error:
            warnings.warn(f"{error}; running this photo in bf16 (or fp32) instead", stacklevel=3)
            dtype = pick_precision("auto", torch.device("cpu"))
    return model.to(device).eval().to(memory_format=torch.channels_last), device, dtype


@torch.inference_mode()
def restore_luma(
    model: nn.Module,
    luma: np.ndarray,
    device: torch.device = CPU,
    dtype: torch.dtype | None = None,
    tile: int = 512,
    strength: float | None = None,
    passes: int = 1,
) -> np.ndarray:
    """Run a luma model over an H×W luma image in [0, 255] (float or uint8); returns float64 in [0, 255].

    The photo goes through in ``tile``-sized blocks, each read with a margin of the model's
    receptive radius, so memory stays bounded and the result equals a whole-image pass (in fp32:
    to float rounding). ``dtype``: None (fp32), ``torch.bfloat16`` (autocast) or ``INT8``, each
    faster and a little less exact than the one before. ``strength``: the photo's compression
    strength (``srcnn.jpeg``), given to a conditioned model on every tile, ignored by others.
    ``passes``: each tile is the mean of the passes over that many of its flips and rotations
    (``forward_planes``): ``passes`` times the time, for a gain measured in docs/enhance.md.
    """
    if channels_of(model) != 1:
        raise ValueError(
            f"restore_luma runs luma models; this one restores {channels_of(model)} channels: use restore_rgb"
        )
    luma = np.asarray(luma)
    height, width = luma.shape
    tile += -tile % align_of(model)  # windows start on the grid a half-resolution network folds on
    model, device, dtype = _prepared(
        model, device, dtype, lambda: _samples(lambda where: luma[where].astype(np.float64), height, width), strength
    )
    image = torch.from_numpy(luma.astype(np.float32) / 255.0)
    result = np.empty((height, width), dtype=np.float64)
    for read, keep, put in windows(height, width, tile, cast(int, model.radius)):
        result[put] = forward_luma(model, image[read], device, dtype, strength, passes)[keep].numpy() * 255.0
    return result


@torch.inference_mode()
def restore_rgb(
    model: nn.Module,
    rgb: np.ndarray,
    device: torch.device = CPU,
    dtype: torch.dtype | None = None,
    tile: int = 512,
    on_tile: Callable[[int, int], None] | None = None,
    strength: float | None = None,
    passes: int = 1,
) -> np.ndarray:
    """Restore an H×W×3 uint8 colour photo; returns H×W×3 uint8 (``strength`` and ``passes``
    as in ``restore_luma``). ``on_tile(done, total)`` is called before the first tile and after
    each (progress within a large photo).
    A float photo in [0, 255] (a 16-bit one, divided by 257) is restored the same way and comes
    back float64, never rounded to 8 bits.

    A luma model runs on Y of YCbCr (BT.601 as everywhere in the project), and Cb and Cr are kept
    from the input; a colour model restores Y, Cb and Cr. Colour conversion happens per tile too,
    so memory beyond the input and output photos stays a few tiles' worth at any photo size.
    """
    height, width = rgb.shape[:2]
    tile += -tile % align_of(model)
    colour = channels_of(model) == 3
    model, device, dtype = _prepared(
        model, device, dtype, lambda: _samples(lambda where: rgb_to_ycbcr(rgb[where])[..., 0], height, width), strength
    )
    deep = rgb.dtype != np.uint8
    result = np.empty(rgb.shape, dtype=np.float64 if deep else np.uint8)
    total = -(-height // tile) * -(-width // tile)  # the number of windows
    if on_tile is not None:
        on_tile(0, total)
    for done, (read, keep, put) in enumerate(windows(height, width, tile, cast(int, model.radius)), start=1):
        ycbcr = rgb_to_ycbcr(rgb[read])
        if colour:
            planes = torch.from_numpy((ycbcr / 255.0).astype(np.float32).transpose(2, 0, 1))
            restored = forward_planes(model, planes, device, dtype, strength, passes)[:, keep[0], keep[1]]
            core = restored.numpy().transpose(1, 2, 0).astype(np.float64) * 255.0
        else:
            luma = torch.from_numpy((ycbcr[..., 0] / 255.0).astype(np.float32))
            core = ycbcr[keep]
            core[..., 0] = (
                forward_luma(model, luma, device, dtype, strength, passes)[keep].numpy().astype(np.float64) * 255.0
            )
        result[put] = ycbcr_to_rgb_float(core) if deep else ycbcr_to_rgb(core)
        if on_tile is not None:
            on_tile(done, total)
    return result
