"""The GPU check's command line: ``python -m benchmarks.gpu_check --out DIR`` from the repository root
(``bash benchmarks/gpu_check.sh`` runs it so, after making webdataset importable, and keeps the log).

The parts, most wanted first (``measure``); each is skipped, saying so in the JSON, when the budget
has too little left for it:

1. ``pipeline``: samples, then prepare → tile → train → evaluate timed, params.yaml as it is
   (``device: auto`` finds the GPU); the stages of dvc.yaml run without DVC (pipeline.py)
1b. ``continue`` (with ``--continue KIND``): the shipped model trained on through the same stages,
   scored held out, and shipped only if ``srcnn.release promote`` says it beats it (release.py)
2. ``loader``: the train stage's loader alone, at params.yaml's batch and a big one (speed.py)
3. ``throughput``: ``fit`` on the pipeline's train tiles in memory, GPU and CPU (speed.py), and
   ``gpu_busy``: how busy the GPU is during those steps (busy.py); ``resume``: the pipeline's train
   stage killed after its first checkpoint and run again (pipeline.py)
4. ``quality`` (with ``--raw-dir``): the pipeline on those photos, training capped at
   ``--quality-minutes``; the val photos' gain at every JPEG quality of the ladder; with
   ``--quality-run``, more such runs side by side, at equal minutes (``quality_runs``). Each run's
   model, gate, metrics and curves come back as ``quality[-NAME].tar`` in ``--out`` (pipeline.py)
5. ``seeds`` (with ``--raw-dir`` and ``--seeds``): ours and q20_only at equal steps, per seed (pipeline.py)
6. ``enhance``: a 12 MP photo, GPU and CPU (enhance.py)
7. ``largest_batch``: batch_size doubled until out of memory (speed.py)
8. the ``pipeline`` again on the CPU, its training capped by what time is left (pipeline.py)
9. ``compile``: ``model.compile()`` off, default and ``reduce-overhead`` (speed.py)
10. ``torchrun``: the train stage under ``torch.distributed.run``, on a machine with 2 GPUs or more

``--cpu`` runs every part on the CPU with tiny sizes: what needs a GPU (every ``gpu`` entry,
``gpu_busy``, ``reduce-overhead``, ``torchrun``) is reported as ``{"skipped": reason}``, the
compiled variant uses dynamo's ``eager`` backend, and the JSON has every key of a GPU run.
tests/test_gpu_check.py runs it so.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch
import yaml

from srcnn.params import Params, load_params
from srcnn.train import batch_and_lr

from . import __doc__ as PACKAGE_DOC
from .busy import gpu_busy
from .check import CPU_SIZES, GPU_SIZES, TINY_PARAMS, Check, log, machine, skipped
from .enhance import run_enhance
from .pipeline import (
    TIMED_STAGES,
    run_cpu_pipeline,
    run_pipeline,
    run_qualities,
    run_resume,
    run_seeds,
    run_torchrun,
    write_params,
)
from .release import run_continue
from .report import ratio, summary
from .speed import largest_batch, loader_rate, train_rate, training_tiles


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu_check", description=PACKAGE_DOC.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for gpu_check.json and profile.txt")
    parser.add_argument("--cpu", action="store_true", help="everything on the CPU with tiny sizes (the test)")
    parser.add_argument(
        "--budget",
        type=float,
        help="seconds for the whole check (default: 420, --cpu 240); parts that would not fit are reported as skipped",
    )
    parser.add_argument("--batch-cap", type=int, help="largest batch_size tried (default: 65536, --cpu 4× params')")
    parser.add_argument(
        "--work", type=Path, help="scratch folder for the pipelines, kept (default: a temporary one, removed)"
    )
    add_quality_args(parser)
    add_continue_args(parser)
    parser.add_argument(
        "--skip",
        nargs="*",
        default=[],
        choices=("enhance", "largest_batch", "cpu_pipeline", "compile"),
        help="parts left out, for a second, shorter run",
    )
    return parser.parse_args()


def add_quality_args(parser: argparse.ArgumentParser) -> None:
    """The options of the quality and seeds parts."""
    parser.add_argument(
        "--raw-dir",
        type=Path,
        nargs="+",
        help="photos for the quality part (e.g. urban40; several "
        "folders: raw_dir as a list): the pipeline on them with training capped at --quality-minutes "
        "(--cpu: the sample photos, 3 seconds)",
    )
    parser.add_argument("--quality-minutes", type=float, default=2.0, help="the quality part's time_budget (default 2)")
    parser.add_argument(
        "--quality-param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a param of the quality part's run, e.g. batch_size=128 (repeatable)",
    )
    parser.add_argument(
        "--quality-run",
        action="append",
        nargs="+",
        default=[],
        metavar="NAME [KEY=VALUE]",
        help="one more quality run beside the first, at the same time and for as many minutes, with "
        "these params changed, e.g. --quality-run colour channels=ycbcr (repeatable)",
    )
    parser.add_argument(
        "--seeds",
        nargs="*",
        type=int,
        default=[],
        help="the seeds part: ours and q20_only at equal steps on --raw-dir, one pair per seed (--cpu: seed 0)",
    )
    parser.add_argument(
        "--seed-steps",
        type=int,
        default=9600,
        help="the seeds part's training steps (default 9600: about what 15 CPU minutes make)",
    )


def add_continue_args(parser: argparse.ArgumentParser) -> None:
    """The options of the continue part."""
    parser.add_argument(
        "--continue",
        dest="continue_kinds",
        nargs="+",
        default=[],
        choices=("colour", "gray"),
        help="train these shipped models on from where they are (colour first) and ship the result only if it "
        "beats them at every rung (srcnn.release promote; benchmarks/gpu_check/release.py)",
    )
    parser.add_argument("--bench", type=Path, help="the folder holding the chains' photos and the held-out set5, set14")
    parser.add_argument(
        "--continue-minutes", type=float, default=4.0, help="each --continue run's training minutes (default 4)"
    )
    parser.add_argument(
        "--continue-param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a param of the --continue runs, over their chain's (repeatable)",
    )


def main() -> None:
    args = parse_args()
    sizes = CPU_SIZES if args.cpu else GPU_SIZES
    args.out.mkdir(parents=True, exist_ok=True)
    check = Check(args.out, "cpu" if args.cpu else "gpu", sizes, args.budget or sizes.budget_s)
    check.results["machine"] = machine()
    log(json.dumps(check.results["machine"]))
    check.save()
    gpu = None if args.cpu else torch.device("cuda", 0)
    if gpu is not None and not torch.cuda.is_available():
        check.results["errors"].append(
            {"part": "preflight", "error": "no CUDA GPU visible; use --cpu on a CPU machine"}
        )
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


def settings_of(items: list[str]) -> dict[str, Any]:
    """KEY=VALUE strings as params (values read as YAML, as ``dvc exp run -S`` does)."""
    for item in items:
        if "=" not in item:
            sys.exit(f"gpu_check: {item!r} is not KEY=VALUE")
    return {key: yaml.safe_load(value) for key, value in (item.split("=", 1) for item in items)}


@dataclasses.dataclass
class Setup:
    """What the parts after the first pipeline work from."""

    work_root: Path
    first: Path  # the first pipeline's folder: its params, train tiles and model
    overrides: dict[str, Any]  # params over params.yaml (--cpu: the tiny ones)
    gpu: torch.device | None  # None with --cpu
    cpu: torch.device
    params: Params  # the first pipeline's, batch_size resolved on the main device
    data: tuple[torch.Tensor, torch.Tensor]  # the speed parts' training tiles and their strengths
    source: str  # where those tiles come from
    model_path: Path | None  # the first pipeline's model, when it trained one

    @property
    def main_device(self) -> torch.device:
        return self.gpu or self.cpu


def measure(
    check: Check, work_root: Path, gpu: torch.device | None, cpu: torch.device, args: argparse.Namespace
) -> None:
    """The parts, most wanted first: a part the budget has no room left for is skipped, saying so."""
    results = check.results
    first = work_root / ("gpu" if gpu is not None else "cpu")
    overrides = {} if gpu is not None else dict(TINY_PARAMS)
    skip = set(args.skip)
    pipeline = first_pipeline(check, first, overrides, gpu)
    if args.continue_kinds:
        results["continue"] = continue_shipped(check, work_root / "continue", first, gpu is None, args)
        check.save()
    else:
        results["continue"] = skipped("no --continue given")
    setup = speed_setup(work_root, first, overrides, gpu, cpu)
    loader_part(check, setup)
    throughput_part(check, setup)
    gpu_busy_part(check, setup)
    # 3b. the train stage killed after its first checkpoint and run again: it resumes
    results["resume"] = check.run("resume after a kill", 30, lambda: run_resume(check, first, work_root / "resume"))
    check.save()
    quality_part(check, setup, args)
    seeds_part(check, setup, args)
    enhance_part(check, setup, skip)
    largest_batch_part(check, setup, skip, args.batch_cap)
    if gpu is not None:
        cpu_pipeline_part(check, setup, pipeline, skip)
    compile_part(check, setup, skip)
    torchrun_part(check, setup)


def first_pipeline(check: Check, first: Path, overrides: dict[str, Any], gpu: torch.device | None) -> dict[str, Any]:
    """Part 1: the default pipeline on the GPU (--cpu: the tiny pipeline on the CPU)."""
    pipeline: dict[str, Any] = {"gpu": skipped("--cpu: no GPU"), "cpu": {}, "ratio": None}
    check.results["pipeline"] = pipeline
    side = "gpu" if gpu is not None else "cpu"
    pipeline[side] = check.run(
        f"pipeline on the {side.upper()}",
        60 if gpu is not None else 10,
        lambda: run_pipeline(check, first, overrides, ("samples",) + TIMED_STAGES),
    )
    check.save()
    return pipeline


def speed_setup(
    work_root: Path, first: Path, overrides: dict[str, Any], gpu: torch.device | None, cpu: torch.device
) -> Setup:
    """The first pipeline's params, train tiles and model, for the parts that follow."""
    params = load_params(first / "params.yaml") if (first / "params.yaml").exists() else write_params(first, overrides)
    # batch_size auto as the train stage resolves it on this device (fit scales lr for any batch alike)
    params = dataclasses.replace(params, batch_size=batch_and_lr(params, gpu or cpu)[0])
    pairs, strengths, source = training_tiles(first)
    trained = first / "models" / "srcnn.pt"
    log(f"   training data for the speed parts: {source}")
    return Setup(
        work_root, first, overrides, gpu, cpu, params, (pairs, strengths), source, trained if trained.exists() else None
    )


def loader_part(check: Check, setup: Setup) -> None:
    """Part 2: the train stage's loader alone: can it feed the GPU?"""
    loader_seconds = 5.0 if setup.gpu is not None else 0.5
    check.results["loader"] = {
        f"batch_{batch}": check.run(
            f"loader, batch {batch}",
            15,
            functools.partial(loader_rate, setup.first, setup.params, setup.main_device, batch, loader_seconds),
        )
        for batch in (int(setup.params.batch_size), check.sizes.big_batch)
    }
    check.save()


def throughput_part(check: Check, setup: Setup) -> None:
    """Part 3: training throughput, GPU and CPU, at params' batch and a big one."""
    sizes, params, data, gpu = check.sizes, setup.params, setup.data, setup.gpu
    throughput: dict[str, Any] = {"gpu": skipped("--cpu: no GPU"), "cpu": {}, "ratio": None, "data": setup.source}
    check.results["throughput"] = throughput
    if gpu is not None:
        throughput["gpu"] = check.run(
            "throughput on the GPU",
            20,
            lambda: train_rate(params, data, gpu, sizes.throughput_steps, sizes.throughput_warmup),
        )
        throughput[f"gpu_batch_{sizes.big_batch}"] = check.run(
            f"throughput on the GPU, batch {sizes.big_batch}",
            20,
            lambda: train_rate(
                params, data, gpu, sizes.throughput_steps // 2, sizes.throughput_warmup, batch_size=sizes.big_batch
            ),
        )
    throughput["cpu"] = check.run(
        "throughput on the CPU",
        15,
        lambda: train_rate(params, data, setup.cpu, sizes.cpu_throughput_steps, min(3, sizes.throughput_warmup)),
    )
    throughput["ratio"] = ratio(throughput["cpu"], throughput["gpu"], "tiles_per_s", higher_is_faster=True)
    check.save()


def gpu_busy_part(check: Check, setup: Setup) -> None:
    """Part 3, continued: how busy the GPU is during the throughput part's steps, at both batches
    (--cpu: the profiler's plumbing alone, on the CPU)."""
    sizes, params, data, gpu = check.sizes, setup.params, setup.data, setup.gpu
    throughput = check.results["throughput"]
    big = f"gpu_batch_{sizes.big_batch}"
    if gpu is not None and "ms_per_step" in throughput["gpu"]:
        busy = {
            "batch_default": check.run(
                "GPU busy time",
                20,
                lambda: gpu_busy(params, data, gpu, sizes, throughput["gpu"]["ms_per_step"], check.out),
            )
        }
        if "ms_per_step" in throughput.get(big, {}):
            busy[f"batch_{sizes.big_batch}"] = check.run(
                f"GPU busy time, batch {sizes.big_batch}",
                20,
                lambda: gpu_busy(
                    params, data, gpu, sizes, throughput[big]["ms_per_step"], check.out, batch_size=sizes.big_batch
                ),
            )
        check.results["gpu_busy"] = (
            {**busy["batch_default"], "at_batches": busy} if isinstance(busy["batch_default"], dict) else busy
        )
    else:
        reason = "--cpu: no GPU" if gpu is None else "no GPU throughput to compare with"
        plumbing = check.run(
            "profiler plumbing on the CPU",
            5,
            lambda: gpu_busy(params, data, setup.cpu, sizes, throughput["cpu"].get("ms_per_step", 0.0), check.out),
        )
        check.results["gpu_busy"] = {**skipped(reason), "cpu_profiler_ran": "error" not in plumbing}
    check.save()


def quality_part(check: Check, setup: Setup, args: argparse.Namespace) -> None:
    """Part 4: the pipeline on real photos (--raw-dir) with training capped at --quality-minutes."""
    if args.raw_dir is None and setup.gpu is not None:
        check.results["quality"] = skipped("no --raw-dir given")
        check.save()
        return
    raw_dirs = args.raw_dir or [setup.first / "data" / "samples"]
    minutes = args.quality_minutes if setup.gpu is not None else 0.05
    # the training gets what the budget leaves after the other stages (three evaluate stages at
    # once took over 100 s on an H200's machine), so that every run ends with its gate
    reserve_s = check.sizes.quality_reserve_s
    fitting = (check.left() - reserve_s) / 60
    if fitting < minutes:
        log(
            f"   quality: {minutes:g} min of training would not leave {reserve_s:.0f} s for the "
            f"other stages; training {max(fitting, min(minutes, 0.5)):.2f} min"
        )
        minutes = max(round(fitting, 2), min(minutes, 0.5))
    settings = {**setup.overrides, **settings_of(args.quality_param)}
    others = {name: settings_of(items) for name, *items in args.quality_run}
    both = check.run(
        f"quality on {', '.join(map(str, raw_dirs))}",
        60 * minutes + 60,
        lambda: run_qualities(check, setup.work_root / "quality", raw_dirs, minutes, settings, others, check.out),
    )
    check.results["quality"], check.results["quality_runs"] = both if isinstance(both, tuple) else (both, {})
    check.save()


def seeds_part(check: Check, setup: Setup, args: argparse.Namespace) -> None:
    """Part 5: ours and q20_only at equal steps, several seeds at once."""
    if args.seeds or setup.gpu is None:
        raw_dir = args.raw_dir[0] if args.raw_dir else setup.first / "data" / "samples"
        seeds, steps = (args.seeds, args.seed_steps) if setup.gpu is not None else ([0], 6)
        check.results["seeds"] = check.run(
            f"seeds {seeds} at {steps} steps on {raw_dir}",
            60,
            lambda: run_seeds(check, setup.work_root / "seeds", raw_dir, seeds, steps, setup.overrides),
        )
    else:
        check.results["seeds"] = skipped("no --seeds given")
    check.save()


def enhance_part(check: Check, setup: Setup, skip: set[str]) -> None:
    """Part 6: enhance of a 12 MP photo (--cpu: a small one), GPU and CPU."""
    check.results["enhance"] = (
        skipped("--skip")
        if "enhance" in skip
        else check.run("enhance", 30, lambda: run_enhance(check, setup.model_path, setup.params, setup.gpu))
    )
    check.save()


def largest_batch_part(check: Check, setup: Setup, skip: set[str], batch_cap: int | None) -> None:
    """Part 7: the largest batch that fits, and its throughput."""
    gpu, params = setup.gpu, setup.params
    cap = batch_cap or (65536 if gpu is not None else 4 * int(params.batch_size))
    limit = max(20.0, min(45.0, check.left() - 120)) if gpu is not None else 60.0  # seconds for the sweep
    check.results["largest_batch"] = (
        skipped("--skip")
        if "largest_batch" in skip
        else check.run(
            "largest batch",
            25,
            lambda: largest_batch(params, setup.data, setup.main_device, check.sizes, cap, limit),
        )
    )
    check.save()


def cpu_pipeline_part(check: Check, setup: Setup, pipeline: dict[str, Any], skip: set[str]) -> None:
    """Part 8: the pipeline again on the CPU (the GPU run's photos), the CPU training capped by what time is left."""
    pipeline["cpu"] = (
        skipped("--skip")
        if "cpu_pipeline" in skip
        else check.run(
            "pipeline on the CPU",
            60,
            lambda: run_cpu_pipeline(check, setup.first, setup.work_root / "cpu", setup.params),
        )
    )
    seconds = pipeline["cpu"].get("seconds_extrapolated", pipeline["cpu"].get("seconds"))
    if isinstance(seconds, (int, float)) and isinstance(pipeline["gpu"].get("seconds"), (int, float)):
        pipeline["ratio"] = round(seconds / pipeline["gpu"]["seconds"], 2)
    check.save()


def compile_part(check: Check, setup: Setup, skip: set[str]) -> None:
    """Part 9: torch.compile off, default and reduce-overhead (--cpu: off and the eager backend)."""
    device = setup.main_device
    if "compile" in skip:
        check.results["compile"] = {
            "device": str(device),
            **{key: skipped("--skip") for key in ("off", "default", "reduce-overhead")},
        }
        check.save()
        return
    compiled: dict[str, Any] = {"device": str(device), "off": {}, "default": {}, "reduce-overhead": {}}
    check.results["compile"] = compiled
    compiled["off"] = check.run("compile off", 15, lambda: compiled_rate(check, setup, device, None))
    default_options = {} if setup.gpu is not None else {"backend": "eager"}
    compiled["default"] = check.run(
        "compile default",
        60 if setup.gpu is not None else 5,
        lambda: {
            **compiled_rate(check, setup, device, default_options),
            "options": default_options or {"mode": "default"},
        },
    )
    check.save()
    gpu = setup.gpu
    if gpu is not None:
        overhead = {"mode": "reduce-overhead"}
        compiled["reduce-overhead"] = check.run(
            "compile reduce-overhead",
            60,
            lambda: {**compiled_rate(check, setup, gpu, overhead), "options": overhead},
        )
    else:
        compiled["reduce-overhead"] = skipped("--cpu: CUDA graphs need a GPU")
    check.save()


def compiled_rate(check: Check, setup: Setup, device: torch.device, options: dict[str, str] | None) -> dict[str, Any]:
    """The compile part's training rate on ``device``: ``model.compile(**options)``, or not compiled
    where ``options`` is None (``{}`` compiles with the defaults)."""
    sizes = check.sizes
    return train_rate(
        setup.params, setup.data, device, sizes.compile_steps, sizes.compile_warmup, compile_options=options
    )


def torchrun_part(check: Check, setup: Setup) -> None:
    """Part 10: torchrun with 2 processes, on a machine with 2 GPUs or more."""
    gpus = torch.cuda.device_count() if setup.gpu is not None else 0
    if setup.gpu is None:
        check.results["torchrun"] = skipped("--cpu: no GPU")
    elif gpus < 2:
        check.results["torchrun"] = skipped(f"{gpus} GPU on this machine; torchrun needs 2 or more")
    else:
        check.results["torchrun"] = check.run("torchrun", 45, lambda: run_torchrun(check, setup.first, setup.overrides))
    check.save()


def continue_shipped(check: Check, work: Path, first: Path, cpu: bool, args: argparse.Namespace) -> dict[str, Any]:
    """Part 1b: each --continue kind trained on from its shipped model and shipped only by the rule (release.py)."""
    settings = {**(TINY_PARAMS if cpu else {}), **settings_of(args.continue_param)}
    reserve = check.sizes.quality_reserve_s + (0 if cpu else 90)  # the other stages, then the held-out scoring
    done: dict[str, Any] = {}
    for kind in args.continue_kinds:
        minutes = 0.05 if cpu else max(0.5, min(args.continue_minutes, round((check.left() - reserve) / 60, 2)))
        where = {"minutes": minutes, "bench": args.bench, "samples": first / "data" / "samples", "cpu": cpu}
        where["raw_dirs"] = args.raw_dir if args.raw_dir and not cpu else None
        done[kind] = check.run(
            f"continue the shipped {kind} model, {minutes:g} min",
            60 * minutes + (30 if cpu else reserve),
            functools.partial(run_continue, check, work / kind, kind, settings, where, check.out),
        )
    return done


if __name__ == "__main__":
    main()
