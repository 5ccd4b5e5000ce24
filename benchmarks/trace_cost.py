"""What the pixel check (``srcnn.history.jpeg_trace``) costs of ``enhance``'s time on a 12 MP photo.

    python -m benchmarks.trace_cost [--photo /work/shared/benchmark/set14/lenna.png]

A benchmark photo is enlarged (bicubic) to 4000×3000 and saved as a JPEG at quality 30, re-saved at
90 (a photo that travelled: the check finds the 30). ``enhance_photo`` restores it with the shipped
colour model and enhance's defaults (the whole command's work: reading, the check, restoring,
writing), and the check alone is timed on the same pixels, in the same run; each the fastest of
``--repeats``. Target: the check ≤ 10 % of enhance's time. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
from PIL import Image

from benchmarks.onnx_speed import cpu_name
from srcnn.enhance import enhance_photo, parser, read_header, setup
from srcnn.gate import QUALITY_MARGIN
from srcnn.history import jpeg_trace
from srcnn.images import load_rgb
from srcnn.jpeg import estimate_quality

WIDTH, HEIGHT = 4000, 3000
T = TypeVar("T")


def travelled_photo(source: Path, path: Path) -> None:
    """``source`` enlarged to 12 MP, saved at JPEG 30, decoded and saved again at 90 into ``path``."""
    with Image.open(source) as image:
        large = image.convert("RGB").resize((WIDTH, HEIGHT), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    large.save(buffer, format="JPEG", quality=30)
    with Image.open(buffer) as once:
        once.convert("RGB").save(path, format="JPEG", quality=90)


def fastest(work: Callable[[], T], repeats: int) -> tuple[float, T]:
    """The fastest of ``repeats`` runs of ``work`` (at least one), and the last run's result."""
    times, results = [], []
    for _ in range(max(repeats, 1)):
        started = time.perf_counter()
        results.append(work())
        times.append(time.perf_counter() - started)
    return min(times), results[-1]


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    arguments.add_argument("--photo", type=Path, default=Path("/work/shared/benchmark/set14/lenna.png"))
    arguments.add_argument("--repeats", type=int, default=2)
    args = arguments.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="trace-cost-"))
    photo, target = scratch / "photo.jpg", scratch / "photo.png"
    travelled_photo(args.photo, photo)
    restorers = setup(parser().parse_args([str(photo), "-o", str(target)]))

    def whole() -> str:
        target.unlink(missing_ok=True)
        return enhance_photo(restorers, photo, target).line

    enhance_s, line = fastest(whole, args.repeats)
    rgb, qtable = load_rgb(photo), read_header(photo).qtable
    below = estimate_quality(qtable) - QUALITY_MARGIN if qtable is not None else None
    trace_s, trace = fastest(lambda: jpeg_trace(np.asarray(rgb), below), args.repeats)
    share = trace_s / enhance_s
    print(f"enhance: {line}")
    print(f"{WIDTH}×{HEIGHT}: enhance {enhance_s:.2f} s, of which the pixel check {trace_s:.2f} s ({share:.1%})")
    print(
        json.dumps(
            {
                "photo": f"{args.photo} at {WIDTH}x{HEIGHT}, JPEG 30 re-saved at 90",
                "cpu": cpu_name(),
                "enhance_s": round(enhance_s, 3),
                "trace_s": round(trace_s, 3),
                "trace_quality": trace.quality,
                "share": round(share, 4),
                "target_share": 0.10,
            }
        )
    )


if __name__ == "__main__":
    main()
