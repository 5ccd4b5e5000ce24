"""One photo restored at three settings of ``--quality``: what the user's control does. The picture
in docs/enhance.md is this script's.

    python -m benchmarks.quality_settings                       # writes docs/images/quality-settings.png
    python -m benchmarks.quality_settings --out settings.png --qualities 70 50 30

The photo is scikit-image's ``coffee`` (it ships with the project's dependencies), saved as a JPEG
of quality 30, resized to 75 % and saved again at 90: a photo whose table says 90, whose first save
the pixel check finds under the resize. ``enhance`` restores it with its defaults (as the check
says), then told each quality of ``--qualities``. Printed: the PSNR gain (RGB) of each against the clean photo resized
alike; the picture shows the same crop of the input and of each output, side by side. The last line
is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image, ImageDraw

from srcnn import metrics
from srcnn.degrade import Journey, travelled_file
from srcnn.enhance import enhance_photo, parser, setup
from srcnn.images import load_rgb

FACTOR = 0.75
CROP = (150, 250, 150)  # top, left, side of the crop shown (in the resized photo)


def travelled_photo() -> tuple[np.ndarray, bytes]:
    """The clean photo resized, and the JPEG file the user has: saved at 30, resized, saved at 90."""
    saves = Journey("resized", (30, 90), resize=FACTOR, resampling="bicubic")
    return travelled_file(skimage.data.coffee(), saves)


def restored(photo: Path, quality: int | None, scratch: Path) -> tuple[np.ndarray, str]:
    """``enhance``'s output for ``photo`` (its defaults, or ``--quality``), and its line."""
    options = ["--quality", str(quality)] if quality is not None else []
    restorers = setup(parser().parse_args([str(photo), "-o", str(scratch / "out"), *options]))
    target = scratch / f"out-{quality or 'table'}.png"
    decision = enhance_photo(restorers, photo, target)
    return load_rgb(target), decision.line


def strip(panels: list[tuple[str, np.ndarray]]) -> Image.Image:
    """The crop of each panel side by side, enlarged 2×, each captioned."""
    top, left, side = CROP
    scale, caption = 2, 18
    picture = Image.new("RGB", (len(panels) * side * scale, side * scale + caption), "white")
    draw = ImageDraw.Draw(picture)
    for index, (label, pixels) in enumerate(panels):
        crop = Image.fromarray(pixels[top : top + side, left : left + side])
        picture.paste(crop.resize((side * scale,) * 2, Image.Resampling.NEAREST), (index * side * scale, caption))
        draw.text((index * side * scale + 4, 3), label, fill="black")
    return picture


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    arguments.add_argument("--out", type=Path, default=Path("docs/images/quality-settings.png"))
    arguments.add_argument("--qualities", type=int, nargs="+", default=[90, 20])
    args = arguments.parse_args()
    reference, data = travelled_photo()
    scratch = Path(tempfile.mkdtemp(prefix="quality-settings-"))
    photo = scratch / "coffee.jpg"
    photo.write_bytes(data)
    before = load_rgb(photo)
    panels, rows = [("input: 30, resized, 90", before)], []
    for quality in (None, *args.qualities):
        output, line = restored(photo, quality, scratch)
        gain = metrics.psnr(reference.astype(np.float64), output.astype(np.float64)) - metrics.psnr(
            reference.astype(np.float64), before.astype(np.float64)
        )
        said = f"--quality {quality}" if quality is not None else "defaults"
        rows.append({"setting": said, "gain_db": round(gain, 2), "line": line})
        panels.append((f"{said}: {gain:+.2f} dB", output))
        print(f"{said:22s} RGB {gain:+.2f} dB   ({line})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    strip(panels).save(args.out, optimize=True)
    print(json.dumps({"photo": "skimage.data.coffee, 30 → 75 % → 90", "out": str(args.out), "rows": rows}))


if __name__ == "__main__":
    main()
