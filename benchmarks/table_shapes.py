"""A model on JPEGs whose quantization tables are flatter or steeper than the standard ones.

    python -m benchmarks.table_shapes --model models/pretrained/restorer.pt --photos BENCH/set5 BENCH/set14

The models are trained on libjpeg's standard tables, whose steps rise with frequency. Other
encoders use other shapes: some flatter (a video codec's intra frames often one step for every
frequency). For each quality and each blend ``alpha`` this saves every photo of the folders (those
whose pixels show no earlier compression, ``srcnn.history``) with the table
``standard ** (1 - alpha) * flat ** alpha``, where ``flat`` is the one step with the same low-frequency
mean, so the strength the model is told stays the same (alpha 0: the standard table, 1: flat,
below 0: steeper), restores it with that strength as ``enhance --force`` would and prints the
luma PSNR gain, the photos made worse and the table's ``srcnn.jpeg.steepness``, which
``enhance`` checks (``MIN_STEEPNESS``). The standard table (alpha 0) is the baseline each row compares with.
The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import numpy as np
from PIL import Image

from srcnn import metrics
from srcnn.color import to_luma_u8
from srcnn.enhance import MIN_STEEPNESS
from srcnn.history import jpeg_history, quantization_steps
from srcnn.images import is_photo_name, load_rgb
from srcnn.inference import load_model, restore_rgb
from srcnn.jpeg import LOW_FREQUENCIES, compression_strength, standard_qtable, steepness


def blended_table(quality: int, alpha: float) -> list[int]:
    standard = np.asarray(standard_qtable(quality), dtype=np.float64)
    flat = np.exp(np.log(standard[list(LOW_FREQUENCIES)]).mean())
    return [int(step) for step in np.clip(np.round(standard ** (1 - alpha) * flat**alpha), 1, 255)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--photos", type=Path, nargs="+", required=True, help="folders of clean photos")
    parser.add_argument("--qualities", type=int, nargs="+", default=[20, 50, 80])
    parser.add_argument("--alphas", type=float, nargs="+", default=[-0.5, 0.0, 0.25, 0.5, 0.75, 1.0])
    args = parser.parse_args()
    model, _ = load_model(args.model)
    photos = [load_rgb(path) for folder in args.photos for path in sorted(folder.iterdir()) if is_photo_name(path)]
    photos = [rgb for rgb in photos if jpeg_history(rgb) is None and quantization_steps(rgb) is None]
    rows = []
    print(f"{len(photos)} photos never compressed; luma PSNR gain in dB as enhance --force restores them")
    for quality in args.qualities:
        for alpha in args.alphas:
            table = blended_table(quality, alpha)
            strength = compression_strength(table)
            gains = []
            for clean in photos:
                buffer = io.BytesIO()
                Image.fromarray(clean).save(buffer, format="JPEG", qtables=[table, table], subsampling=2)
                with Image.open(buffer) as image:
                    degraded = np.asarray(image.convert("RGB"))
                restored = restore_rgb(model, degraded, strength=strength)
                clean_y = to_luma_u8(clean).astype(np.float64)
                gains.append(
                    metrics.psnr(clean_y, to_luma_u8(restored).astype(np.float64))
                    - metrics.psnr(clean_y, to_luma_u8(degraded).astype(np.float64))
                )
            row = {
                "quality": quality,
                "alpha": alpha,
                "steepness": round(steepness(table), 3),
                "strength": round(strength, 3),
                "gain": round(float(np.mean(gains)), 3),
                "worse": int(np.sum(np.array(gains) < 0)),
                "worst": round(float(np.min(gains)), 3),
            }
            rows.append(row)
        baseline = next((row["gain"] for row in rows if row["quality"] == quality and row["alpha"] == 0.0), None)
        for row in (row for row in rows if row["quality"] == quality):
            against = f", {row['gain'] - baseline:+.2f} against the standard table" if baseline is not None else ""
            print(
                f"q{quality} alpha {row['alpha']:+.2f}: steepness {row['steepness']:.2f}, gain {row['gain']:+.2f}, "
                f"{row['worse']}/{len(photos)} worse (worst {row['worst']:+.2f}){against}"
                f"{'' if row['steepness'] >= MIN_STEEPNESS else '; enhance leaves such JPEGs unchanged'}",
                flush=True,
            )
    print(json.dumps({"model": str(args.model), "photos": len(photos), "min_steepness": MIN_STEEPNESS, "rows": rows}))


if __name__ == "__main__":
    main()
