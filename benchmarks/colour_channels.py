"""Where a restored colour photo's RGB error lies: Y, Cb and Cr gains of a colour and a luma model.

    python -m benchmarks.colour_channels --colour COLOUR.pt --luma models/pretrained/restorer.pt \\
        --photos BENCH/set5 BENCH/set14 --quality 20 [--passes N]

Degrades each colour photo of the folders (gray ones are skipped) at one JPEG quality, restores it
as ``enhance`` does with each model (fp32, whole photo, told the quality's strength), and prints per
model the PSNR gain on RGB and on each plane of YCbCr (BT.601, the project's), means over photos;
then the photo made of the luma model's Y and the colour model's Cb and Cr: what the colour model's
RGB gain would be if its luma were as good as the luma model's. ``--passes N``: both models
restore as ``enhance --passes N`` does (default 1). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from srcnn import metrics
from srcnn.color import is_gray, rgb_to_ycbcr, ycbcr_to_rgb
from srcnn.degrade import degrade
from srcnn.images import is_photo_name, load_rgb
from srcnn.inference import PASSES, load_model, restore_rgb
from srcnn.jpeg import strength_for_quality


def colour_photos(folders: list[Path]) -> list[tuple[str, np.ndarray]]:
    photos = []
    for folder in folders:
        for path in sorted(p for p in folder.iterdir() if is_photo_name(p)):
            rgb = load_rgb(path)
            if not is_gray(rgb):
                photos.append((f"{folder.name}/{path.stem}", rgb))
    return photos


def gains(clean: np.ndarray, degraded: np.ndarray, restored: np.ndarray) -> dict[str, float]:
    """PSNR gain in dB on RGB and on each YCbCr plane (float planes, as the model sees them)."""
    figures = {"rgb": metrics.psnr(clean, restored) - metrics.psnr(clean, degraded)}
    planes = [rgb_to_ycbcr(image) for image in (clean, degraded, restored)]
    for index, name in enumerate(("y", "cb", "cr")):
        reference, before, after = (plane[..., index] for plane in planes)
        figures[name] = float(10 * np.log10(np.mean((reference - before) ** 2) / np.mean((reference - after) ** 2)))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--colour", type=Path, required=True, help="a colour model (channels: ycbcr)")
    parser.add_argument("--luma", type=Path, required=True, help="a luma model")
    parser.add_argument("--photos", type=Path, nargs="+", required=True, help="folders of clean photos")
    parser.add_argument("--quality", type=int, default=20)
    parser.add_argument("--passes", type=int, choices=PASSES, default=1, help="the mean over N flips and rotations")
    args = parser.parse_args()
    colour, _ = load_model(args.colour)
    luma, _ = load_model(args.luma)
    photos = colour_photos(args.photos)
    strength = strength_for_quality(args.quality)
    rows: dict[str, list[dict[str, float]]] = {"colour": [], "luma": [], "luma Y + colour CbCr": []}
    for name, clean in photos:
        degraded = degrade(clean, 1, args.quality)
        by_colour = restore_rgb(colour, degraded, strength=strength, passes=args.passes)
        by_luma = restore_rgb(luma, degraded, strength=strength, passes=args.passes)
        mixed = rgb_to_ycbcr(by_colour)
        mixed[..., 0] = rgb_to_ycbcr(by_luma)[..., 0]
        for key, restored in (("colour", by_colour), ("luma", by_luma), ("luma Y + colour CbCr", ycbcr_to_rgb(mixed))):
            rows[key].append(gains(clean, degraded, restored))
        print(
            f"{name}: RGB gain colour {rows['colour'][-1]['rgb']:+.2f}, luma {rows['luma'][-1]['rgb']:+.2f}", flush=True
        )
    means = {
        key: {plane: round(float(np.mean([row[plane] for row in values])), 3) for plane in ("rgb", "y", "cb", "cr")}
        for key, values in rows.items()
    }
    print(f"\n{len(photos)} colour photos at JPEG quality {args.quality}: PSNR gain in dB, mean over photos")
    print(f"{'model':24} {'RGB':>7} {'Y':>7} {'Cb':>7} {'Cr':>7}")
    for key, figures in means.items():
        print(f"{key:24} {figures['rgb']:+7.2f} {figures['y']:+7.2f} {figures['cb']:+7.2f} {figures['cr']:+7.2f}")
    print(
        json.dumps(
            {
                "quality": args.quality,
                "passes": args.passes,
                "photos": len(photos),
                "colour": str(args.colour),
                "luma": str(args.luma),
                "gains": means,
            }
        )
    )


if __name__ == "__main__":
    main()
