"""Stage evaluate: the trained model on the val photos, whole-photo inference.

Writes metrics/eval.json (means over photos of PSNR, SSIM and PSNR-B of the degraded input and of
the restored output against the clean photo, on luma), metrics/eval_photos.csv (one row a photo)
and plots/before_after/*.png.

    python -m stages.evaluate
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from srcnn.progress import progress

from srcnn import metrics
from srcnn.color import rgb_to_y
from srcnn.dataset import load_pairs
from srcnn.files import atomic_dir, atomic_path, write_text_atomic
from srcnn.images import load_rgb, save_png
from srcnn.inference import load_model, restore_luma, restore_rgb
from srcnn.params import load_params
from srcnn.pictures import before_after

VAL, TILES, MODEL = Path("data/prepared/val"), Path("data/tiles/val"), "models/srcnn.pt"
METRICS, TABLE, PICTURES = "metrics/eval.json", "metrics/eval_photos.csv", "plots/before_after"
MAX_PICTURES = 6


def main() -> None:
    params = load_params()
    model, _ = load_model(MODEL)
    border = params.border
    rows = []
    with atomic_dir(PICTURES) as pictures:
        names = sorted(path.name for path in (VAL / "clean").glob("*.png"))
        for number, name in enumerate(progress(names, desc="evaluate", unit="photo")):
            clean, degraded = load_rgb(VAL / "clean" / name), load_rgb(VAL / "degraded" / name)
            clean_y, degraded_y = rgb_to_y(clean), rgb_to_y(degraded)
            restored_y = restore_luma(model, degraded_y)
            row = {"photo": name.removesuffix(".png"), "width": clean.shape[1], "height": clean.shape[0]}
            for label, image in (("input", degraded_y), ("output", restored_y)):
                row[f"psnr_{label}"] = metrics.psnr(clean_y, image, border)
                row[f"ssim_{label}"] = metrics.ssim(clean_y, image, border)
                row[f"psnrb_{label}"] = metrics.psnr_b(clean_y, image, border)
            row["psnr_gain"] = row["psnr_output"] - row["psnr_input"]
            rows.append(row)
            if number < MAX_PICTURES:
                save_png(pictures / f"{row['photo']}.png", before_after(clean, degraded, restore_rgb(model, degraded)))
    table = pd.DataFrame(rows)
    tiles = load_pairs(TILES)
    tile_input, tile_output = tile_psnr(model, tiles, border)
    summary = {key: round(float(table[key].mean()), 4) for key in
               ("psnr_input", "psnr_output", "psnr_gain", "ssim_input", "ssim_output", "psnrb_input", "psnrb_output")}
    summary.update(tile_psnr_input=round(tile_input, 4), tile_psnr_output=round(tile_output, 4),
                   photos=len(table), tiles=len(tiles), crop_border=border)
    with atomic_path(TABLE) as temp:
        table.round(4).to_csv(temp, index=False)
    write_text_atomic(METRICS, json.dumps(summary, indent=2) + "\n")
    print(f"evaluate: {len(table)} val photos, PSNR {summary['psnr_input']:.2f} → {summary['psnr_output']:.2f} dB "
          f"({summary['psnr_gain']:+.2f} dB), SSIM {summary['ssim_input']:.4f} → {summary['ssim_output']:.4f}")


@torch.no_grad()
def tile_psnr(model: torch.nn.Module, pairs: torch.Tensor, border: int) -> tuple[float, float]:
    """Mean per-tile PSNR of the degraded tiles and of the model's output on them (luma, uint8 tiles)."""
    inputs, outputs = [], []
    for pair in pairs.numpy():
        clean, degraded = pair[0].astype(np.float64), pair[1].astype(np.float64)
        inputs.append(metrics.psnr(clean, degraded, border))
        outputs.append(metrics.psnr(clean, restore_luma(model, degraded), border))
    return float(np.mean(inputs)), float(np.mean(outputs))


if __name__ == "__main__":
    main()
