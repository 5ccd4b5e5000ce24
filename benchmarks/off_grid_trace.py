"""How often the pixel check (``srcnn.history.jpeg_trace``) sees an older save in a JPEG file that has
none, and how often it finds one that is there: the check of its off-grid rule (docs/photos.md).

    python -m benchmarks.off_grid_trace /work/shared/benchmark/set5 /work/shared/benchmark/set14 \\
        /work/shared/benchmark/urban40
    python -m benchmarks.off_grid_trace /work/shared/benchmark/train400 --every 2

Each photo's luma is saved once at each quality of ``--single`` (any trace found is false), and saved at
30, shifted by (4, 4) and saved at 50 (a trace at 30 is right); the pixels are traced as ``enhance``
traces a JPEG file, below its table's quality. The last line is one JSON object.
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
from srcnn.history import jpeg_trace, trace_below
from srcnn.images import load_rgb
from srcnn.jpeg import standard_qtable
from srcnn.photos import list_photo_files

SHIFTED = Journey("double_shifted", (30, 50), shift=(4, 4))


def traced(luma: np.ndarray, journey: Journey) -> int | None:
    """The quality the pixel check finds in the JPEG file ``journey`` makes of ``luma``, or None."""
    _, data = travelled_file(luma, journey)
    return jpeg_trace(decode_jpeg(data, luma), trace_below(standard_qtable(journey.qualities[-1]))).quality


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    arguments.add_argument("folders", type=Path, nargs="+", help="folders of clean photos")
    arguments.add_argument("--every", type=int, default=1, help="every n-th photo of the folders")
    arguments.add_argument("--single", type=int, nargs="+", default=[40, 50, 60, 70, 80], help="qualities saved once")
    args = arguments.parse_args()
    started = time.perf_counter()
    paths = [path for folder in args.folders for path in list_photo_files(folder)[0]][:: args.every]
    photos = [(path.name, to_luma_u8(load_rgb(path))) for path in paths]
    false: dict[int, list[tuple[str, int]]] = {}
    for quality in args.single:
        found = [(name, traced(luma, Journey("single", (quality,)))) for name, luma in photos]
        false[quality] = [(name, trace) for name, trace in found if trace is not None]
        print(f"saved once at {quality}: a trace in {len(false[quality])} of {len(photos)} {false[quality]}")
    shifted = [traced(luma, SHIFTED) for _, luma in photos]
    right = sum(trace is not None and abs(trace - 30) <= 3 for trace in shifted)
    print(f"saved at 30, shifted by (4, 4), saved at 50: found at 30 ± 3 in {right} of {len(photos)}")
    summary = {
        "folders": [str(folder) for folder in args.folders],
        "photos": len(photos),
        "false_traces": {str(quality): found for quality, found in false.items()},
        "shifted_30_50_found": right,
        "cpu": cpu_name(),
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
