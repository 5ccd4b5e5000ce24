"""How often ``enhance``'s pixel check finds an older JPEG save under a resize (``srcnn.resize_trace``)
where there is one, and where there is none: JPEG files saved once at high qualities.

    python -m benchmarks.resize_trace /work/shared/benchmark/urban40 /work/shared/benchmark/set5 \\
        /work/shared/benchmark/set14
    python -m benchmarks.resize_trace /work/shared/benchmark/train400 --every 4
    python -m benchmarks.resize_trace /work/shared/benchmark/urban40 --corner bottom_left

Each photo's luma is saved once at each quality of ``--single`` (any older save found is false), and
saved at each quality of ``--first``, shrunk by each factor of ``--scales`` (bicubic and Lanczos in
turn) and saved at 90 (found right: the quality within 5 and the factor within 1 %). The JPEG files
are traced as ``enhance`` traces them (``srcnn.history.pixel_trace``); with ``--corner``, only the
resize search runs, at that corner whether it has detail or not (``srcnn.resize_trace.corner_trace``).
The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from benchmarks.onnx_speed import cpu_name
from srcnn.color import to_luma_u8
from srcnn.degrade import Journey, decode_jpeg, travelled_file
from srcnn.history import JpegTrace, pixel_trace
from srcnn.images import load_rgb
from srcnn.jpeg import standard_qtable
from srcnn.photos import list_photo_files
from srcnn.resize_trace import CORNERS, corner_trace


def traced(luma: np.ndarray, journey: Journey, corner: str | None) -> JpegTrace:
    """What the pixel check finds in the JPEG file ``journey`` makes of ``luma`` (at ``corner`` only)."""
    _, data = travelled_file(luma, journey)
    if corner is None:
        return pixel_trace(decode_jpeg(data, luma), standard_qtable(journey.qualities[-1]))
    shrunk = corner_trace(decode_jpeg(data, luma), corner)
    return JpegTrace(shrunk.quality, resize=shrunk.scale) if shrunk is not None else JpegTrace(None)


def parse_args() -> argparse.Namespace:
    arguments = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    arguments.add_argument("folders", type=Path, nargs="+", help="folders of clean photos")
    arguments.add_argument("--every", type=int, default=1, help="every n-th photo of the folders")
    arguments.add_argument("--single", type=int, nargs="+", default=[80, 85, 90, 95], help="qualities saved once")
    arguments.add_argument("--first", type=int, nargs="+", default=[10, 30, 50], help="qualities before a shrink")
    arguments.add_argument("--scales", type=float, nargs="+", default=[0.55, 0.67, 0.75, 0.85, 0.95])
    arguments.add_argument("--corner", choices=CORNERS, help="search this corner only, with detail or not")
    return arguments.parse_args()


def main() -> None:
    args = parse_args()
    started = time.perf_counter()
    paths = [path for folder in args.folders for path in list_photo_files(folder)[0]][:: args.every]
    photos = [(path.name, to_luma_u8(load_rgb(path))) for path in paths]
    false: dict[str, list[tuple[str, int, float]]] = {}
    for quality in args.single:
        traces = [(name, traced(luma, Journey("single", (quality,)), args.corner)) for name, luma in photos]
        found = [(name, trace.quality, trace.resize) for name, trace in traces if trace.resize < 1.0]
        false[str(quality)] = [(name, int(quality), resize) for name, quality, resize in found if quality is not None]
        print(f"saved once at {quality}: a shrunk grid in {len(found)} of {len(photos)} {found}", flush=True)
    right: dict[str, int] = {}
    for first in args.first:
        for scale in args.scales:
            hits = 0
            for index, (_, luma) in enumerate(photos):
                resampling = ("bicubic", "lanczos")[index % 2]
                trace = traced(luma, Journey("resized", (first, 90), resize=scale, resampling=resampling), args.corner)
                quality = trace.quality if trace.quality is not None else -100
                hits += abs(quality - first) <= 5 and abs(trace.resize - scale) < 0.01
            right[f"{first}>{scale}>90"] = hits
            print(f"saved at {first}, shrunk to {scale:.0%}, saved at 90: found in {hits} of {len(photos)}", flush=True)
    summary = {
        "folders": [str(folder) for folder in args.folders],
        "photos": len(photos),
        "corner": args.corner or "as enhance looks",
        "false_finds": false,
        "found_right": right,
        "cpu": cpu_name(),
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
