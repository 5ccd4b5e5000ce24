"""Benchmark: the shipped models in ONNX Runtime against PyTorch, both fp32 on the CPU, on the same photo.

    python -m benchmarks.onnx_speed                          # scikit-image's astronaut (512×512), JPEG q20
    python -m benchmarks.onnx_speed --photo PHOTO.jpg --repeats 5

Each shipped model (models/pretrained/restorer.pt on luma, restorer-colour.pt on YCbCr) is exported with
``srcnn export`` (srcnn/export.py) and run on the whole photo in one forward, in PyTorch (the baseline,
``torch.inference_mode``, fp32) and in ONNX Runtime (CPUExecutionProvider, default threads); each
time is the fastest of ``--repeats`` after one warm-up run. Also the largest difference between the
two outputs, in gray levels. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime
import torch
from PIL import Image

from srcnn.archs import channels_of
from srcnn.color import rgb_to_ycbcr
from srcnn.enhance import PRETRAINED_COLOUR_MODEL, PRETRAINED_MODEL
from srcnn.export import export_onnx
from srcnn.inference import load_model
from srcnn.jpeg import compression_strength, luma_qtable


def photo(path: Path | None) -> tuple[np.ndarray, float]:
    """The photo's YCbCr / 255 (H×W×3 float32) and its compression strength."""
    if path is None:
        from skimage import data

        buffer = io.BytesIO()
        Image.fromarray(data.astronaut()).save(buffer, "JPEG", quality=20)
        source: Path | io.BytesIO = buffer
    else:
        source = path
    with Image.open(source) as jpeg:
        return (rgb_to_ycbcr(np.asarray(jpeg.convert("RGB"))) / 255.0).astype(np.float32), compression_strength(
            luma_qtable(jpeg)
        )


def fastest(call: Callable[[], np.ndarray], repeats: int) -> tuple[float, np.ndarray]:
    result = call()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - start)
    return min(times), result


def measure(checkpoint: Path, ycbcr: np.ndarray, strength: float, repeats: int, folder: Path) -> dict[str, float]:
    model, _ = load_model(checkpoint)
    model.eval()
    planes = ycbcr.transpose(2, 0, 1)[None] if channels_of(model) == 3 else ycbcr[None, None, ..., 0]
    planes = np.ascontiguousarray(planes)
    target = folder / f"{checkpoint.stem}.onnx"
    export_onnx(model, target)
    session = onnxruntime.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    feeds = {"image": planes, "strength": np.full((1, 1, 1, 1), strength, dtype=np.float32)}

    def in_torch() -> np.ndarray:
        with torch.inference_mode():
            return model(torch.from_numpy(planes), torch.tensor([strength])).numpy()

    torch_s, expected = fastest(in_torch, repeats)
    onnx_s, restored = fastest(lambda: session.run(["restored"], feeds)[0], repeats)
    return {
        "torch_s": round(torch_s, 4),
        "onnxruntime_s": round(onnx_s, 4),
        "speedup": round(torch_s / onnx_s, 2),
        "max_diff_gray_levels": round(float(np.abs(restored - expected).max() * 255.0), 5),
    }


def cpu_name() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photo", type=Path, help="a JPEG (default: scikit-image's astronaut at quality 20)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    ycbcr, strength = photo(args.photo)
    results: dict[str, object] = {
        "photo": str(args.photo or "skimage.data.astronaut q20"),
        "pixels": f"{ycbcr.shape[1]}x{ycbcr.shape[0]}",
        "cpu": cpu_name(),
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
    }
    with tempfile.TemporaryDirectory() as folder:
        for name, checkpoint in (("luma", PRETRAINED_MODEL), ("colour", PRETRAINED_COLOUR_MODEL)):
            results[name] = measure(checkpoint, ycbcr, strength, args.repeats, Path(folder))
            print(f"{name}: {results[name]}", file=sys.stderr)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
