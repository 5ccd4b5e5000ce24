"""Stage evaluate: the trained model on the val photos, whole-photo inference, one score a photo.

Writes metrics/eval.json (means over photos of PSNR, SSIM and PSNR-B on luma of the degraded input
and of the restored output, and the counts; under "ladder", the same photos degraded afresh at each
quality of eval_qualities, one entry a quality), metrics/eval_photos.csv (one row a photo),
metrics/eval_ladder.csv (one row a quality) and plots/before_after/*.png (clean | degraded |
restored, with a zoomed detail). The logic lives in srcnn/evaluation.py.

    python -m stages.evaluate
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from srcnn.evaluation import evaluate_ladder, evaluate_photos, ladder_metrics, summarize, val_qualities
from srcnn.files import atomic_dir, atomic_path, write_text_atomic
from srcnn.images import save_png
from srcnn.inference import load_model
from srcnn.params import load_params
from srcnn.pictures import before_after

VAL, TILES, MODEL = Path("data/prepared/val"), Path("data/tiles/val"), "models/srcnn.pt"
REPORT = Path("data/prepared/report.json")
METRICS, TABLE, PICTURES = "metrics/eval.json", "metrics/eval_photos.csv", "plots/before_after"
LADDER = "metrics/eval_ladder.csv"
MAX_PICTURES = 6


def main() -> None:
    params = load_params()
    model, _ = load_model(MODEL)
    with atomic_dir(PICTURES) as pictures:
        def picture(name: str, clean: np.ndarray, degraded: np.ndarray, restored: np.ndarray, row: dict) -> None:
            if len(list(pictures.iterdir())) < MAX_PICTURES:
                labels = ("clean", f"degraded {row['psnr_input']:.2f} dB",
                          f"restored {row['psnr_output']:.2f} dB ({row['psnr_gain']:+.2f})")
                save_png(pictures / f"{row['photo']}.png", before_after(clean, degraded, restored, labels=labels))

        qualities = val_qualities(REPORT, params.seed, params.jpeg_quality)
        table = evaluate_photos(model, VAL, params.border, on_photo=picture, qualities=qualities)
    summary = summarize(table)
    summary.update(tiles=len(list(TILES.glob("*.png"))), crop_border=params.border)
    ladder = evaluate_ladder(model, VAL, params.border, params.scale, params.eval_qualities)
    summary["ladder"] = ladder_metrics(ladder)
    with atomic_path(TABLE) as temp:
        table.round(4).to_csv(temp, index=False)
    with atomic_path(LADDER) as temp:
        ladder.round(4).to_csv(temp, index=False)
    write_text_atomic(METRICS, json.dumps(summary, indent=2) + "\n")
    gains = ladder["psnr_gain"]
    print(f"evaluate: {summary['photos']} val photos, PSNR {summary['psnr_input']:.2f} → {summary['psnr_output']:.2f} dB "
          f"({summary['psnr_gain']:+.2f} dB), SSIM {summary['ssim_input']:.4f} → {summary['ssim_output']:.4f}; "
          f"JPEG q{ladder['quality'].min()}–q{ladder['quality'].max()}: gain {gains.min():+.2f} to {gains.max():+.2f} dB, "
          f"{int(ladder['photos_worse'].sum())} photo results worse than their input (metrics/eval_ladder.csv)")


if __name__ == "__main__":
    main()
