"""``srcnn.inference.restore_rgb`` (what ``python -m srcnn enhance`` runs on each photo, without
reading and writing files) on a generated 12 MP photo at JPEG quality 20, with the pipeline's model:
on the GPU with enhance's default tile (512 px) and with 2048 px tiles, and on the CPU with
enhance's default precision there (int8 where the CPU has a quantized backend)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from srcnn.archs import SRCNN
from srcnn.color import to_luma_u8
from srcnn.degrade import jpeg_roundtrip
from srcnn.device import pick_precision
from srcnn.inference import load_model, restore_rgb
from srcnn.jpeg import strength_for_quality
from srcnn.metrics import psnr
from srcnn.params import Params

from .check import Check, skipped
from .report import ratio

QUALITY = 20  # the photo's JPEG quality


def enhance_photo(size: tuple[int, int] | None) -> np.ndarray:
    """The 4032×3024 mosaic of benchmarks/enhance_speed.py, or a small photo of that size."""
    if size is None:
        from benchmarks.enhance_speed import generated_photo

        return generated_photo()
    from skimage import data

    return np.asarray(Image.fromarray(data.astronaut()).resize(size, Image.Resampling.LANCZOS))


def luma_psnr(clean: np.ndarray, other: np.ndarray) -> float:
    return round(psnr(to_luma_u8(clean).astype(np.float64), to_luma_u8(other).astype(np.float64)), 3)


def restore_once(
    model_path: Path | None, params: Params, degraded: np.ndarray, clean: np.ndarray, device: torch.device, tile: int
) -> dict[str, Any]:
    model = load_model(model_path)[0] if model_path else SRCNN.from_params(params)
    dtype = pick_precision("auto", device, int8=True)
    torch.backends.cudnn.benchmark = False  # as in `enhance` (training switched it on in this process)
    strength = strength_for_quality(QUALITY)
    restore_rgb(model, degraded[:256, :256], device, dtype, tile, strength=strength)  # warm-up: kernels, int8 engine
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    started = time.perf_counter()
    restored = restore_rgb(model, degraded, device, dtype, tile, strength=strength)  # returns numpy: synchronized
    seconds = time.perf_counter() - started
    megapixels = degraded.shape[0] * degraded.shape[1] / 1e6
    result = {
        "seconds": round(seconds, 3),
        "megapixels_per_s": round(megapixels / seconds, 2),
        "tile": tile,
        "precision": str(dtype or "fp32"),
        "device": str(device),
        "psnr_db": luma_psnr(clean, restored),
    }
    if cuda:
        result["max_memory_allocated_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    return result


def run_enhance(check: Check, model_path: Path | None, params: Params, gpu: torch.device | None) -> dict[str, Any]:
    clean = enhance_photo(check.sizes.photo)
    degraded = jpeg_roundtrip(clean, QUALITY)
    height, width = clean.shape[:2]
    result: dict[str, Any] = {
        "photo": f"{width}×{height}",
        "megapixels": round(width * height / 1e6, 2),
        "jpeg_quality": QUALITY,
        "model": "pipeline" if model_path else "untrained",
        "psnr_input_db": luma_psnr(clean, degraded),
    }
    if gpu is None:
        result["gpu"] = result["gpu_tile_2048"] = skipped("--cpu: no GPU")
    else:
        result["gpu"] = check.run(
            "enhance on the GPU", 15, lambda: restore_once(model_path, params, degraded, clean, gpu, 512)
        )
        result["gpu_tile_2048"] = check.run(
            "enhance on the GPU, tile 2048", 15, lambda: restore_once(model_path, params, degraded, clean, gpu, 2048)
        )
    result["cpu"] = check.run(
        "enhance on the CPU", 15, lambda: restore_once(model_path, params, degraded, clean, torch.device("cpu"), 512)
    )
    result["ratio"] = ratio(result["cpu"], result["gpu"], "seconds")
    return result
