"""How ``enhance`` (shipped models, its defaults) restores JPEGs as photos travel: single and double
JPEGs, re-saved, cropped and resized photos.

    python -m benchmarks.travelled /work/shared/benchmark/set5 /work/shared/benchmark/set14
    python -m benchmarks.travelled /work/shared/benchmark/set14 --model models/srcnn.pt   # one model, its gate
    python -m benchmarks.travelled /work/shared/benchmark/set14 --cases colour --passes 1   # enhance --passes 1

Each clean photo of the folders is made into a JPEG file for each case, ``enhance_photo`` restores it
as ``python -m srcnn enhance`` would, and the PSNR gain against the clean photo (shifted, cropped or
resized alike) is printed: luma of the gray photo for single and double JPEGs (FBCNN's protocol:
saved at QF1, shifted by (4, 4) or not, saved at QF2), RGB of the colour photo for the rest (luma
for a gray one). A photo made worse than its input is counted per case; one left unchanged gains
0. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks.onnx_speed import cpu_name
from srcnn import metrics
from srcnn.color import to_gray_u8, to_luma_u8
from srcnn.degrade import Journey, travelled_file
from srcnn.enhance import Restorers, enhance_photo, parser, setup
from srcnn.images import load_rgb
from srcnn.photos import list_photo_files

SHIFT = 4  # px: the non-aligned double JPEG's shift (FBCNN)


def journey(kind: str, *qualities: int, shift: int = 0, resize: float = 1.0) -> Callable:
    """A case's maker: a clean photo → the reference (cropped or resized alike) and the JPEG file the
    photo ends as (``srcnn.degrade.travelled_file``)."""
    saves = Journey(kind, qualities, shift=(shift, shift), resize=resize, resampling="bicubic")
    return lambda clean: travelled_file(clean, saves)


# name -> (gray photo: luma gain; else the photo as it is, RGB gain for colour), how it is made
CASES: dict[str, tuple[bool, Callable]] = {
    **{f"single {quality}": (True, journey("single", quality)) for quality in (10, 20, 30, 40)},
    **{
        f"double aligned ({a},{b})": (True, journey("double_aligned", a, b))
        for a, b in ((10, 30), (30, 50), (30, 10), (10, 10))
    },
    **{
        f"double shifted ({a},{b})": (True, journey("double_shifted", a, b, shift=SHIFT))
        for a, b in ((10, 30), (30, 50), (30, 10), (10, 10))
    },
    "saved once at 20 (colour)": (False, journey("single", 20)),
    "saved once at 90 (colour)": (False, journey("single", 90)),
    "30, re-saved at 90": (False, journey("double_aligned", 30, 90)),
    "30, re-saved at 95": (False, journey("double_aligned", 30, 95)),
    "30, cropped by 3 px, re-saved at 90": (False, journey("double_shifted", 30, 90, shift=3)),
    "30, resized to 75 %, re-saved at 90": (False, journey("resized", 30, 90, resize=0.75)),
    "30, resized to 50 %, re-saved at 90": (False, journey("resized", 30, 90, resize=0.5)),
}


def gain(reference: np.ndarray, before: np.ndarray, after: np.ndarray) -> float:
    """PSNR gain of ``after`` over ``before`` (RGB as read) against ``reference``: gray levels for a gray
    reference (H×W), luma for a colour photo whose channels are equal, RGB otherwise."""
    if reference.ndim == 2:  # a gray photo reads back as R = G = B: compared on its own levels, not as luma
        before, after = to_gray_u8(before), to_gray_u8(after)
    elif np.array_equal(reference[..., 0], reference[..., 2]):
        reference, before, after = (to_luma_u8(each) for each in (reference, before, after))
    reference, before, after = (each.astype(np.float64) for each in (reference, before, after))
    return metrics.psnr(reference, after) - metrics.psnr(reference, before)


def parse_args() -> argparse.Namespace:
    arguments = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    arguments.add_argument("folders", type=Path, nargs="+", help="folders of clean photos")
    arguments.add_argument("--cases", nargs="*", help="only the cases whose names contain one of these")
    arguments.add_argument(
        "--model", type=Path, help="restore every photo with this model (enhance --model: its gate beside it)"
    )
    arguments.add_argument(
        "--quality", type=int, help="tell every photo this JPEG quality (enhance --quality), not what it shows"
    )
    arguments.add_argument("--passes", type=int, help="enhance --passes N (default: enhance's, per model)")
    return arguments.parse_args()


def score_case(restorers: Restorers, photos: list, name: str, scratch: Path) -> dict:
    """One case over every photo: its mean gain, the photos made worse and those left unchanged."""
    as_gray, make = CASES[name]
    gains, unchanged = [], 0
    for path, rgb in photos:
        clean = to_luma_u8(rgb) if as_gray else rgb
        reference, data = make(clean)
        source, target = scratch / f"{path.stem}.jpg", scratch / f"{path.stem}.out.png"
        source.write_bytes(data)
        target.unlink(missing_ok=True)
        decision = enhance_photo(restorers, source, target)
        unchanged += decision.strength is None
        gains.append(gain(reference, load_rgb(source), load_rgb(target)))
    return {
        "case": name,
        "gain_db": round(float(np.mean(gains)), 3),
        "worse": int(np.sum(np.array(gains) < -1e-9)),
        "unchanged": unchanged,
        "photos": len(gains),
        "measure": "luma" if as_gray else "rgb",
    }


def main() -> None:
    args = parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="travelled-"))
    given = {"--model": args.model, "--quality": args.quality, "--passes": args.passes}
    options = [part for option, value in given.items() if value for part in (option, str(value))]
    restorers = setup(parser().parse_args(["unused.png", "-o", str(scratch / "out"), *options]))
    photos = [(path, load_rgb(path)) for folder in args.folders for path in list_photo_files(folder)[0]]
    rows, started = [], time.perf_counter()
    for name in CASES:
        if args.cases and not any(part in name for part in args.cases):
            continue
        row = score_case(restorers, photos, name, scratch)
        rows.append(row)
        figures = f"{row['gain_db']:+.2f} dB  worse {row['worse']}  unchanged {row['unchanged']}"
        print(f"{name:40s} {row['measure']:4s} {figures}")
    summary = {
        "folders": [str(folder) for folder in args.folders],
        "model": str(args.model) if args.model else "enhance's defaults",
        "quality": args.quality or "as each photo shows",
        "passes": args.passes or "enhance's",
        "cpu": cpu_name(),
        "seconds": round(time.perf_counter() - started, 1),
        "rows": rows,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
