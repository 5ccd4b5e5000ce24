"""The GPU check: training and enhance on a lent GPU, each against the same code on that machine's CPU.

Run it through ``benchmarks/gpu_check.sh`` (which installs the carried wheels and keeps the log);
docs/gpu.md has the exact device call. One run writes ``gpu_check.json`` (every figure, written
again after each part, so a run cut short still leaves what it measured) and ``profile.txt`` to
``--out``. The parts (``measure`` runs them most wanted first; each is skipped, saying so, when the
budget has too little left for it):

- ``pipeline``: the pipeline's stages in dvc.yaml's order, each stage's ``cmd`` read from dvc.yaml
  and run as a process in a scratch folder: samples, then the timed prepare → tile → train →
  evaluate, with params.yaml's values (``device: auto`` finds the GPU). After the other parts,
  prepare → tile → train → evaluate again on the same photos with ``device: cpu``, the CPU
  training capped by ``time_budget`` to what time is left (the JSON then says ``train_capped``
  and gives the whole pipeline's time extrapolated from the steps done).
  NOT ``dvc repro``: the device machine has no DVC or DVCLive (docs/gpu.md says why they are not
  carried), so this script runs the stages itself, and the train stage runs as
  ``benchmarks/gpu_check_train.py``: stages/train.py's own ``main()`` with DVCLive's ``Live``
  replaced by a no-op (no ``dvclive/`` curves; everything else, ``models/srcnn.pt`` and
  ``metrics/train.json`` included, as the stage). ``psnr_gain`` is metrics/eval.json's.
- ``throughput``: ``srcnn.train.fit`` on the pipeline's train tiles held in memory on the device,
  the default model and batch (and on the GPU a big batch, 512), in 128 px tile equivalents per second (steps × batch_size ×
  (crop/128)², as benchmarks/train_speed.py counts), timed after the first steps with the device
  synchronized at both ends; on the GPU and on the CPU.
- ``loader``: the train stage's loader alone (``ShardTiles`` over the pipeline's train shards, its
  workers and pinned memory as the stage sets them), batches pulled as fast as they come for a few
  seconds: tiles/s, and the training speed in 128 px equivalents that feeds (one crop per tile).
- ``gpu_busy``: the same training steps under ``torch.profiler`` (CUPTI): the union of the GPU's
  activity intervals (kernels, copies, memsets) over the profiled steps, against the wall time of
  as many steps without the profiler, at params.yaml's batch and at a big one (512). Below 1, the
  GPU waits for Python.
- ``quality``: with ``--raw-dir`` (urban40, carried), prepare → tile → train → evaluate on those
  photos with training capped at ``--quality-minutes`` (epochs made large, as benchmarks/quality.py
  does): the val photos' gain at every quality of the ladder (metrics/eval.json's ``ladder``).
- ``seeds``: with ``--raw-dir`` and ``--seeds``, the price of one model for every quality at equal
  steps: for each seed, ours (params.yaml as it is) and q20_only (benchmarks/quality.py's peer:
  jpeg_quality 20, not conditioned) trained for ``--seed-steps`` steps each, all of them at once
  (the GPU idles at batch 32, see ``gpu_busy``); per seed, both models' gain on the val photos
  (which the seed picks) at every quality, and ours' shortfall at quality 20. Equal steps take
  the CPU's time budget out of the comparison, and several seeds show how much one run's
  shortfall is luck.
- ``enhance``: ``srcnn.inference.restore_rgb`` (what ``python -m srcnn enhance`` runs on each photo,
  without the file reading and writing) on a generated 12 MP photo compressed at JPEG quality 20,
  with the pipeline's model: on the GPU (enhance's default tile of 512 px, and 2048 px) with
  ``torch.cuda.max_memory_allocated``, and on the CPU (int8 where the CPU has a quantized backend,
  enhance's default there).
- ``compile``: ``torch.compile`` (``model.compile()``) off, in its default mode and in
  ``reduce-overhead`` (CUDA graphs); the training code does not compile by default.
- ``largest_batch``: batch_size doubled from params.yaml's until the GPU runs out of memory,
  ``--batch-cap`` or the sweep's time; the throughput at each size.
- ``torchrun``: the train stage under ``torch.distributed.run`` with 2 processes, where the machine
  has 2 GPUs or more.

``--cpu`` runs every part on the CPU with tiny sizes (the sample photos at 160 px, a tiny model, a
few steps, a 192×144 photo to enhance): what needs a GPU (every ``gpu`` entry, ``gpu_busy``, ``reduce-overhead``, ``torchrun``)
is reported as ``{"skipped": reason}``, the compiled variant uses the ``eager`` backend (dynamo
without code generation), and the JSON has every key. tests/test_gpu_check.py runs it so.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import datetime
import gc
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import yaml
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from srcnn.color import to_luma_u8  # noqa: E402
from srcnn.dataset import MemoryTiles, ShardTiles, auto_loader_workers, read_tiles  # noqa: E402
from srcnn.degrade import jpeg_roundtrip  # noqa: E402
from srcnn.device import cpu_has_bf16, pick_precision  # noqa: E402
from srcnn.inference import load_model, restore_rgb  # noqa: E402
from srcnn.jpeg import strength_for_quality  # noqa: E402
from srcnn.metrics import psnr  # noqa: E402
from srcnn.model import SRCNN  # noqa: E402
from srcnn.params import Params, load_params  # noqa: E402
from srcnn.shards import check_complete, shard_paths  # noqa: E402
from srcnn.train import fit  # noqa: E402

TRAIN_RUNNER = ROOT / "benchmarks" / "gpu_check_train.py"
TIMED_STAGES = ("prepare", "tile", "train", "evaluate")  # the pipeline's wall time: samples only writes photos
TILE = 128  # throughput is counted in 128 px tile equivalents
QUALITY = 20  # the enhance photo's JPEG quality
# --cpu: params small enough for the whole check to run in well under a minute on 2 cores
TINY_PARAMS = {"max_side": 160, "tile": 32, "stride": 32, "photos_per_shard": 1, "kernel1": 5, "kernel2": 1, "kernel3": 3,
               "filters1": 8, "filters2": 4, "epochs": 2, "steps_per_epoch": 3, "batch_size": 8, "crop": 24,
               "warmup_steps": 2, "shuffle_buffer": 64, "eval_qualities": [20, 60], "device": "cpu"}


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


GPU_SIZES = Sizes(throughput_steps=300, throughput_warmup=20, cpu_throughput_steps=40, profile_steps=50,
                  compile_steps=200, compile_warmup=10, batch_steps=5, photo=None, budget_s=420.0, big_batch=512)
CPU_SIZES = Sizes(throughput_steps=4, throughput_warmup=1, cpu_throughput_steps=4, profile_steps=2,
                  compile_steps=2, compile_warmup=1, batch_steps=2, photo=(192, 144), budget_s=240.0, big_batch=16)


def skipped(reason: str) -> dict[str, str]:
    return {"skipped": reason}


class Check:
    """The results, the clock and the log of one run."""

    def __init__(self, out: Path, mode: str, sizes: Sizes, budget: float) -> None:
        self.out, self.mode, self.sizes, self.budget = out, mode, sizes, budget
        self.started = time.perf_counter()
        self.results: dict[str, Any] = {
            "mode": mode, "complete": False, "started": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "seconds": 0.0, "budget_s": budget, "machine": {}, "pipeline": {}, "loader": {}, "throughput": {},
            "gpu_busy": {}, "quality": {}, "seeds": {}, "enhance": {}, "largest_batch": {}, "compile": {}, "torchrun": {},
            "errors": []}

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


def log(message: str) -> None:
    print(message, flush=True)


def machine() -> dict[str, Any]:
    import skimage
    import webdataset
    info: dict[str, Any] = {"python": platform.python_version(), "torch": torch.__version__, "cuda": torch.version.cuda,
                            "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
                            "numpy": np.__version__, "scikit_image": skimage.__version__,
                            "webdataset": getattr(webdataset, "__version__", "?"), "cpu": platform.processor() or platform.machine(),
                            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "cpu_bf16": cpu_has_bf16(),
                            "gpus": torch.cuda.device_count() if torch.cuda.is_available() else 0, "gpu": None,
                            "gpu_memory_gb": None, "gpu_bf16": None}
    if info["gpus"]:
        properties = torch.cuda.get_device_properties(0)
        info.update(gpu=properties.name, gpu_memory_gb=round(properties.total_memory / 2**30, 1),
                    gpu_bf16=torch.cuda.is_bf16_supported())
    try:
        info["cpu_model"] = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                                 if line.startswith("model name"))
    except (OSError, StopIteration):
        info["cpu_model"] = None
    return info


# --- the pipeline -----------------------------------------------------------------------------

def stage_command(cmd: str) -> list[str]:
    """A dvc.yaml ``cmd`` as this script runs it: ``python`` is this interpreter, ``torchrun`` is
    ``python -m torch.distributed.run``, and ``-m stages.train`` is benchmarks/gpu_check_train.py
    (the stage's own main() without DVCLive)."""
    words = shlex.split(cmd)
    if words[0] == "python":
        words[0:1] = [sys.executable]
    elif words[0] == "torchrun":
        words[0:1] = [sys.executable, "-m", "torch.distributed.run"]
    for index in range(len(words) - 1):
        if words[index] == "-m" and words[index + 1] == "stages.train":
            words[index:index + 2] = [str(TRAIN_RUNNER)]
            break
    return words


def stage_env() -> dict[str, str]:
    """The stages import the project from ROOT, whatever folder they run in; the carried wheels stay on the path."""
    paths = [str(ROOT)] + [path for path in os.environ.get("PYTHONPATH", "").split(os.pathsep) if path]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(paths), PYTHONUNBUFFERED="1")


def run_command(command: list[str], cwd: Path, timeout: float) -> None:
    log(f"   $ {shlex.join(command)}   (in {cwd})")
    finished = subprocess.run(command, cwd=cwd, env=stage_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=max(timeout, 1.0))
    for line in finished.stdout.replace("\r", "\n").splitlines():
        if line.strip():
            log(f"   | {line}")
    if finished.returncode != 0:
        raise RuntimeError(f"{shlex.join(command)} exited with {finished.returncode}: "
                           f"{finished.stdout.strip().splitlines()[-1:] or ''}")


def write_params(work: Path, overrides: dict[str, Any]) -> Params:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params.update(overrides)
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return load_params(work / "params.yaml")  # fails here, naming the key, rather than in a stage


def run_pipeline(check: Check, work: Path, overrides: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """The stages ``names`` of dvc.yaml, in its order, in ``work``; their wall times and the metrics."""
    work.mkdir(parents=True, exist_ok=True)
    write_params(work, overrides)
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    missing = set(names) - set(stages)
    if missing:
        raise RuntimeError(f"dvc.yaml has no stage {sorted(missing)}")
    times: dict[str, float] = {}
    for name, spec in stages.items():
        if name in names:
            started = time.perf_counter()
            run_command(stage_command(spec["cmd"]), work, check.left())
            times[name] = round(time.perf_counter() - started, 2)
    train = json.loads((work / "metrics/train.json").read_text())
    evaluation = json.loads((work / "metrics/eval.json").read_text())
    return {"stages": times, "seconds": round(sum(times[name] for name in TIMED_STAGES if name in times), 2),
            "timed": [name for name in TIMED_STAGES if name in times],
            "psnr_gain": evaluation["psnr_gain"], "psnr_gain_positive": evaluation["psnr_gain"] > 0,
            "train": train, "eval": {key: value for key, value in evaluation.items() if key != "ladder"},
            "overrides": overrides}


# --- training speed ---------------------------------------------------------------------------

def training_tiles(work: Path) -> tuple[torch.Tensor, torch.Tensor, str]:
    """The pipeline's train tiles and their strengths, or random ones when the pipeline made none."""
    try:
        tiles = work / "data" / "tiles"
        pairs, strengths = read_tiles(shard_paths(tiles, check_complete(tiles), "train"))
        return pairs, strengths, f"{len(pairs)} train tiles of the pipeline"
    except (FileNotFoundError, OSError) as error:
        log(f"   no pipeline tiles ({error}): random ones instead")
        generator = torch.Generator().manual_seed(0)
        return (torch.randint(0, 256, (256, 2, TILE, TILE), dtype=torch.uint8, generator=generator),
                torch.rand(256, generator=generator), "256 random tiles (the pipeline made none)")


def train_rate(params: Params, data: tuple[torch.Tensor, torch.Tensor], device: torch.device, steps: int,
               warmup: int, batch_size: int | None = None, compile_options: dict[str, Any] | None = None,
               after_step: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Training throughput of ``fit`` over ``steps`` steps after ``warmup`` untimed ones, the device
    synchronized at both ends of the timed steps."""
    pairs, strengths = data
    run = dataclasses.replace(params, device=device.type, epochs=1, steps_per_epoch=warmup + steps, time_budget=0,
                              batch_size=batch_size or params.batch_size)
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    called = time.perf_counter()
    torch.manual_seed(run.seed)
    model = SRCNN.from_params(run)
    if compile_options is not None:
        torch._dynamo.reset()  # each variant compiles afresh, far from dynamo's recompile limit
        model.compile(**compile_options)
    stamps: dict[int, float] = {}

    def on_step(step: int) -> None:
        if step in (1, warmup, warmup + steps):
            if cuda:
                torch.cuda.synchronize(device)
            stamps[step] = time.perf_counter()
        if after_step is not None:
            after_step(step)

    train = MemoryTiles(pairs.to(device), strengths, seed=run.seed)
    fit(model, train, (pairs[:8], strengths[:8]), run, on_step=on_step)
    seconds = stamps[warmup + steps] - stamps[warmup]
    result = {"tiles_per_s": round(steps * run.batch_size * (run.crop / TILE) ** 2 / seconds, 1),
              "ms_per_step": round(1000 * seconds / steps, 3), "steps": steps, "warmup_steps": warmup,
              "batch_size": run.batch_size, "crop": run.crop, "first_step_s": round(stamps[1] - called, 2),
              "device": str(device)}
    if cuda:
        result["max_memory_gb"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
    return result


def gpu_busy(params: Params, data: tuple[torch.Tensor, torch.Tensor], device: torch.device, sizes: Sizes,
             unprofiled_ms: float, out: Path, batch_size: int | None = None) -> dict[str, Any]:
    """How busy the GPU is during training steps: torch.profiler's GPU activity intervals, merged."""
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile, schedule
    cuda = device.type == "cuda"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    caught: dict[str, Any] = {}

    def ready(profiler: profile) -> None:
        caught["events"] = list(profiler.events())
        for key in ("self_cuda_time_total", "self_device_time_total", "self_cpu_time_total"):
            try:
                caught["table"] = profiler.key_averages().table(sort_by=key, row_limit=25)
                break
            except Exception:  # noqa: BLE001 — the sort key's name depends on the PyTorch version
                continue

    warmup, steps = sizes.throughput_warmup, sizes.profile_steps
    with profile(activities=activities, schedule=schedule(wait=0, warmup=warmup, active=steps, repeat=1),
                 on_trace_ready=ready) as profiler:
        profiled = train_rate(params, data, device, steps, warmup, batch_size=batch_size,
                              after_step=lambda step: profiler.step())
    batch = batch_size or params.batch_size
    with (out / "profile.txt").open("a") as table:
        table.write(f"batch_size {batch}\n{caught.get('table', '(no table)')}\n\n")
    # the GPU's own work only: user annotations ("ProfilerStep#N", "Optimizer.step#Adam.step") are
    # mirrored onto the GPU's timeline as ranges that span whole steps, idle time included
    intervals = sorted((event.time_range.start, event.time_range.end) for event in caught.get("events", [])
                       if event.device_type != DeviceType.CPU and not getattr(event, "is_user_annotation", False)
                       and not event.name.startswith(("ProfilerStep", "Optimizer.")))
    busy, end = 0.0, float("-inf")
    for start, stop in intervals:  # the union of the intervals, in microseconds
        if stop > end:
            busy += stop - max(start, end)
            end = stop
    busy_ms = busy / 1000 / steps
    return {"method": "torch.profiler (CUPTI): the union of the GPU's activity intervals (kernels, copies, memsets; "
                      "not the user annotations mirrored onto its timeline) over the profiled steps, per step, "
                      "against the wall time of a step without the profiler",
            "batch_size": batch, "steps": steps, "busy_ms_per_step": round(busy_ms, 3), "wall_ms_per_step": unprofiled_ms,
            "profiled_wall_ms_per_step": profiled["ms_per_step"],
            "busy_fraction": round(busy_ms / unprofiled_ms, 3) if unprofiled_ms else None,
            "gpu_events_per_step": round(len(intervals) / steps, 1)}


def largest_batch(params: Params, data: tuple[torch.Tensor, torch.Tensor], device: torch.device, sizes: Sizes,
                  cap: int, limit_s: float) -> dict[str, Any]:
    """batch_size doubled from params.yaml's until out of memory, ``cap`` or ``limit_s`` seconds."""
    tried, fitted = [], None
    batch = params.batch_size
    started = time.perf_counter()
    while batch <= cap:
        if time.perf_counter() - started > limit_s:
            tried.append({"batch_size": batch, "skipped": f"time: the sweep's {limit_s:.0f} s are spent"})
            break
        try:
            figures = train_rate(params, data, device, sizes.batch_steps, 2, batch_size=batch)
        except torch.cuda.OutOfMemoryError as error:
            tried.append({"batch_size": batch, "oom": True, "error": str(error).splitlines()[0][:200]})
            break
        except RuntimeError as error:  # cuDNN and the allocator can say "out of memory" in other words
            tried.append({"batch_size": batch, "failed": True, "error": str(error).splitlines()[0][:200]})
            break
        finally:
            gc.collect()
            if device.type == "cuda":
                torch.cuda.empty_cache()
        tried.append(figures)
        fitted = figures
        log(f"   batch {batch}: {figures['tiles_per_s']} tiles/s, {figures['ms_per_step']} ms/step")
        batch *= 2
    best = max((entry for entry in tried if "tiles_per_s" in entry), key=lambda entry: entry["tiles_per_s"], default=None)
    return {"device": str(device), "cap": cap, "limit_s": round(limit_s), "tried": tried, "batch_size": fitted and fitted["batch_size"],
            "tiles_per_s": fitted and fitted["tiles_per_s"], "best_batch_size": best and best["batch_size"],
            "best_tiles_per_s": best and best["tiles_per_s"],
            "stopped_by": "cap" if batch > cap else next((why for key, why in (("oom", "oom"), ("failed", "error"), ("skipped", "time"))
                                                          if tried and key in tried[-1]), "?")}


def loader_rate(work: Path, params: Params, device: torch.device, batch_size: int, seconds: float) -> dict[str, Any]:
    """How fast the train stage's loader (``ShardTiles`` over the pipeline's train shards, its
    workers and pinned memory as the stage sets them) hands over batches, with nothing training."""
    tiles = work / "data" / "tiles"
    workers = auto_loader_workers(params.loader_workers, device)
    stream = ShardTiles(shard_paths(tiles, check_complete(tiles), "train"), seed=params.seed,
                        shuffle_buffer=params.shuffle_buffer, reuse=params.tile_reuse, workers=workers,
                        pin_memory=device.type == "cuda")
    started = time.perf_counter()
    batches = stream.batches(0, batch_size, steps_per_epoch=params.steps_per_epoch)
    first, _ = next(batches)
    first_s = time.perf_counter() - started
    count, begun = 0, time.perf_counter()
    while time.perf_counter() - begun < seconds:
        batch, _ = next(batches)
        count += 1
    elapsed = time.perf_counter() - begun
    batches.close()
    tiles_per_s = count * batch_size / elapsed
    return {"workers": workers, "batch_size": batch_size, "first_batch_s": round(first_s, 2), "batches": count,
            "tiles_per_s": round(tiles_per_s, 1), "tile": list(first.shape[-2:]),
            # each whole tile gives one crop of params.crop px: the training speed (128 px equivalents) it can feed
            "feeds_training_tiles_per_s": round(tiles_per_s * (params.crop / TILE) ** 2, 1)}


def ladder_of(work: Path) -> dict[str, dict[str, Any]]:
    """metrics/eval.json's ladder: each quality's gain as enhance restores (``gain``, photos ``worse``)
    and the model's own there (``model_gain``, ``model_worse``)."""
    ladder = json.loads((work / "metrics/eval.json").read_text()).get("ladder", {})
    return {name: {"gain": rung["psnr_gain"], "worse": rung["photos_worse"], "model_gain": rung.get("model_gain"),
                   "model_worse": rung.get("model_photos_worse")} for name, rung in ladder.items()}


def run_seeds(check: Check, work: Path, raw_dir: Path, seeds: list[int], steps: int,
              overrides: dict[str, Any]) -> dict[str, Any]:
    """Ours and q20_only trained for ``steps`` each, for every seed, all pipelines at once (each a
    share of the cores); the val ladders, and ours' shortfall at quality 20 per seed."""
    from quality import Q20_ONLY  # the peer exactly as benchmarks/quality.py trains it

    steps_per_epoch = min(int(overrides.get("steps_per_epoch", 200)), steps)
    common = {**overrides, "raw_dir": str(raw_dir.resolve()), "time_budget": 0, "steps_per_epoch": steps_per_epoch,
              "epochs": max(1, steps // steps_per_epoch), "loader_workers": 2}  # 2 each: the pipelines share the cores
    runs = {f"{model}_seed{seed}": {**common, **extra, "seed": seed}
            for seed in seeds for model, extra in (("ours", {}), ("q20_only", Q20_ONLY))}
    cores = max(1, (os.cpu_count() or 1) // len(runs))
    threads = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = str(cores)  # the stages' processes share the cores
    try:
        with concurrent.futures.ThreadPoolExecutor(len(runs)) as pool:
            futures = {name: pool.submit(run_pipeline, check, work / name, {**settings, "workers": cores}, TIMED_STAGES)
                       for name, settings in runs.items()}
            done = {name: future.result() for name, future in futures.items()}
    finally:
        if threads is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = threads
    per_seed = {}
    for seed in seeds:
        ours, peer = ladder_of(work / f"ours_seed{seed}"), ladder_of(work / f"q20_only_seed{seed}")
        per_seed[str(seed)] = {"ours": ours, "q20_only": peer,
                               "steps": {name: done[f"{name}_seed{seed}"]["train"]["steps"] for name in ("ours", "q20_only")},
                               "q20_shortfall": round(peer["q20"]["gain"] - ours["q20"]["gain"], 4)
                               if "q20" in ours and "q20" in peer else None}
    shortfalls = [entry["q20_shortfall"] for entry in per_seed.values() if entry["q20_shortfall"] is not None]
    return {"steps": steps, "seeds": per_seed, "q20_shortfall_mean": round(float(np.mean(shortfalls)), 4) if shortfalls else None,
            "stage_seconds": {name: result["stages"] for name, result in done.items()}}


def run_quality(check: Check, work: Path, raw_dir: Path, minutes: float, overrides: dict[str, Any]) -> dict[str, Any]:
    """The pipeline on ``raw_dir`` (urban40) with training capped at ``minutes`` (epochs made large so
    the clock binds, as benchmarks/quality.py does); the val photos' gain at each quality of the ladder."""
    settings = {**overrides, "raw_dir": str(raw_dir.resolve()), "time_budget": minutes,
                "epochs": overrides.get("epochs", 1_000_000)}
    result = run_pipeline(check, work, settings, TIMED_STAGES)
    ladder = ladder_of(work)
    result["ladder_gain"] = {name: rung["gain"] for name, rung in ladder.items()}
    result["ladder_photos_worse"] = {name: rung["worse"] for name, rung in ladder.items()}
    # the gains above are the photos as enhance restores them (unchanged where the gate keeps the model off);
    # the model run at every rung:
    result["ladder_model_gain"] = {name: rung["model_gain"] for name, rung in ladder.items()}
    result["ladder_model_photos_worse"] = {name: rung["model_worse"] for name, rung in ladder.items()}
    result["q20_gain"] = result["ladder_gain"].get("q20")
    result["minutes"] = minutes
    return result


# --- enhance ----------------------------------------------------------------------------------

def enhance_photo(size: tuple[int, int] | None) -> np.ndarray:
    """The 4032×3024 mosaic of benchmarks/enhance_speed.py, or a small photo of that size."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    if size is None:
        from enhance_speed import generated_photo
        return generated_photo()
    from skimage import data
    return np.asarray(Image.fromarray(data.astronaut()).resize(size, Image.Resampling.LANCZOS))


def restore_once(model_path: Path | None, params: Params, degraded: np.ndarray, clean: np.ndarray,
                 device: torch.device, tile: int) -> dict[str, Any]:
    model = load_model(model_path)[0] if model_path else SRCNN.from_params(params)
    dtype = pick_precision("auto", device, int8=True)
    torch.backends.cudnn.benchmark = False  # as in `enhance` (training switched it on in this process)
    strength = strength_for_quality(QUALITY)
    restore_rgb(model, degraded[:256, :256], device, dtype, tile, strength=strength)  # warm-up: kernels, int8 engine
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    started = time.perf_counter()
    restored = restore_rgb(model, degraded, device, dtype, tile, strength=strength)  # returns numpy: synchronized
    seconds = time.perf_counter() - started
    megapixels = degraded.shape[0] * degraded.shape[1] / 1e6
    result = {"seconds": round(seconds, 3), "megapixels_per_s": round(megapixels / seconds, 2), "tile": tile,
              "precision": str(dtype or "fp32"), "device": str(device),
              "psnr_db": round(psnr(to_luma_u8(clean).astype(np.float64), to_luma_u8(restored).astype(np.float64)), 3)}
    if cuda:
        result["max_memory_allocated_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    return result


def run_enhance(check: Check, model_path: Path | None, params: Params, gpu: torch.device | None) -> dict[str, Any]:
    clean = enhance_photo(check.sizes.photo)
    degraded = jpeg_roundtrip(clean, QUALITY)
    height, width = clean.shape[:2]
    result: dict[str, Any] = {"photo": f"{width}×{height}", "megapixels": round(width * height / 1e6, 2),
                              "jpeg_quality": QUALITY, "model": "pipeline" if model_path else "untrained",
                              "psnr_input_db": round(psnr(to_luma_u8(clean).astype(np.float64),
                                                          to_luma_u8(degraded).astype(np.float64)), 3)}
    if gpu is None:
        result["gpu"] = result["gpu_tile_2048"] = skipped("--cpu: no GPU")
    else:
        result["gpu"] = check.run("enhance on the GPU", 15, lambda: restore_once(model_path, params, degraded, clean, gpu, 512))
        result["gpu_tile_2048"] = check.run("enhance on the GPU, tile 2048", 15,
                                            lambda: restore_once(model_path, params, degraded, clean, gpu, 2048))
    result["cpu"] = check.run("enhance on the CPU", 15,
                              lambda: restore_once(model_path, params, degraded, clean, torch.device("cpu"), 512))
    result["ratio"] = ratio(result["cpu"], result["gpu"], "seconds")
    return result


def ratio(cpu: dict[str, Any], gpu: dict[str, Any], key: str, higher_is_faster: bool = False) -> float | None:
    """How many times faster the GPU is, or None when either side has no figure."""
    if not (isinstance(cpu.get(key), (int, float)) and isinstance(gpu.get(key), (int, float))) or not cpu[key] or not gpu[key]:
        return None
    return round(gpu[key] / cpu[key] if higher_is_faster else cpu[key] / gpu[key], 2)


# --- the run ----------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for gpu_check.json and profile.txt")
    parser.add_argument("--cpu", action="store_true", help="everything on the CPU with tiny sizes (the test)")
    parser.add_argument("--budget", type=float, help="seconds for the whole check (default: 420, --cpu 240); "
                        "parts that would not fit are reported as skipped")
    parser.add_argument("--batch-cap", type=int, help="largest batch_size tried (default: 65536, --cpu 4× params')")
    parser.add_argument("--work", type=Path, help="scratch folder for the pipeline (default: a temporary one, removed)")
    parser.add_argument("--raw-dir", type=Path, help="photos for the quality part (e.g. urban40, carried): the pipeline "
                        "on them with training capped at --quality-minutes (--cpu: the sample photos, 3 seconds)")
    parser.add_argument("--quality-minutes", type=float, default=2.0, help="the quality part's time_budget (default 2)")
    parser.add_argument("--quality-param", action="append", default=[], metavar="KEY=VALUE",
                        help="a param of the quality part's run, e.g. batch_size=128 (repeatable)")
    parser.add_argument("--seeds", nargs="*", type=int, default=[],
                        help="the seeds part: ours and q20_only at equal steps on --raw-dir, one pair per seed (--cpu: seed 0)")
    parser.add_argument("--seed-steps", type=int, default=9600,
                        help="the seeds part's training steps (default 9600: about what 15 CPU minutes make)")
    parser.add_argument("--skip", nargs="*", default=[], choices=("enhance", "largest_batch", "cpu_pipeline", "compile"),
                        help="parts left out, for a second, shorter run")
    args = parser.parse_args()
    sizes = CPU_SIZES if args.cpu else GPU_SIZES
    args.out.mkdir(parents=True, exist_ok=True)
    check = Check(args.out, "cpu" if args.cpu else "gpu", sizes, args.budget or sizes.budget_s)
    check.results["machine"] = machine()
    log(json.dumps(check.results["machine"]))
    check.save()
    gpu = None if args.cpu else torch.device("cuda", 0)
    if gpu is not None and not torch.cuda.is_available():
        check.results["errors"].append({"part": "preflight", "error": "no CUDA GPU visible; use --cpu on a CPU machine"})
        check.save()
        sys.exit("gpu_check: no CUDA GPU visible; run with --cpu on a machine without one")
    cpu = torch.device("cpu")
    work_root = args.work or Path(tempfile.mkdtemp(prefix="gpu_check."))
    try:
        measure(check, work_root, gpu, cpu, args)
    finally:
        if args.work is None:
            shutil.rmtree(work_root, ignore_errors=True)
    check.results["complete"] = True
    check.save()
    summary(check.results)


def measure(check: Check, work_root: Path, gpu: torch.device | None, cpu: torch.device, args: argparse.Namespace) -> None:
    """The parts, most wanted first: a part the budget has no room left for is skipped, saying so."""
    results, sizes = check.results, check.sizes
    first = work_root / ("gpu" if gpu is not None else "cpu")
    overrides = {} if gpu is not None else dict(TINY_PARAMS)
    all_stages = ("samples",) + TIMED_STAGES

    # 1. the default pipeline on the GPU (--cpu: the tiny pipeline on the CPU)
    pipeline = {"gpu": skipped("--cpu: no GPU"), "cpu": {}, "ratio": None}
    results["pipeline"] = pipeline
    if gpu is not None:
        pipeline["gpu"] = check.run("pipeline on the GPU", 60, lambda: run_pipeline(check, first, overrides, all_stages))
    else:
        pipeline["cpu"] = check.run("pipeline on the CPU", 10, lambda: run_pipeline(check, first, overrides, all_stages))
    check.save()
    params = load_params(first / "params.yaml") if (first / "params.yaml").exists() else write_params(first, overrides)
    data = training_tiles(first)
    pairs, strengths, source = data
    model_path = first / "models" / "srcnn.pt"
    model_path = model_path if model_path.exists() else None
    log(f"   training data for the speed parts: {source}")
    main_device = gpu or cpu

    # 2. the train stage's loader alone: can it feed the GPU?
    loader_seconds = 5.0 if gpu is not None else 0.5
    results["loader"] = {f"batch_{batch}": check.run(f"loader, batch {batch}", 15, lambda batch=batch: loader_rate(
        first, params, main_device, batch, loader_seconds)) for batch in (params.batch_size, sizes.big_batch)}
    check.save()

    # 3. training throughput, GPU and CPU, and how busy the GPU is, at params' batch and a big one
    throughput: dict[str, Any] = {"gpu": skipped("--cpu: no GPU"), "cpu": {}, "ratio": None, "data": source}
    results["throughput"] = throughput
    if gpu is not None:
        throughput["gpu"] = check.run("throughput on the GPU", 20, lambda: train_rate(
            params, (pairs, strengths), gpu, sizes.throughput_steps, sizes.throughput_warmup))
        throughput[f"gpu_batch_{sizes.big_batch}"] = check.run(f"throughput on the GPU, batch {sizes.big_batch}", 20,
                                                               lambda: train_rate(params, (pairs, strengths), gpu, sizes.throughput_steps // 2,
                                                                                  sizes.throughput_warmup, batch_size=sizes.big_batch))
    throughput["cpu"] = check.run("throughput on the CPU", 15, lambda: train_rate(
        params, (pairs, strengths), cpu, sizes.cpu_throughput_steps, min(3, sizes.throughput_warmup)))
    throughput["ratio"] = ratio(throughput["cpu"], throughput["gpu"], "tiles_per_s", higher_is_faster=True)
    check.save()
    if gpu is not None and "ms_per_step" in throughput["gpu"]:
        busy = {"batch_default": check.run("GPU busy time", 20, lambda: gpu_busy(
            params, (pairs, strengths), gpu, sizes, throughput["gpu"]["ms_per_step"], check.out))}
        big = throughput.get(f"gpu_batch_{sizes.big_batch}", {})
        if "ms_per_step" in big:
            busy[f"batch_{sizes.big_batch}"] = check.run(f"GPU busy time, batch {sizes.big_batch}", 20, lambda: gpu_busy(
                params, (pairs, strengths), gpu, sizes, big["ms_per_step"], check.out, batch_size=sizes.big_batch))
        results["gpu_busy"] = {**busy["batch_default"], "at_batches": busy} if isinstance(busy["batch_default"], dict) else busy
    else:
        reason = "--cpu: no GPU" if gpu is None else "no GPU throughput to compare with"
        plumbing = check.run("profiler plumbing on the CPU", 5, lambda: gpu_busy(
            params, (pairs, strengths), cpu, sizes, throughput["cpu"].get("ms_per_step", 0.0), check.out))
        results["gpu_busy"] = {**skipped(reason), "cpu_profiler_ran": "error" not in plumbing}
    check.save()

    # 4. quality: the pipeline on real photos (--raw-dir) with training capped at --quality-minutes
    if args.raw_dir is not None or gpu is None:
        raw_dir = args.raw_dir or first / "data" / "samples"
        minutes = args.quality_minutes if gpu is not None else 0.05
        settings = {**overrides, **{key: yaml.safe_load(value) for key, value in
                                    (item.split("=", 1) for item in args.quality_param)}}
        results["quality"] = check.run(f"quality on {raw_dir}", 60 * minutes + 60, lambda: run_quality(
            check, work_root / "quality", raw_dir, minutes, settings))
    else:
        results["quality"] = skipped("no --raw-dir given")
    check.save()

    # 4b. seeds: ours and q20_only at equal steps, several seeds at once
    if args.seeds or gpu is None:
        raw_dir = args.raw_dir or first / "data" / "samples"
        seeds, steps = (args.seeds, args.seed_steps) if gpu is not None else ([0], 6)
        results["seeds"] = check.run(f"seeds {seeds} at {steps} steps on {raw_dir}", 60, lambda: run_seeds(
            check, work_root / "seeds", raw_dir, seeds, steps, overrides))
    else:
        results["seeds"] = skipped("no --seeds given")
    check.save()

    skip = set(args.skip)
    # 5. enhance of a 12 MP photo (--cpu: a small one), GPU and CPU
    results["enhance"] = skipped("--skip") if "enhance" in skip else check.run(
        "enhance", 30, lambda: run_enhance(check, model_path, params, gpu))
    check.save()

    # 6. the largest batch that fits, and its throughput
    cap = args.batch_cap or (65536 if gpu is not None else 4 * params.batch_size)
    limit = max(20.0, min(45.0, check.left() - 120)) if gpu is not None else 60.0  # seconds for the sweep
    results["largest_batch"] = skipped("--skip") if "largest_batch" in skip else check.run(
        "largest batch", 25, lambda: largest_batch(params, (pairs, strengths), main_device, sizes, cap, limit))
    check.save()

    # 7. the pipeline again on the CPU (the GPU run's photos), the CPU training capped by what time is left
    if gpu is not None and "cpu_pipeline" in skip:
        pipeline["cpu"] = skipped("--skip")
    elif gpu is not None:
        def cpu_pipeline() -> dict[str, Any]:
            second = work_root / "cpu"
            (second / "data").mkdir(parents=True, exist_ok=True)
            shutil.copytree(first / "data" / "samples", second / "data" / "samples")
            cap = max(0.25, min(0.75, (check.left() - 60) / 60))  # minutes; the stage stops there if not done
            result = run_pipeline(check, second, {"device": "cpu", "time_budget": round(cap, 2)}, TIMED_STAGES)
            planned = params.epochs * params.steps_per_epoch
            done = result["train"]["steps"]
            result["train_capped"] = done < planned
            result["train_steps_planned"] = planned
            if done < planned:  # the whole training on the CPU, from the steps it did in the cap
                result["seconds_extrapolated"] = round(result["seconds"] - result["stages"]["train"]
                                                       + result["stages"]["train"] * planned / max(done, 1), 1)
            return result
        pipeline["cpu"] = check.run("pipeline on the CPU", 60, cpu_pipeline)
        seconds = pipeline["cpu"].get("seconds_extrapolated", pipeline["cpu"].get("seconds"))
        if isinstance(seconds, (int, float)) and isinstance(pipeline["gpu"].get("seconds"), (int, float)):
            pipeline["ratio"] = round(seconds / pipeline["gpu"]["seconds"], 2)
        check.save()

    # 8. torch.compile: off, default, reduce-overhead (--cpu: off and the eager backend), with what time is left
    if "compile" in skip:
        results["compile"] = {"device": str(main_device), **{key: skipped("--skip") for key in ("off", "default", "reduce-overhead")}}
    else:
        compiled: dict[str, Any] = {"device": str(main_device), "off": {}, "default": {}, "reduce-overhead": {}}
        results["compile"] = compiled
        compiled["off"] = check.run("compile off", 15, lambda: train_rate(
            params, (pairs, strengths), main_device, sizes.compile_steps, sizes.compile_warmup))
        default_options = {} if gpu is not None else {"backend": "eager"}
        compiled["default"] = check.run("compile default", 60 if gpu is not None else 5, lambda: {**train_rate(
            params, (pairs, strengths), main_device, sizes.compile_steps, sizes.compile_warmup,
            compile_options=default_options), "options": default_options or {"mode": "default"}})
        check.save()
        if gpu is not None:
            compiled["reduce-overhead"] = check.run("compile reduce-overhead", 60, lambda: {**train_rate(
                params, (pairs, strengths), gpu, sizes.compile_steps, sizes.compile_warmup,
                compile_options={"mode": "reduce-overhead"}), "options": {"mode": "reduce-overhead"}})
        else:
            compiled["reduce-overhead"] = skipped("--cpu: CUDA graphs need a GPU")
    check.save()

    # 9. torchrun with 2 processes, on a machine with 2 GPUs or more
    gpus = torch.cuda.device_count() if gpu is not None else 0
    if gpu is None:
        results["torchrun"] = skipped("--cpu: no GPU")
    elif gpus < 2:
        results["torchrun"] = skipped(f"{gpus} GPU on this machine; torchrun needs 2 or more")
    else:
        def torchrun() -> dict[str, Any]:
            write_params(first, {**overrides, "epochs": 1, "steps_per_epoch": 50})
            command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                       str(TRAIN_RUNNER)]
            started = time.perf_counter()
            run_command(command, first, check.left())
            return {"processes": 2, "seconds": round(time.perf_counter() - started, 2),
                    "train": json.loads((first / "metrics/train.json").read_text())}
        results["torchrun"] = check.run("torchrun", 45, torchrun)
    check.save()


def summary(results: dict[str, Any]) -> None:
    def figure(entry: Any, key: str) -> str:
        if isinstance(entry, dict) and key in entry and entry[key] is not None:
            return str(entry[key])
        if isinstance(entry, dict) and "skipped" in entry:
            return "skipped"
        return "error" if isinstance(entry, dict) and "error" in entry else "-"

    pipeline, throughput, enhance = results["pipeline"], results["throughput"], results["enhance"]
    rows = [("pipeline seconds (prepare→evaluate)", figure(pipeline.get("gpu"), "seconds"),
             figure(pipeline.get("cpu"), "seconds"), figure(pipeline, "ratio")),
            ("pipeline psnr_gain (dB)", figure(pipeline.get("gpu"), "psnr_gain"), figure(pipeline.get("cpu"), "psnr_gain"), ""),
            ("training tiles/s (128 px)", figure(throughput.get("gpu"), "tiles_per_s"),
             figure(throughput.get("cpu"), "tiles_per_s"), figure(throughput, "ratio")),
            ("enhance seconds", figure(enhance.get("gpu"), "seconds"), figure(enhance.get("cpu"), "seconds"),
             figure(enhance, "ratio"))]
    log(f"{'':38}{'gpu':>12}{'cpu':>12}{'ratio':>8}")
    for name, on_gpu, on_cpu, times in rows:
        log(f"{name:38}{on_gpu:>12}{on_cpu:>12}{times:>8}")
    busy, batch, compiled = results["gpu_busy"], results["largest_batch"], results["compile"]
    log(f"GPU busy fraction: {figure(busy, 'busy_fraction')}; largest batch: {figure(batch, 'batch_size')} "
        f"at {figure(batch, 'tiles_per_s')} tiles/s; compile off/default/reduce-overhead tiles/s: "
        f"{figure(compiled.get('off'), 'tiles_per_s')}/{figure(compiled.get('default'), 'tiles_per_s')}/"
        f"{figure(compiled.get('reduce-overhead'), 'tiles_per_s')}; torchrun: {figure(results['torchrun'], 'seconds')}; "
        f"enhance GPU memory: {figure(enhance.get('gpu'), 'max_memory_allocated_mb')} MB")
    loader, quality = results.get("loader", {}), results.get("quality", {})
    log("loader alone, tiles/s (and the training tiles/s it feeds): " + "; ".join(
        f"{name}: {figure(entry, 'tiles_per_s')} ({figure(entry, 'feeds_training_tiles_per_s')})" for name, entry in loader.items()))
    log("GPU busy fraction at each batch: " + "; ".join(f"{name}: {figure(entry, 'busy_fraction')}"
                                                       for name, entry in busy.get("at_batches", {}).items()))
    log(f"quality ({figure(quality, 'minutes')} min of training on {figure(quality.get('overrides', {}), 'raw_dir')}): "
        f"q20 gain {figure(quality, 'q20_gain')} dB, {figure(quality.get('train', {}), 'steps')} steps; "
        f"ladder {quality.get('ladder_gain', '-')}")
    seeds = results.get("seeds", {})
    log(f"seeds ({figure(seeds, 'steps')} steps each): q20 shortfall of ours against q20_only per seed "
        + ", ".join(f"{seed}: {entry.get('q20_shortfall')}" for seed, entry in seeds.get("seeds", {}).items())
        + f"; mean {figure(seeds, 'q20_shortfall_mean')} dB")
    log(f"errors: {len(results['errors'])}; {results['seconds']} s; results in gpu_check.json, on one line:")
    log(json.dumps(results, separators=(",", ":"), default=str))


if __name__ == "__main__":
    main()
