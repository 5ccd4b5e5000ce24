"""Restoration quality of every network of the registry, each trained by the real pipeline.

    python -m benchmarks.quality --raw-dir BENCH/urban40 BENCH/train400 --minutes 15 \\
        --ladder-dirs BENCH/set5 BENCH/set14 --threads 1 --parallel 2

BENCH: a folder of benchmark photos: urban40 (Urban100's img_001–040), train400 (DnCNN's 400 gray
training crops), set5 and set14.

1. Copies the project (git-tracked and untracked-not-ignored files, no data or outputs) into a work
   folder, a git repo, sets raw_dir to the --raw-dir folders, time_budget to --minutes (epochs made
   large so the clock binds), and for --scale N > 1 scale=N, jpeg_quality=null; runs
   ``dvc repro tile`` there once.
2. Equal minutes: for each arch of --archs, a copy of that folder in which ``dvc exp run -S arch=NAME``
   trains and evaluates it (``LONG_RUN_MODEL``: batch 32 and, for srcnn, 9-5-5), --parallel of them
   at a time, each on --threads threads: with --threads 1 every model gets the same CPU-minutes.
3. Equal steps (unless --no-equal-steps): every arch again, for as many steps as the one that made
   the fewest in its minutes (that one's run is reused).
4. Scores every model the same way, as ``enhance`` restores photos (under the gate its own evaluate
   stage wrote; fp32; whole photos; MATLAB-style BT.601 luma and, where the pipeline reports it, RGB):
   the ladder (the clean photos degraded afresh at each quality of ``eval_qualities``) on the val
   photos that come from the first --raw-dir folder, and on the --ladder-dirs photos, which no model
   or gate ever saw.

Prints a table per ladder; the last line is one JSON object (every run's figures; the checkpoints
are kept in benchmarks/out/, which ``enhance`` accepts). -S key=value sets any param for every run;
--work DIR reuses a work folder (only what changed reruns). Every run appends its figures to
benchmarks/out/experiments.jsonl. Run nothing else heavy at the same time: each model trains for a
fixed time, so other work costs it steps.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from benchmarks.workfolder import ROOT, command_env, copy_project
from srcnn.archs import ARCHS
from srcnn.degrade import crop_to_multiple
from srcnn.evaluation import ladder_gains, ladder_table
from srcnn.gate import gate_path, read_gate
from srcnn.history import jpeg_history, quantization_steps
from srcnn.images import is_photo_name, load_rgb
from srcnn.inference import PASSES, load_model
from srcnn.params import Params, load_params
from srcnn.photos import list_photo_files, read_prepared

OUT = ROOT / "benchmarks" / "out"
# models/ is kept: git tracks only the shipped models there, which the evaluate stage scores
SKIP = ("data/", "metrics/", "dvclive/", "plots/", "dvc.lock", "tests/", "benchmarks/", "dvc_plots/")
# a run of many minutes trains at batch 32, and SRCNN as 9-5-5: the quick start's 9-3-5 at batch 16
# is sized for a short run on a CPU without bf16 units (docs/training.md)
LONG_RUN_MODEL = dict(kernel2=5, batch_size=32)
PAPERS_JPEG = "LIVE1, luma, gain at q10/q20/q40: AR-CNN +1.19/+1.22/+1.26, DnCNN-3 +1.42/+1.52/+1.61 dB"


def run(command: list[str], cwd: Path, threads: int | None = None) -> None:
    env = command_env("bench", **({"OMP_NUM_THREADS": str(threads)} if threads else {}))
    result = subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    for line in lines:
        if (line.startswith(("prepare:", "tile:", "train:", "evaluate:")) and "%|" not in line) or result.returncode:
            print(f"  | {cwd.name}: {line}", flush=True)
    if result.returncode:
        sys.exit(f"quality: {' '.join(command)} failed in {cwd} ({result.returncode})")


def make_project(work: Path, settings: dict[str, Any]) -> Path:
    """The project's files in ``work`` (a git repo), with ``settings`` written into params.yaml."""
    work.mkdir(parents=True, exist_ok=True)
    copy_project(work, SKIP)
    params = yaml.safe_load((work / "params.yaml").read_text())
    params.update(settings)
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    load_params(work / "params.yaml")  # a bad -S value stops here, with the key named
    if not (work / ".git").exists():
        run(["git", "init", "-q", "-b", "main"], cwd=work)
    run(["git", "add", "-A"], cwd=work)
    run(["git", "commit", "-qm", "benchmark", "--allow-empty"], cwd=work)
    return work


def train_copy(base: Path, name: str, settings: dict[str, Any], threads: int) -> Path:
    """A copy of the data-ready ``base`` project in which ``dvc exp run -S ...`` trains and evaluates."""
    work = base.parent / name
    if not work.exists():
        shutil.copytree(base, work, symlinks=True)
    run(
        [
            sys.executable,
            "-m",
            "dvc",
            "exp",
            "run",
            *(f"-S{key}={json.dumps(value)}" for key, value in settings.items()),
        ],
        cwd=work,
        threads=threads,
    )
    return work


def held_out_photos(folders: list[Path], scale: int) -> list[tuple[str, Any]]:
    """Every image of ``folders`` whole (cut to a multiple of scale), as (name, clean RGB)."""
    photos = []
    for folder in folders:
        for path in sorted(path for path in folder.iterdir() if path.is_file() and is_photo_name(path)):
            photos.append((f"{folder.name}/{path.stem}", crop_to_multiple(load_rgb(path), scale)))
    return photos


def val_photos(project: Path, folder: Path) -> list[tuple[str, Any]]:
    """The project's prepared val photos whose file lies in ``folder``, as (name, clean RGB)."""
    digests = set()
    for path in list_photo_files(folder)[0]:
        with open(path, "rb") as handle:
            digests.add(hashlib.file_digest(handle, "sha256").hexdigest())
    return [
        (report["name"], clean)
        for report, clean, _ in read_prepared(project / "data" / "prepared", "val")
        if report.get("sha256") in digests
    ]


def ladder(table: pd.DataFrame) -> dict[str, dict[str, float | int | bool]]:
    """``srcnn.evaluation.ladder_table``'s rows by rung: gain and photos made worse at each quality,
    as ``enhance`` restores them, and the model's own gain there; RGB too where the evaluation gives it."""
    rungs = {}
    for row in table.to_dict("records"):
        rung = {
            "photos": int(row["photos"]),
            "gain": round(float(row["psnr_gain"]), 4),
            "worse": int(row["photos_worse"]),
            "applied": bool(row["applied"]),
            "model_gain": round(float(row["model_gain"]), 4),
        }
        if "rgb_psnr_gain" in row:
            rung["rgb_gain"] = round(float(row["rgb_psnr_gain"]), 4)
        rungs[f"q{int(row['quality'])}"] = rung
    return rungs


def score_checkpoint(
    name: str, checkpoint: Path, photos: dict[str, list], params: Params, passes: int = 1
) -> dict[str, Any]:
    """A checkpoint's ladders on ``photos`` (ladder name → photos), under the gate beside it; for
    the held-out photos also on those whose reference shows no earlier compression
    (``held_out_fresh_ladder``) and on the colour ones (``held_out_colour_ladder``).
    ``passes``: restored as ``enhance --passes`` does."""
    model, _ = load_model(checkpoint)
    gate = read_gate(gate_path(checkpoint), checkpoint)
    if gate is None:
        sys.exit(f"quality: {checkpoint} has no gate beside it ({gate_path(checkpoint)}): run its evaluate stage")
    result: dict[str, Any] = {"parameters": sum(p.numel() for p in model.parameters())}
    for key, group in photos.items():
        print(f"quality: the ladder of {name} on {len(group)} {key} photos ...", flush=True)
        gains = ladder_gains(model, group, params.border, params.scale, params.eval_qualities, passes=passes)
        result[key] = ladder(ladder_table(gains, gate))
        if key == "held_out_ladder":
            # references that went through a JPEG or a video codec's 8×8 transform already: removing
            # their artifacts moves a model away from them (docs/quality.md)
            history = {
                photo_name: {"jpeg_quality": jpeg_history(clean), "dct_steps": quantization_steps(clean)}
                for photo_name, clean in group
            }
            fresh = [photo_name for photo_name, seen in history.items() if not any(seen.values())]
            if 0 < len(fresh) < len(group):
                result["held_out_fresh_ladder"] = ladder(ladder_table(gains[gains["photo"].isin(fresh)], gate))
            if gains["colour"].any():  # what the colour model is judged on (srcnn.evaluation.judged_rows)
                result["held_out_colour_ladder"] = ladder(ladder_table(gains[gains["colour"]], gate))
            result["held_out_history"] = {name: seen for name, seen in history.items() if any(seen.values())}
            # each photo restored worse, where enhance would restore it
            worse = gains[(gains["model_gain"] < 0) & gains["quality"].map(gate.allows)]
            result["held_out_worse"] = {
                f"q{quality}": {
                    name: round(float(gain), 2) for name, gain in zip(rows["photo"], rows["model_gain"], strict=True)
                }
                for quality, rows in worse.groupby("quality")
            }
    return result


def score_run(name: str, work: Path, photos: dict[str, list], stamp: str) -> dict[str, Any]:
    """One trained project's figures: training, and the ladders of ``photos`` (ladder name → photos)."""
    checkpoint = OUT / f"{name}-{stamp}.pt"
    shutil.copy2(work / "models" / "srcnn.pt", checkpoint)
    shutil.copy2(gate_path(work / "models" / "srcnn.pt"), gate_path(checkpoint))
    params = load_params(work / "params.yaml")
    train = json.loads((work / "metrics" / "train.json").read_text())
    result = {
        **score_checkpoint(name, checkpoint, photos, params),
        "arch": params.arch,
        "steps": train["steps"],
        "seconds": train["seconds"],
        "ms_per_step": round(1000 * train["seconds"] / max(train["steps"], 1), 1),
        "model": str(checkpoint),
        "work": str(work),
    }
    return result


def print_ladders(results: dict[str, Any], keys: Sequence[str]) -> None:
    for key in keys:
        rungs = list(next(iter(results.values()))[key])
        photos = next(iter(next(iter(results.values()))[key].values()))["photos"]
        print(f"\n{key} ({photos} photos): luma PSNR gain in dB (photos made worse), as enhance restores them")
        print(f"{'run':<18}{'params':>9}{'steps':>8}{'ms/step':>9}" + "".join(f"{rung:>13}" for rung in rungs))
        for name, row in results.items():
            cells = (
                f"{row[key][rung]['gain']:+.2f} ({row[key][rung]['worse']})"
                + ("" if row[key][rung]["applied"] else "*")
                for rung in rungs
            )
            print(
                f"{name[:18]:<18}{row['parameters']:>9}{row['steps']:>8}{row['ms_per_step']:>9.1f}"
                + "".join(f"{cell:>13}" for cell in cells)
            )
            print(f"{'  model alone':<44}" + "".join(f"{row[key][rung]['model_gain']:>+13.2f}" for rung in rungs))
            if all("rgb_gain" in row[key][rung] for rung in rungs):
                print(f"{'  RGB':<44}" + "".join(f"{row[key][rung]['rgb_gain']:>+13.2f}" for rung in rungs))
    print(
        "* left unchanged, as enhance leaves such photos: outside the trained qualities, or where the model's own "
        "evaluation found it unsafe (srcnn/gate.py); 'model alone': the model's gain there anyway"
    )


def targets(results: dict[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    """The restorer issue's checks: the best other arch ahead of srcnn by 0.3 dB at q10, q20 and q40
    at equal minutes, and no rung below 0 for any run."""
    checks: dict[str, Any] = {}
    for key in keys:
        checks[f"{key}_no_rung_below_0"] = all(
            rung["gain"] >= 0 for row in results.values() for rung in row[key].values()
        )
        if "srcnn" in results:
            for name, row in results.items():
                if name != "srcnn" and "-" not in name and all(f"q{q}" in row[key] for q in (10, 20, 40)):
                    checks[f"{key}_{name}_ahead_of_srcnn_by_0.3"] = all(
                        row[key][f"q{q}"]["gain"] >= results["srcnn"][key][f"q{q}"]["gain"] + 0.3 for q in (10, 20, 40)
                    )
    return checks


def score_only(checkpoint: Path, folders: list[Path], out: Path | None, passes: int = 1) -> None:
    """The ladders of a trained checkpoint on held-out folders, with params.yaml's eval_qualities,
    and its training figures as the train stage stored them; written to ``out`` too when given."""
    if not folders:
        sys.exit("quality: --score needs --ladder-dirs")
    params = load_params(ROOT / "params.yaml")
    held_out = held_out_photos(folders, load_model(checkpoint)[1].get("params", {}).get("scale", 1) or 1)
    scored = {"held_out_ladder": held_out}
    result = score_checkpoint(checkpoint.name, checkpoint, scored, params, passes)
    info = load_model(checkpoint)[1]
    training = {key: info[key] for key in ("arch", "steps", "seconds", "parameters", "val_psnr") if key in info}
    result.update(
        steps=training.get("steps", 0),
        ms_per_step=round(1000 * training.get("seconds", 0) / max(training.get("steps", 1), 1), 1),
    )
    keys = [key for key in ("held_out_ladder", "held_out_fresh_ladder", "held_out_colour_ladder") if key in result]
    print_ladders({checkpoint.name: result}, keys)
    for rung, photos in result["held_out_worse"].items():
        marked = [
            f"{name} {gain:+.2f}{' (compressed before)' if name in result['held_out_history'] else ''}"
            for name, gain in photos.items()
        ]
        print(f"held out, made worse at {rung}: {', '.join(marked)}")
    summary = {
        "model": checkpoint.name,
        "ladder_dirs": [folder.name for folder in folders],
        "training": training,
        "passes": passes,
        **result,
    }
    if out is not None:
        out.write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps(summary))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--score",
        type=Path,
        metavar="CHECKPOINT",
        help="train nothing: the ladders of this checkpoint (under its gate) on --ladder-dirs",
    )
    parser.add_argument("--out", type=Path, help="with --score: also write its JSON there")
    parser.add_argument(
        "--passes",
        type=int,
        choices=PASSES,
        default=1,
        help="with --score: restore as enhance --passes N does (N flips and rotations, averaged; default 1)",
    )
    parser.add_argument(
        "--raw-dir",
        nargs="+",
        type=Path,
        default=[],
        help="folders of clean photos; val photos are scored from the first (urban40)",
    )
    parser.add_argument("--minutes", type=float, default=15.0, help="training budget of each model")
    parser.add_argument("--archs", nargs="+", default=list(ARCHS), choices=list(ARCHS))
    parser.add_argument("--no-equal-steps", action="store_true", help="skip the equal-steps runs")
    parser.add_argument("--threads", type=int, default=1, help="threads of each training (OMP_NUM_THREADS)")
    parser.add_argument("--parallel", type=int, default=1, help="trainings at once")
    parser.add_argument("--scale", type=int, default=1, help=">1: super-resolution (jpeg_quality null)")
    parser.add_argument(
        "--ladder-dirs",
        nargs="*",
        type=Path,
        default=[],
        help="held-out photo folders (e.g. Set5, Set14), scored under each model's own gate",
    )
    parser.add_argument(
        "-S",
        dest="settings",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set a param for every run (YAML value), e.g. -S lr=3.0e-3",
    )
    parser.add_argument("--work", type=Path, help="work folder to create or reuse (default: a new temp folder)")
    parser.add_argument("--label", default="", help="name of this run in experiments.jsonl")
    args = parser.parse_args()
    for folder in args.raw_dir + args.ladder_dirs:
        if not folder.is_dir():
            sys.exit(f"quality: {folder} is not a folder")
    if not args.score and not args.raw_dir:
        parser.error("--raw-dir is required unless --score")
    return args


def run_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The params every run shares: raw_dir, the time budget, batch 32, --scale and every -S."""
    raw_dirs = [str(folder.resolve()) for folder in args.raw_dir]
    settings: dict[str, Any] = {
        "raw_dir": raw_dirs if len(raw_dirs) > 1 else raw_dirs[0],
        "time_budget": args.minutes,
        "epochs": 1_000_000,
        "batch_size": LONG_RUN_MODEL["batch_size"],
    }
    if args.scale > 1:
        settings.update(scale=args.scale, jpeg_quality=None)
    for item in args.settings:
        key, _, value = item.partition("=")
        settings[key] = yaml.safe_load(value)
    return settings


def arch_settings(arch: str) -> dict[str, Any]:
    return {"arch": arch, **({"kernel2": LONG_RUN_MODEL["kernel2"]} if arch == "srcnn" else {})}


def train_equal_minutes(base: Path, args: argparse.Namespace) -> dict[str, Path]:
    """Every arch of --archs trained for --minutes, --parallel at a time: run name → its project."""
    with ThreadPoolExecutor(args.parallel) as pool:
        return dict(
            zip(
                args.archs,
                pool.map(lambda arch: train_copy(base, arch, arch_settings(arch), args.threads), args.archs),
                strict=True,
            )
        )


def train_equal_steps(base: Path, args: argparse.Namespace, steps: dict[str, int]) -> dict[str, Path]:
    """Every arch that made more steps than the fewest, again for exactly the fewest (the one
    that made the fewest is reused): run name (ARCH-Nsteps) → its project."""
    fewest = min(steps.values())
    again = [arch for arch in args.archs if steps[arch] > fewest]
    # one epoch of exactly the steps, no clock: the same schedule the timed runs followed
    fixed = {"time_budget": 0, "epochs": 1, "steps_per_epoch": fewest}
    with ThreadPoolExecutor(args.parallel) as pool:
        return dict(
            zip(
                (f"{arch}-{fewest}steps" for arch in again),
                pool.map(
                    lambda arch: train_copy(
                        base, f"{arch}-{fewest}steps", {**arch_settings(arch), **fixed}, args.threads
                    ),
                    again,
                ),
                strict=True,
            )
        )


def cpu_name() -> str:
    """lscpu's model name and the widest vector unit it lists (what the minutes of training bought)."""
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    cpu = next((line.split(":", 1)[1].strip() for line in lscpu.splitlines() if line.startswith("Model name")), "?")
    flags = set(next((line.split(":", 1)[1].split() for line in lscpu.splitlines() if line.startswith("Flags")), []))
    return cpu + (
        " (AMX)"
        if "amx_bf16" in flags
        else " (AVX-512 bf16)"
        if "avx512_bf16" in flags
        else " (AVX-512)"
        if "avx512f" in flags
        else " (AVX2)"
        if "avx2" in flags
        else ""
    )


def main() -> None:
    args = parse_args()
    if args.score:
        score_only(args.score, args.ladder_dirs, args.out, args.passes)
        return
    settings = run_settings(args)
    work = (args.work or Path(tempfile.mkdtemp(prefix="srcnn-quality-"))).resolve()
    base = make_project(work / "base", settings)
    params = load_params(base / "params.yaml")
    print(
        f"quality: projects in {work}; {args.minutes:g} min per model on {args.threads} thread(s), "
        f"{args.parallel} at a time; params set: {settings}",
        flush=True,
    )
    started = time.perf_counter()
    run([sys.executable, "-m", "dvc", "repro", "tile"], cwd=base)
    run(["git", "add", "-A"], cwd=base)
    run(["git", "commit", "-qm", "data", "--allow-empty"], cwd=base)
    works = train_equal_minutes(base, args)
    steps = {arch: json.loads((works[arch] / "metrics" / "train.json").read_text())["steps"] for arch in args.archs}
    fewest = min(steps.values())
    if not args.no_equal_steps and len(args.archs) > 1:
        works.update(train_equal_steps(base, args, steps))
    print(f"quality: trained and evaluated by the pipeline in {time.perf_counter() - started:.0f} s", flush=True)

    scored = {"val_ladder": val_photos(base, args.raw_dir[0])}
    if args.ladder_dirs:
        scored["held_out_ladder"] = held_out_photos(args.ladder_dirs, params.scale)
    OUT.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    results = {name: score_run(name, folder, scored, stamp) for name, folder in works.items()}
    keys = [
        key for key in ("val_ladder", "held_out_ladder", "held_out_fresh_ladder") if key in results[next(iter(results))]
    ]
    cpu = cpu_name()
    equal = f" (runs named ARCH-{fewest}steps: {fewest} steps each)" if any("steps" in name for name in works) else ""
    print(
        f"\n{cpu}; {args.minutes:g} min of training each on {args.threads} thread(s){equal}; "
        f"raw_dir {', '.join(folder.name for folder in args.raw_dir)}"
    )
    print_ladders(results, keys)
    print(f"papers: {PAPERS_JPEG}")
    summary = {
        "label": args.label,
        "cpu": cpu,
        "raw_dir": [str(folder.resolve()) for folder in args.raw_dir],
        "minutes": args.minutes,
        "threads": args.threads,
        "parallel": args.parallel,
        "equal_steps": fewest,
        "scale": params.scale,
        "eval_qualities": list(params.eval_qualities),
        "settings": {k: v for k, v in settings.items() if k != "raw_dir"},
        "photos": {key: len(photos) for key, photos in scored.items()},
        "runs": results,
        "targets": targets(results, keys),
        "seconds": round(time.perf_counter() - started, 1),
    }
    with open(OUT / "experiments.jsonl", "a") as log:
        log.write(json.dumps(summary) + "\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
