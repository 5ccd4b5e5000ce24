"""A model judged the way the restoration literature judges one: whole val photos, one score each.

    table = evaluate_photos(model, photos, border=0)   # (name, clean RGB, degraded RGB) each; one row a photo
    summary = summarize(table)                         # means over photos

Each photo is scored on 8-bit luma (BT.601 Y rounded, as MATLAB's ``rgb2ycbcr`` gives it for
8-bit photos, the model's own input), with ``border`` pixels ignored at each edge. The model's
output is rounded to 8 bits too, as a saved photo would be. PSNR, SSIM and PSNR-B come from
``srcnn.metrics`` in float64; averages are over photos, never a PSNR of a pooled MSE. For
``scale`` > 1 the degraded photo is the bicubic-upscaled one (``srcnn.degrade``), so
``psnr_input`` is the bicubic baseline of the SRCNN paper (when ``jpeg_quality`` is null).
"""
from __future__ import annotations

import hashlib
import math
from typing import Callable, Iterable

import numpy as np
import pandas as pd
import torch
from torch import nn

from . import metrics
from .color import rgb_to_ycbcr, to_luma_u8, ycbcr_to_rgb
from .inference import restore_luma
from .progress import progress

SUMMARY_KEYS = ("psnr_input", "psnr_output", "psnr_gain", "ssim_input", "ssim_output", "ssim_gain",
                "psnrb_input", "psnrb_output", "psnrb_gain")

# called with (photo name, clean RGB, degraded RGB, restored RGB, the photo's row) for pictures
PhotoHook = Callable[[str, np.ndarray, np.ndarray, np.ndarray, dict], None]


def score(clean_y: np.ndarray, test_y: np.ndarray, border: int) -> dict[str, float]:
    """PSNR, SSIM and PSNR-B of one luma image against the clean one."""
    return {"psnr": metrics.psnr(clean_y, test_y, border), "ssim": metrics.ssim(clean_y, test_y, border),
            "psnrb": metrics.psnr_b(clean_y, test_y, border)}


def evaluate_photos(model: nn.Module, photos: Iterable[tuple[str, np.ndarray, np.ndarray]], border: int,
                    on_photo: PhotoHook | None = None, dtype: torch.dtype | None = None,
                    total: int | None = None) -> pd.DataFrame:
    """One row per (name, clean RGB, degraded RGB) photo: its size and PSNR/SSIM/PSNR-B of the
    degraded input and of the model's output (fp32 unless ``dtype``), with the gains; ``on_photo``
    sees the images. Photos are taken one at a time, so memory does not grow with their number."""
    rows = []
    for name, clean, degraded in progress(photos, desc="evaluate", unit="photo", total=total):
        clean_y, degraded_y = to_luma_u8(clean).astype(np.float64), to_luma_u8(degraded).astype(np.float64)
        restored_y = np.round(restore_luma(model, degraded_y, dtype=dtype))
        row: dict = {"photo": name.removesuffix(".png"), "width": clean.shape[1], "height": clean.shape[0]}
        for label, image in (("input", degraded_y), ("output", restored_y)):
            for metric, value in score(clean_y, image, border).items():
                row[f"{metric}_{label}"] = value
        for metric in ("psnr", "ssim", "psnrb"):
            row[f"{metric}_gain"] = row[f"{metric}_output"] - row[f"{metric}_input"]
        rows.append(row)
        if on_photo is not None:
            ycbcr = rgb_to_ycbcr(degraded)
            ycbcr[..., 0] = restored_y
            on_photo(name, clean, degraded, ycbcr_to_rgb(ycbcr), row)
    if not rows:
        raise FileNotFoundError("no val photos to evaluate; run the prepare stage first (dvc repro)")
    return pd.DataFrame(rows)


def pick_photos(digests: dict[str, str], count: int, seed: int) -> set[str]:
    """``count`` of the photos (name → sha256 of its bytes), the same ones in every run: those
    with the lowest hash of (seed, bytes); all of them when ``count`` is 0 or more than there are."""
    if count == 0 or count >= len(digests):
        return set(digests)
    ranked = sorted(digests, key=lambda name: hashlib.sha256(f"eval:{seed}:{digests[name]}".encode()).hexdigest())
    return set(ranked[:count])


def summarize(table: pd.DataFrame) -> dict[str, float | int]:
    """Means over photos of every score, and the counts; finite values only (ValueError otherwise)."""
    summary: dict[str, float | int] = {key: round(float(table[key].mean()), 4) for key in SUMMARY_KEYS}
    summary.update(photos=len(table), pixels=int((table["width"] * table["height"]).sum()))
    bad = [key for key, value in summary.items() if not math.isfinite(value)]
    if bad:
        raise ValueError(f"evaluation gave non-finite {', '.join(bad)}")
    return summary
