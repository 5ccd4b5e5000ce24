"""The pipeline's stages run without DVC, and the parts built on them: ``quality``, ``seeds``,
the CPU pipeline and ``torchrun``.

Not ``dvc repro``: the check must run on a GPU machine that has PyTorch but not DVC or DVCLive
(docs/gpu.md says why they are not carried there). So it runs the stages of dvc.yaml itself, in
dvc.yaml's order, each stage's ``cmd`` read from dvc.yaml, as a process in a scratch folder; the
train stage runs as ``python -m benchmarks.gpu_check.train_stage``: stages/train.py's own ``main()``
with DVCLive's ``Live`` replaced by ``Curves`` (everything else as the stage). Each stage imports the
project from the repository, which ``stage_env`` puts on its PYTHONPATH.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from srcnn.params import Params, load_params

from . import ROOT
from .check import Check, log

TRAIN_RUNNER = "benchmarks.gpu_check.train_stage"  # the module that runs the train stage without DVCLive
TIMED_STAGES = ("prepare", "tile", "train", "evaluate")  # the pipeline's wall time: samples only writes photos


def stage_command(cmd: str) -> list[str]:
    """A dvc.yaml ``cmd`` as the check runs it: ``python`` is this interpreter, ``torchrun`` is
    ``python -m torch.distributed.run``, and ``-m stages.train`` is ``-m`` TRAIN_RUNNER (the stage's own
    main() without DVCLive)."""
    words = shlex.split(cmd)
    if words[0] == "python":
        words[0:1] = [sys.executable]
    elif words[0] == "torchrun":
        words[0:1] = [sys.executable, "-m", "torch.distributed.run"]
    for index in range(len(words) - 1):
        if words[index] == "-m" and words[index + 1] == "stages.train":
            words[index + 1] = TRAIN_RUNNER
            break
    return words


def stage_env() -> dict[str, str]:
    """The stages import the project from ROOT, whatever folder they run in; the carried wheels stay on the path."""
    paths = [str(ROOT)] + [path for path in os.environ.get("PYTHONPATH", "").split(os.pathsep) if path]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(paths), PYTHONUNBUFFERED="1")


def run_command(command: list[str], cwd: Path, timeout: float) -> str:
    """``command`` in ``cwd``, its output logged and returned; RuntimeError when it fails."""
    log(f"   $ {shlex.join(command)}   (in {cwd})")
    finished = subprocess.run(
        command,
        cwd=cwd,
        env=stage_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=max(timeout, 1.0),
    )
    for line in finished.stdout.replace("\r", "\n").splitlines():
        if line.strip():
            log(f"   | {line}")
    if finished.returncode != 0:
        raise RuntimeError(
            f"{shlex.join(command)} exited with {finished.returncode}: "
            f"{finished.stdout.strip().splitlines()[-1:] or ''}"
        )
    return finished.stdout


def write_params(work: Path, overrides: dict[str, Any]) -> Params:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params.update(overrides)
    if isinstance(params.get("init"), str) and not Path(params["init"]).is_absolute():
        # a model to start from, as the project names it (models/pretrained/restorer.pt): the stages
        # run in the work folder, which holds params.yaml and data only
        params["init"] = str(ROOT / params["init"])
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return load_params(work / "params.yaml")  # fails here, naming the key, rather than in a stage


def pipeline_metrics(work: Path) -> dict[str, Any]:
    """What the stages wrote to ``work/metrics``: train.json whole, eval.json without its ladder."""
    train = json.loads((work / "metrics/train.json").read_text())
    evaluation = json.loads((work / "metrics/eval.json").read_text())
    return {
        "psnr_gain": evaluation["psnr_gain"],
        "psnr_gain_positive": evaluation["psnr_gain"] > 0,
        "train": train,
        "eval": {key: value for key, value in evaluation.items() if key != "ladder"},
    }


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
    return {
        "stages": times,
        "seconds": round(sum(times[name] for name in TIMED_STAGES if name in times), 2),
        "timed": [name for name in TIMED_STAGES if name in times],
        **pipeline_metrics(work),
        "overrides": overrides,
    }


RESUME_EPOCHS = 8  # enough epochs that the kill lands mid-run even where an epoch takes milliseconds


def run_resume(check: Check, pipeline: Path, work: Path) -> dict[str, Any]:
    """The train stage on the tiles of the pipeline in ``pipeline``, in ``work`` with its params but
    RESUME_EPOCHS epochs: run whole, then killed (SIGKILL) as soon as its checkpoint holds an epoch
    and run once more. The second must say it resumes and end with every planned step."""
    command = stage_command(yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["train"]["cmd"])
    params = yaml.safe_load((pipeline / "params.yaml").read_text())
    work.mkdir(parents=True, exist_ok=True)
    (work / "params.yaml").write_text(yaml.safe_dump({**params, "epochs": RESUME_EPOCHS}, sort_keys=False))
    shutil.copytree(pipeline / "data" / "tiles", work / "data" / "tiles", dirs_exist_ok=True)
    run_command(command, work, check.left())
    before = json.loads((work / "metrics/train.json").read_text())
    checkpoint = work / "data" / "train_checkpoint.pt"
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=work, env=stage_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not checkpoint.exists() and process.poll() is None and time.perf_counter() - started < check.left():
        time.sleep(0.01)
    process.kill()
    process.wait()
    if not checkpoint.exists():
        raise RuntimeError(f"the train stage ended (exit status {process.returncode}) before its first checkpoint")
    epochs_done = len(torch.load(checkpoint, map_location="cpu", weights_only=True)["epochs"])
    log(f"   killed the train stage after {time.perf_counter() - started:.1f} s, its checkpoint at epoch {epochs_done}")
    output = run_command(command, work, check.left())
    after = json.loads((work / "metrics/train.json").read_text())
    return {
        "killed_at_epoch": epochs_done,
        "resumed": "resuming from" in output,
        "steps": after["steps"],
        "steps_uninterrupted": before["steps"],
        "val_psnr": after["val_psnr"],
        "val_psnr_uninterrupted": before["val_psnr"],
        "checkpoint_left": checkpoint.exists(),
    }


def run_cpu_pipeline(check: Check, gpu_work: Path, work: Path, params: Params) -> dict[str, Any]:
    """prepare → evaluate again in ``work`` with ``device: cpu`` on the GPU run's photos, the CPU
    training capped by what time is left; the whole pipeline's time extrapolated from the steps it did."""
    (work / "data").mkdir(parents=True, exist_ok=True)
    shutil.copytree(gpu_work / "data" / "samples", work / "data" / "samples")
    cap = max(0.25, min(0.75, (check.left() - 60) / 60))  # minutes; the stage stops there if not done
    result = run_pipeline(check, work, {"device": "cpu", "time_budget": round(cap, 2)}, TIMED_STAGES)
    planned = params.epochs * params.steps_per_epoch
    done = result["train"]["steps"]
    result["train_capped"] = done < planned
    result["train_steps_planned"] = planned
    if done < planned:
        result["seconds_extrapolated"] = round(
            result["seconds"] - result["stages"]["train"] + result["stages"]["train"] * planned / max(done, 1), 1
        )
    return result


def ladder_of(work: Path) -> dict[str, dict[str, Any]]:
    """metrics/eval.json's ladder: each quality's gain as enhance restores (``gain``, photos ``worse``)
    and the model's own there (``model_gain``, ``model_worse``)."""
    ladder = json.loads((work / "metrics/eval.json").read_text()).get("ladder", {})
    return {
        name: {
            "gain": rung["psnr_gain"],
            "worse": rung["photos_worse"],
            "model_gain": rung.get("model_gain"),
            "model_worse": rung.get("model_photos_worse"),
        }
        for name, rung in ladder.items()
    }


def run_quality(
    check: Check, work: Path, raw_dirs: list[Path], minutes: float, overrides: dict[str, Any]
) -> dict[str, Any]:
    """The pipeline on ``raw_dirs`` (urban40, or several folders) with training capped at ``minutes``
    (epochs made large so the clock binds, as benchmarks/quality.py does); the val photos' gain at
    each quality of the ladder."""
    folders = [str(folder.resolve()) for folder in raw_dirs]
    settings = {
        **overrides,
        "raw_dir": folders[0] if len(folders) == 1 else folders,
        "time_budget": minutes,
        "epochs": overrides.get("epochs", 1_000_000),
    }
    result = run_pipeline(check, work, settings, TIMED_STAGES)
    ladder = ladder_of(work)
    result["ladder_gain"] = {name: rung["gain"] for name, rung in ladder.items()}
    result["ladder_photos_worse"] = {name: rung["worse"] for name, rung in ladder.items()}
    # the gains above are the photos as enhance restores them (unchanged where the gate keeps the model off);
    # the model run at every rung:
    result["ladder_model_gain"] = {name: rung["model_gain"] for name, rung in ladder.items()}
    result["ladder_model_photos_worse"] = {name: rung["model_worse"] for name, rung in ladder.items()}
    evaluation = json.loads((work / "metrics/eval.json").read_text()).get("ladder", {})
    rgb = {name: rung["rgb_psnr_gain"] for name, rung in evaluation.items() if "rgb_psnr_gain" in rung}
    if rgb:  # a colour model's ladder on RGB too
        result["ladder_rgb_gain"] = rgb
    result["q20_gain"] = result["ladder_gain"].get("q20")
    result["minutes"] = minutes
    return result


# what a quality run's tar holds: the model, its gate, its metrics, its curves and its params
KEPT = ("params.yaml", "models/srcnn.pt", "models/srcnn.ladder.json", "metrics", "dvclive")


def keep_outputs(work: Path, tar_path: Path, names: Iterable[str] = KEPT) -> str:
    """``work``'s trained model and what goes with it (``names``, KEPT by default) that exist, as one
    tar file; its name."""
    with tarfile.open(tar_path, "w") as tar:
        for name in names:
            if (work / name).exists():
                tar.add(work / name, arcname=name)
    return tar_path.name


def run_qualities(
    check: Check,
    work: Path,
    raw_dirs: list[Path],
    minutes: float,
    overrides: dict[str, Any],
    others: dict[str, dict[str, Any]],
    out: Path,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``run_quality`` with ``overrides``, and beside it, at the same time and for as many minutes,
    one more for each of ``others`` (name → params changed from ``overrides``): runs at equal
    minutes, each a share of the GPU and of the cores. Each run's model, gate, metrics and curves
    are kept in ``out/quality[-NAME].tar``."""
    runs = {"quality": overrides, **{f"quality-{name}": {**overrides, **changed} for name, changed in others.items()}}
    cores = max(1, (os.cpu_count() or 1) // len(runs))
    shared = {"workers": cores, "loader_workers": max(1, min(8, cores - 1))} if len(runs) > 1 else {}
    with concurrent.futures.ThreadPoolExecutor(len(runs)) as pool:
        futures = {
            name: pool.submit(run_quality, check, work / name, raw_dirs, minutes, {**shared, **settings})
            for name, settings in runs.items()
        }
        done: dict[str, Any] = {}
        for name, future in futures.items():
            try:
                done[name] = future.result()
            except Exception as error:  # one run's failure leaves the others' results
                done[name] = {"error": f"{type(error).__name__}: {error}"}
            if (work / name / "models/srcnn.pt").exists():
                done[name]["kept"] = keep_outputs(work / name, out / f"{name}.tar")
    main = done.pop("quality")
    return main, {name.removeprefix("quality-"): result for name, result in done.items()}


def compare_seeds(work: Path, seeds: list[int]) -> dict[str, Any]:
    """Per seed, the val ladders of ``work/ours_seedN`` and ``work/q20_only_seedN`` and how far ours'
    gain at quality 20 falls short of q20_only's; the mean shortfall over the seeds."""
    per_seed = {}
    for seed in seeds:
        ours, peer = ladder_of(work / f"ours_seed{seed}"), ladder_of(work / f"q20_only_seed{seed}")
        per_seed[str(seed)] = {
            "ours": ours,
            "q20_only": peer,
            "q20_shortfall": round(peer["q20"]["gain"] - ours["q20"]["gain"], 4)
            if "q20" in ours and "q20" in peer
            else None,
        }
    shortfalls = [entry["q20_shortfall"] for entry in per_seed.values() if entry["q20_shortfall"] is not None]
    return {
        "seeds": per_seed,
        "q20_shortfall_mean": round(float(np.mean(np.asarray(shortfalls, dtype=float))), 4) if shortfalls else None,
    }


# the model of before: trained at JPEG quality 20 only, not told a photo's compression
Q20_ONLY = dict(jpeg_quality=20, conditioned=False)


def run_seeds(
    check: Check, work: Path, raw_dir: Path, seeds: list[int], steps: int, overrides: dict[str, Any]
) -> dict[str, Any]:
    """Ours and q20_only trained for ``steps`` each, for every seed, all pipelines at once (each a
    share of the cores): the price of one model for every quality, at equal steps."""
    steps_per_epoch = min(int(overrides.get("steps_per_epoch", 200)), steps)
    common = {
        **overrides,
        "raw_dir": str(raw_dir.resolve()),
        "time_budget": 0,
        "steps_per_epoch": steps_per_epoch,
        "epochs": max(1, steps // steps_per_epoch),
        "loader_workers": 2,
    }  # 2 each: the pipelines share the cores
    runs = {
        f"{model}_seed{seed}": {**common, **extra, "seed": seed}
        for seed in seeds
        for model, extra in (("ours", {}), ("q20_only", Q20_ONLY))
    }
    cores = max(1, (os.cpu_count() or 1) // len(runs))
    threads = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = str(cores)  # the stages' processes share the cores
    try:
        with concurrent.futures.ThreadPoolExecutor(len(runs)) as pool:
            futures = {
                name: pool.submit(run_pipeline, check, work / name, {**settings, "workers": cores}, TIMED_STAGES)
                for name, settings in runs.items()
            }
            done = {name: future.result() for name, future in futures.items()}
    finally:
        if threads is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = threads
    compared = compare_seeds(work, seeds)
    for seed, entry in compared["seeds"].items():
        entry["steps"] = {model: done[f"{model}_seed{seed}"]["train"]["steps"] for model in ("ours", "q20_only")}
    return {"steps": steps, **compared, "stage_seconds": {name: result["stages"] for name, result in done.items()}}


def run_torchrun(check: Check, work: Path, overrides: dict[str, Any]) -> dict[str, Any]:
    """The train stage under ``torch.distributed.run`` with 2 processes, 50 steps."""
    write_params(work, {**overrides, "epochs": 1, "steps_per_epoch": 50})
    command = stage_command("torchrun --standalone --nproc_per_node 2 -m stages.train")
    started = time.perf_counter()
    run_command(command, work, check.left())
    return {
        "processes": 2,
        "seconds": round(time.perf_counter() - started, 2),
        "train": json.loads((work / "metrics/train.json").read_text()),
    }
