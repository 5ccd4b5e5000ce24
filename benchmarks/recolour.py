"""Recoloured copies of a folder's train photos: more colours for a colour model than the folder holds.

    python -m benchmarks.recolour BENCH/urban40 --out ../recoloured --copies 3
    # then, in params.yaml: raw_dir: [BENCH/urban40, BENCH/train400, ../recoloured]

Urban photos are mostly gray stone, glass and sky: a colour model trained on them meets few saturated
edges, and its chroma gains less on photos of animals, fruit or faces. Each copy is the photo with its
chroma turned and stretched in YCbCr (``srcnn.color``; luma kept): copy 0 swaps the RGB channels
at random first, copy 1 turns the hue by a random angle, and the copies multiply the saturation by
1.3-2, 1.5-2.5 and 2-3 (drawn per copy from ``--seed``; more than 3 copies repeat the cycle). The
copies are clean PNGs; the pipeline compresses them as it does any photo of ``raw_dir``.

Only the photos that the prepare stage sends to train are copied (its split by content, with the
project's ``val_fraction`` and ``seed`` from params.yaml): a copy of a val photo would train on what
is scored; nor are gray photos, whose copies would be the photo itself. The copies draw a split of
their own, so some land in val, where they only add tiles. Never writes into the photos' folder. The last
line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from srcnn.color import rgb_to_ycbcr, ycbcr_to_rgb
from srcnn.images import ImageError, load_rgb
from srcnn.params import ParamsError, load_params
from srcnn.photos import RawDirError, assign_split, find_photos

SATURATION = ((1.3, 2.0), (1.5, 2.5), (2.0, 3.0))


def recolour(rgb: np.ndarray, copy: int, rng: np.random.Generator) -> np.ndarray:
    """Copy ``copy`` of an H×W×3 uint8 photo: channels swapped (copy 0), hue turned (copy 1), saturation × 1.3-3."""
    kind = copy % 3
    if kind == 0:
        rgb = rgb[..., list(rng.permutation(3))]
    ycbcr = rgb_to_ycbcr(rgb)
    angle = rng.uniform(0.0, 2.0 * np.pi) if kind == 1 else 0.0
    saturation = rng.uniform(*SATURATION[kind])
    turn = saturation * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    ycbcr[..., 1:] = (ycbcr[..., 1:] - 128.0) @ turn.T + 128.0
    return ycbcr_to_rgb(ycbcr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path, help="the photos to copy (one folder, as in raw_dir)")
    parser.add_argument(
        "--out", type=Path, required=True, help="folder for the copies (created; outside the photos' folder)"
    )
    parser.add_argument("--copies", type=int, default=3, help="copies of each train photo")
    parser.add_argument("--seed", type=int, default=1, help="seed of the channel orders, angles and saturations")
    parser.add_argument(
        "--params",
        type=Path,
        default=Path("params.yaml"),
        help="the project's params (val_fraction and seed decide which photos are train)",
    )
    args = parser.parse_args()
    if args.copies < 1:
        parser.error(f"--copies must be 1 or more, got {args.copies}")
    folder, out = args.folder.resolve(), args.out.resolve()
    if out == folder or folder in out.parents:
        parser.error(
            f"--out {args.out} is inside the photos' folder {args.folder}; the photos' folder is never written to"
        )
    try:
        params = load_params(args.params)
        photos, _ = find_photos(folder)
    except (ParamsError, RawDirError, OSError) as error:
        sys.exit(f"recolour: error: {error}")
    split = assign_split(photos, params.val_fraction, params.seed)
    train = [photo for photo in photos if split[photo.name] == "train"]
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    gray = 0
    for photo in train:
        try:
            rgb = load_rgb(photo.path)
        except ImageError as error:
            sys.exit(f"recolour: error: {error}")
        # drawn for a gray photo too, so that the other photos' copies do not depend on which are gray
        copies = [recolour(rgb, copy, rng) for copy in range(args.copies)]
        if (rgb[..., :1] == rgb).all():
            gray += 1
            continue
        for copy, image in enumerate(copies):
            Image.fromarray(image).save(out / f"{Path(photo.name).stem}-c{copy}.png")
    made = (len(train) - gray) * args.copies
    print(
        f"recolour: {made} copies of {len(train) - gray} train photos in {args.out} "
        f"({gray} gray train photos and {len(photos) - len(train)} val photos left out)"
    )
    print(
        json.dumps(
            {
                "folder": str(args.folder),
                "out": str(args.out),
                "train_photos": len(train),
                "gray_photos": gray,
                "val_photos": len(photos) - len(train),
                "copies": made,
                "seed": args.seed,
            }
        )
    )


if __name__ == "__main__":
    main()
