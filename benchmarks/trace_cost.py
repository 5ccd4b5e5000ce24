"""What the pixel check (``srcnn.history.pixel_trace``) costs of ``enhance``'s time on a 12 MP photo.

    python -m benchmarks.trace_cost [--photo /work/shared/benchmark/set14/lenna.png]

A benchmark photo is mirrored to fill 4000×3000 and saved as a JPEG at quality 30, re-saved at
90 (a photo that travelled: the check finds the 30); then saved once at 90 (the check looks on every
grid, then for a shrunk one, and finds none: its longest path). ``enhance_photo`` restores each with
the shipped colour model and enhance's defaults (the whole command's work: reading, the check,
restoring, writing), and the check alone is timed on the same pixels, in the same run; each the
fastest of ``--repeats``. Target: the check ≤ 10 % of enhance's time. The last line is one JSON object.
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
from srcnn.history import pixel_trace
from srcnn.images import load_rgb

WIDTH, HEIGHT = 4000, 3000
T = TypeVar("T")


def travelled_photo(source: Path, path: Path, first: int | None) -> None:
    """``source`` made 12 MP, saved at JPEG ``first`` (None: not), decoded and saved at 90 into ``path``."""
    small = load_rgb(source)  # mirrored to 12 MP: enlarged, its corners would be too smooth to search
    rows, columns = max(0, HEIGHT - small.shape[0]), max(0, WIDTH - small.shape[1])
    large = Image.fromarray(np.pad(small, ((0, rows), (0, columns), (0, 0)), mode="symmetric")[:HEIGHT, :WIDTH])
    if first is not None:
        buffer = io.BytesIO()
        large.save(buffer, format="JPEG", quality=first)
        large = Image.open(buffer).convert("RGB")
    large.save(path, format="JPEG", quality=90)


def fastest(work: Callable[[], T], repeats: int) -> tuple[float, T]:
    """The fastest of ``repeats`` runs of ``work`` (at least one), and the last run's result."""
    times, results = [], []
    for _ in range(max(repeats, 1)):
        started = time.perf_counter()
        results.append(work())
        times.append(time.perf_counter() - started)
    return min(times), results[-1]


def measure(source: Path, first: int | None, repeats: int, scratch: Path) -> dict:
    """enhance's time on ``source`` made 12 MP and saved at ``first`` (or not) then 90, and the check's."""
    photo, target = scratch / f"photo-{first}.jpg", scratch / f"photo-{first}.png"
    travelled_photo(source, photo, first)
    restorers = setup(parser().parse_args([str(photo), "-o", str(target)]))

    def whole() -> str:
        target.unlink(missing_ok=True)
        return enhance_photo(restorers, photo, target).line

    enhance_s, line = fastest(whole, repeats)
    rgb, qtable = load_rgb(photo), read_header(photo).qtable
    trace_s, trace = fastest(lambda: pixel_trace(np.asarray(rgb), qtable), repeats)
    share = trace_s / enhance_s
    print(f"enhance: {line}")
    print(f"{WIDTH}×{HEIGHT}: enhance {enhance_s:.2f} s, of which the pixel check {trace_s:.2f} s ({share:.1%})")
    case = f"JPEG {first} re-saved at 90" if first is not None else "JPEG 90"
    return {"photo": f"{source} at {WIDTH}x{HEIGHT}, {case}", "enhance_s": round(enhance_s, 3),
            "trace_s": round(trace_s, 3), "trace_quality": trace.quality, "share": round(share, 4)}  # fmt: skip


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    arguments.add_argument("--photo", type=Path, default=Path("/work/shared/benchmark/set14/lenna.png"))
    arguments.add_argument("--repeats", type=int, default=2)
    args = arguments.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="trace-cost-"))
    rows = [measure(args.photo, first, args.repeats, scratch) for first in (30, None)]
    print(json.dumps({"cpu": cpu_name(), "rows": rows, "target_share": 0.10}))


if __name__ == "__main__":
    main()
