"""One run of the check: its sizes, its time budget, its log and ``gpu_check.json``.

Every part runs through ``Check.run``: skipped, saying so, when the budget has too little left for
it; its error recorded in ``errors`` without losing the other parts. ``Check.save`` writes the JSON
again after each part, so a run cut short still leaves what it measured.
"""

from __future__ import annotations

import dataclasses
import datetime
import gc
import json
import os
import platform
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks import workfolder
from srcnn.device import cpu_has_bf16

# --cpu: params small enough for the whole check to run in well under a minute on 2 cores
TINY_PARAMS = {
    **workfolder.TINY_PARAMS,
    "max_side": 160,
    "val_fraction": 0.2,
    "photos_per_shard": 1,
    "eval_qualities": [20, 60],
    "device": "cpu",
}
PARTS = (
    "pipeline",
    "loader",
    "throughput",
    "gpu_busy",
    "resume",
    "continue",
    "quality",
    "quality_runs",
    "seeds",
    "enhance",
    "largest_batch",
    "compile",
    "torchrun",
)


@dataclasses.dataclass(frozen=True)
class Sizes:
    """How much each part does: the GPU's sizes, or --cpu's tiny ones."""

    throughput_steps: int
    throughput_warmup: int
    cpu_throughput_steps: int
    profile_steps: int
    compile_steps: int
    compile_warmup: int
    batch_steps: int
    photo: tuple[int, int] | None  # (width, height) of the enhance photo; None: the generated 12 MP one
    budget_s: float
    big_batch: int  # a batch that fills the GPU better than params.yaml's
    quality_reserve_s: float  # the quality part's seconds besides training: prepare, tile, evaluate


GPU_SIZES = Sizes(
    throughput_steps=300,
    throughput_warmup=20,
    cpu_throughput_steps=40,
    profile_steps=50,
    compile_steps=200,
    compile_warmup=10,
    batch_steps=5,
    photo=None,
    budget_s=420.0,
    big_batch=2048,
    quality_reserve_s=210.0,
)
CPU_SIZES = Sizes(
    throughput_steps=4,
    throughput_warmup=1,
    cpu_throughput_steps=4,
    profile_steps=2,
    compile_steps=2,
    compile_warmup=1,
    batch_steps=2,
    photo=(192, 144),
    budget_s=240.0,
    big_batch=16,
    quality_reserve_s=0.0,
)


def skipped(reason: str) -> dict[str, str]:
    return {"skipped": reason}


def log(message: str) -> None:
    print(message, flush=True)


class Check:
    """The results, the clock and the log of one run."""

    def __init__(self, out: Path, mode: str, sizes: Sizes, budget: float) -> None:
        self.out, self.mode, self.sizes, self.budget = out, mode, sizes, budget
        self.started = time.perf_counter()
        self.results: dict[str, Any] = {
            "mode": mode,
            "complete": False,
            "started": datetime.datetime.now(datetime.UTC).isoformat(),
            "seconds": 0.0,
            "budget_s": budget,
            "machine": {},
            **{part: {} for part in PARTS},
            "errors": [],
        }

    def left(self) -> float:
        return self.budget - (time.perf_counter() - self.started)

    def save(self) -> None:
        self.results["seconds"] = round(time.perf_counter() - self.started, 1)
        temp = self.out / "gpu_check.json.tmp"
        temp.write_text(json.dumps(self.results, indent=2, default=str) + "\n")
        temp.replace(self.out / "gpu_check.json")

    def run(self, name: str, need_s: float, work: Callable[[], Any]) -> Any:
        """``work()``, or a skip when less than ``need_s`` of the budget is left, or the error it raised."""
        left = self.left()
        if left < need_s:
            log(f"== {name}: skipped, {left:.0f} s of the budget left, {need_s:.0f} s needed")
            return skipped(f"time: {left:.0f} s of the {self.budget:.0f} s budget left, {need_s:.0f} s needed")
        log(f"== {name} ({left:.0f} s of the budget left)")
        started = time.perf_counter()
        try:
            result = work()
        except Exception as error:  # noqa: BLE001 — one part failing must not lose the others
            log(traceback.format_exc())
            self.results["errors"].append({"part": name, "error": f"{type(error).__name__}: {error}"[:2000]})
            result = {"error": f"{type(error).__name__}: {error}"[:500]}
        finally:
            if torch.cuda.is_available():
                gc.collect()
                torch.cuda.empty_cache()
        log(f"   {name}: {time.perf_counter() - started:.1f} s")
        return result


def machine() -> dict[str, Any]:
    import skimage
    import webdataset

    info: dict[str, Any] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "numpy": np.__version__,
        "scikit_image": getattr(skimage, "__version__", "?"),
        "webdataset": getattr(webdataset, "__version__", "?"),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cpu_bf16": cpu_has_bf16(),
        "gpus": torch.cuda.device_count() if torch.cuda.is_available() else 0,
        "gpu": None,
        "gpu_memory_gb": None,
        "gpu_bf16": None,
    }
    if info["gpus"]:
        properties = torch.cuda.get_device_properties(0)
        info.update(
            gpu=properties.name,
            gpu_memory_gb=round(properties.total_memory / 2**30, 1),
            gpu_bf16=torch.cuda.is_bf16_supported(),
        )
    try:
        info["cpu_model"] = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        info["cpu_model"] = None
    return info
