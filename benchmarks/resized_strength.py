"""Which JPEG quality a shrunk JPEG is best restored as: the fit behind ``srcnn.jpeg.resized_quality``.

    python -m benchmarks.resized_strength /work/shared/benchmark/urban40
    python -m benchmarks.resized_strength --powers benchmarks/results/resized-strength-2026-12-07.log

Each photo's centre (``--crop`` px) is saved at a quality of ``--first``, shrunk by a factor of
``--scales`` (bicubic) and saved at 90; the shipped colour model restores it told each quality of
``CANDIDATES``. Printed per (first quality, factor): the mean RGB gain told each candidate, the best
candidate, and what ``resized_quality`` tells with the gain there (interpolated between candidates).
The last line is one JSON object. ``--powers LOG`` reads such a line back and prints the mean gain
``resized_quality`` would reach with each power of ``POWERS`` in place of ``SHRINK_POWER``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from benchmarks.onnx_speed import cpu_name
from srcnn import metrics
from srcnn.degrade import Journey, travel
from srcnn.enhance import Restorer, default_models, parser
from srcnn.images import load_rgb
from srcnn.inference import restore_rgb
from srcnn.jpeg import resized_quality, strength_for_quality
from srcnn.photos import list_photo_files

CANDIDATES = (10, 20, 30, 40, 50, 60, 70, 80, 90)
POWERS = (1.0, 1.5, 2.0, 2.25, 2.5, 3.0)


def centre(rgb: np.ndarray, side: int) -> np.ndarray:
    top, left = max(0, (rgb.shape[0] - side) // 2), max(0, (rgb.shape[1] - side) // 2)
    return np.ascontiguousarray(rgb[top : top + side, left : left + side])


def gains(restorer: Restorer, photos: list[np.ndarray], first: int, scale: float) -> np.ndarray:
    """Per photo and candidate quality, the RGB gain of ``restorer`` told that quality."""
    model, settings = restorer.model, restorer.settings
    table = np.zeros((len(photos), len(CANDIDATES)))
    for row, rgb in enumerate(photos):
        reference, degraded = travel(rgb, Journey("resized", (first, 90), resize=scale, resampling="bicubic"))
        before = metrics.psnr(reference.astype(np.float64), degraded.astype(np.float64))
        for column, quality in enumerate(CANDIDATES):
            strength = strength_for_quality(quality)
            restored = restore_rgb(model, degraded, settings.device, settings.dtype, strength=strength)
            table[row, column] = metrics.psnr(reference.astype(np.float64), restored.astype(np.float64)) - before
    return table


def compare_powers(log: Path) -> None:
    """The mean gain over the rows of ``log``'s JSON line told ``resized_quality`` with each of ``POWERS``."""
    rows = json.loads(log.read_text().strip().splitlines()[-1])["rows"]
    means = {}
    for power in POWERS:
        told = [resized_quality(row["first"], row["scale"], power) for row in rows]
        gains = [
            float(np.interp(each, CANDIDATES, list(row["gains"].values())))
            for each, row in zip(told, rows, strict=True)
        ]
        means[power] = round(float(np.mean(gains)), 3)
        print(f"power {power}: mean gain {means[power]:+.3f} dB")
    best = float(np.mean([max(row["gains"].values()) for row in rows]))
    print(json.dumps({"log": str(log), "mean_gain_by_power": means, "best_of_each_row": round(best, 3)}))


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    arguments.add_argument("folder", type=Path, nargs="?", help="a folder of clean colour photos")
    arguments.add_argument("--powers", type=Path, help="a log of this benchmark: compare powers on its rows")
    arguments.add_argument("--crop", type=int, default=400, help="the side of each photo's centre read")
    arguments.add_argument("--first", type=int, nargs="+", default=[10, 20, 30, 40, 50])
    arguments.add_argument("--scales", type=float, nargs="+", default=[0.6, 0.75, 0.9])
    args = arguments.parse_args()
    if args.powers is not None:
        return compare_powers(args.powers)
    if args.folder is None:
        arguments.error("a folder of photos, or --powers LOG")
    started = time.perf_counter()
    photos = [centre(load_rgb(path), args.crop) for path in list_photo_files(args.folder)[0]]
    restorer = default_models(parser().parse_args(["unused.png", "-o", "unused"]))[0].colour
    rows = []
    for first in args.first:
        for scale in args.scales:
            mean = gains(restorer, photos, first, scale).mean(axis=0)
            told = resized_quality(first, scale)
            told_gain = float(np.interp(told, CANDIDATES, mean))
            row = {"first": first, "scale": scale, "gains": dict(zip(CANDIDATES, mean.round(3).tolist(), strict=True))}
            row.update(best=CANDIDATES[int(np.argmax(mean))], told=told, told_gain=round(told_gain, 3))
            rows.append(row)
            figures = " ".join(f"{quality}:{value:+.2f}" for quality, value in zip(CANDIDATES, mean, strict=True))
            print(f"{first} at {scale:.0%}: {figures}  best {row['best']}; told {told}: {told_gain:+.2f}", flush=True)
    summary = {"folder": str(args.folder), "photos": len(photos), "rows": rows, "cpu": cpu_name()}
    print(json.dumps({**summary, "seconds": round(time.perf_counter() - started, 1)}))


if __name__ == "__main__":
    main()
