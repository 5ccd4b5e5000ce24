"""How the pipeline scales with the number of photos: the real `dvc repro` at N = 100, 400, 1600.

    python -m benchmarks.scale                        # N = 100 400 1600
    python -m benchmarks.scale --counts 20 80 --train-steps 50   # a quick look

Generates distinct photo-like 1024×768 JPEGs (no photos needed) and, for each N, copies the project into a
throwaway git repo, points ``raw_dir`` at N of them and runs the real ``dvc repro`` (default params but
``epochs: 1``, ``steps_per_epoch: --train-steps``, ``eval_photos: 10`` and ``eval_qualities: [20, 90]``, so
that training and evaluation take the same time at every N). While it runs, every stage's process tree is
sampled every 50 ms: its seconds and its peak memory (PSS summed over the stage and its workers). Then: ``dvc
status`` and a no-op ``dvc repro`` (seconds), the files DVC tracks under ``data/``, and 1 % more photos added
and ``dvc repro tile`` rerun (the incremental update: photos named after the others, as a camera or a dated
folder names them), then 1 % more again under names that sort among the others (``IMG_00123_b.jpg``; reported,
no target).

The baselines, in the same run: prepare + tile seconds per photo and train-stage memory at the smallest N;
training steps per second of the in-memory path the train stage had before sharding (every train tile of the
smallest N decoded into one tensor, ``srcnn.train.fit`` on it with the same params) against ``fit`` on the
largest N's shards streamed as the train stage streams them, both in this process with nothing sampling them,
taking turns (``--turns``, 5), the best of each, counted once running (from step 20 to the end; each path's
start is reported beside it: all the tiles decoded into memory, or the stream's shuffle buffer filled); the
stage's own steps/s in the table counts its start and the memory sampling beside it; and the loader alone
(``ShardTiles`` with one worker process, no training) in tiles per second per CPU core at the largest N.
Prints a table; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from benchmarks.data_speed import process_tree, pss_kb
from benchmarks.quality import make_project
from benchmarks.workfolder import ALWAYS_RUN, ROOT, stages_run
from srcnn.archs import SRCNN
from srcnn.dataset import MemoryTiles, ShardTiles, auto_loader_workers, read_tiles, spread_tiles
from srcnn.device import pick_device
from srcnn.params import load_params
from srcnn.shards import load_manifest, shard_paths
from srcnn.train import CURVE_VAL_TILES, fit

WIDTH, HEIGHT = 1024, 768
STAGES = ("samples", "prepare", "tile", "train", "evaluate")
TARGETS = {
    "train_memory_ratio": 1.25,
    "seconds_per_photo_ratio": 1.3,
    "files_per_photo": 1 / 50,
    "noop_repro_s": 5.0,
    "incremental_fraction": 0.05,
    "steps_per_s_ratio": 0.9,
}


def generate(folder: Path, first: int, count: int) -> None:
    """Photos ``first`` .. ``first + count - 1``: a sky gradient, noise, and hard-edged blocks
    (buildings, windows) placed differently in each, as quality-92 JPEGs."""
    folder.mkdir(parents=True, exist_ok=True)
    y = np.linspace(0, 1, HEIGHT, dtype=np.float32)[:, None]
    x = np.linspace(0, 1, WIDTH, dtype=np.float32)[None, :]
    base = np.empty((HEIGHT, WIDTH, 3), np.float32)
    for channel in range(3):
        base[..., channel] = 70 + 90 * y + 40 * np.sin(x * (9 + 3 * channel)) * np.cos(y * (7 + channel))
    base += np.random.default_rng(0).normal(0, 5, base.shape).astype(np.float32)
    for number in range(first, first + count):
        image = np.roll(base, (number * 37, number * 71), axis=(0, 1))
        local = np.random.default_rng(number + 1)
        for _ in range(40):
            top, left = local.integers(0, HEIGHT - 100), local.integers(0, WIDTH - 100)
            image[top : top + local.integers(8, 200), left : left + local.integers(8, 200)] = local.uniform(0, 255, 3)
        Image.fromarray(image.clip(0, 255).astype(np.uint8)).save(folder / f"IMG_{number:05d}.jpg", quality=92)


def run(command: list[str], cwd: Path) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, env=dict(os.environ, DVC_NO_ANALYTICS="1")
    )
    if result.returncode:
        sys.exit(f"scale: {' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return time.perf_counter() - started, result.stdout


def repro(project: Path, *args: str) -> dict:
    """``dvc repro ARGS`` with each stage's seconds and peak PSS (MiB) sampled from its process tree."""
    command = [sys.executable, "-m", "dvc", "repro", *args]
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=dict(os.environ, DVC_NO_ANALYTICS="1"),
    )
    seen: dict[str, dict] = {}

    def sample() -> None:
        while process.poll() is None:
            now = time.perf_counter()
            for pid in process_tree(process.pid):
                try:
                    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                except OSError:
                    continue
                if b"-m" in cmdline and any(part.startswith(b"stages.") for part in cmdline):
                    stage = next(part for part in cmdline if part.startswith(b"stages.")).decode()[7:]
                    pss = sum(pss_kb(child) for child in process_tree(pid)) / 1024
                    row = seen.setdefault(stage, {"first": now, "last": now, "peak_mb": 0.0})
                    row["last"], row["peak_mb"] = now, max(row["peak_mb"], pss)
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    output = process.communicate()[0]
    sampler.join()
    if process.returncode:
        sys.exit(f"scale: dvc repro {' '.join(args)} failed:\n{output[-4000:]}")
    stages = {
        stage: {"seconds": row["last"] - row["first"] + 0.05, "peak_mb": row["peak_mb"]} for stage, row in seen.items()
    }
    return {"seconds": time.perf_counter() - started, "stages": stages, "output": output}


def link_photos(pool: Path, into: Path, first: int, count: int) -> None:
    into.mkdir(parents=True, exist_ok=True)
    for number in range(first, first + count):
        os.link(pool / f"IMG_{number:05d}.jpg", into / f"IMG_{number:05d}.jpg")


def tracked_files(project: Path) -> int:
    """Files of the stage outputs under data/ (what DVC hashes, caches and pushes)."""
    return sum(
        1
        for folder in ("samples", "prepared", "tiles")
        for path in (project / "data" / folder).rglob("*")
        if path.is_file()
    )


WARM_STEPS = 20  # steps left out of the rate: the stream's start (its shuffle buffer filling) and the first steps


def fit_steps_per_second(project: Path, streaming: bool) -> tuple[float, float]:
    """The train stage's loop (``fit``) in this process, nothing sampling it: on the shards streamed
    as the stage streams them, or on the pre-sharding path (every train tile decoded into one tensor).
    Returns (steps per second once running, from step WARM_STEPS to the last; seconds to get there
    from the start: the tiles decoded into memory, or the stream started and its buffer filled)."""
    os.chdir(project)
    try:
        params = load_params("params.yaml")
        tiles = project / "data" / "tiles"
        manifest = load_manifest(tiles)
        started = time.perf_counter()
        train: ShardTiles | MemoryTiles
        if streaming:
            train = ShardTiles(
                shard_paths(tiles, manifest, "train"),
                params.seed,
                params.shuffle_buffer,
                params.tile_reuse,
                auto_loader_workers(params.loader_workers, pick_device(params.device)),
            )
        else:
            train = MemoryTiles(*read_tiles(shard_paths(tiles, manifest, "train")), seed=params.seed)
        val = spread_tiles(tiles, manifest, "val", CURVE_VAL_TILES)
        torch.manual_seed(params.seed)
        times: dict[int, float] = {}
        fit(
            SRCNN.from_params(params),
            train,
            val,
            params,
            on_step=lambda step: stamp(times, step),
        )
        last = max(times)
        return (last - WARM_STEPS) / (times[last] - times[WARM_STEPS]), times[WARM_STEPS] - started
    finally:
        os.chdir(ROOT)


def loader_tiles_per_second(project: Path, seconds: float = 15.0) -> float:
    """The loader alone: one background worker decoding shuffled tiles, nothing else, for ``seconds``."""
    tiles = project / "data" / "tiles"
    stream = ShardTiles(shard_paths(tiles, load_manifest(tiles), "train"), seed=0, shuffle_buffer=2000, workers=1)
    batches = stream.batches(0, 64)
    next(batches)  # the worker's start and its shuffle buffer filling
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        count += len(next(batches)[0])
    batches.close()
    return count / (time.perf_counter() - started)


def stamp(times: dict[int, float], step: int) -> None:
    """Note when ``step`` ended (the first time it is seen)."""
    times.setdefault(step, time.perf_counter())


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[100, 400, 1600], metavar="N")
    parser.add_argument("--train-steps", type=int, default=200)
    parser.add_argument("--turns", type=int, default=5, help="turns of each path in the steps/s comparison")
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temporary one, removed)")
    return parser.parse_args()


def measure_count(
    work: Path, pool: Path, count: int, extra: int, renamed_from: int, train_steps: int
) -> tuple[dict, dict]:
    """The pipeline at N = ``count`` photos: a full ``dvc repro`` (each stage sampled), ``dvc status``,
    a no-op ``dvc repro``, the files DVC tracks, then ``extra`` photos added and ``dvc repro tile``,
    and ``extra`` more named among the others (pool photos from ``renamed_from`` on) and again.
    Returns the row of N's figures and the full repro's stages (name → seconds and peak MiB)."""
    photos, project = work / f"photos_{count}", work / f"project_{count}"
    shutil.rmtree(photos, ignore_errors=True)
    shutil.rmtree(project, ignore_errors=True)
    link_photos(pool, photos, 0, count)
    make_project(
        project,
        {
            "raw_dir": str(photos),
            "epochs": 1,
            "steps_per_epoch": train_steps,
            "eval_photos": 10,
            "eval_qualities": [20, 90],
        },
    )
    full = repro(project)
    train = json.loads((project / "metrics" / "train.json").read_text())
    status_s, _ = run([sys.executable, "-m", "dvc", "status"], project)
    noop = repro(project)
    assert stages_run(noop["output"]) == ALWAYS_RUN, noop["output"]
    files = tracked_files(project)
    link_photos(pool, photos, count, extra)
    incremental = repro(project, "tile")
    for index in range(extra):  # new photos whose names sort among the others
        os.link(pool / f"IMG_{renamed_from + index:05d}.jpg", photos / f"IMG_{index * count // extra:05d}_b.jpg")
    scattered = repro(project, "tile")
    stage = full["stages"]
    return {
        "seconds": {name: round(stage[name]["seconds"], 1) for name in STAGES if name in stage},
        "peak_mb": {name: round(stage[name]["peak_mb"], 1) for name in STAGES if name in stage},
        "prepare_tile_s": stage["prepare"]["seconds"] + stage["tile"]["seconds"],
        "repro_s": full["seconds"],
        "status_s": status_s,
        "noop_repro_s": noop["seconds"],
        "files": files,
        "incremental_s": incremental["seconds"],
        "added": extra,
        "scattered_s": scattered["seconds"],
        "incremental_stages_s": sum(
            incremental["stages"][name]["seconds"] for name in ("prepare", "tile") if name in incremental["stages"]
        ),
        "train_steps_per_s": train["steps"] / train["seconds"],
        "tiles": json.loads((project / "metrics" / "data.json").read_text())["tiles_train"],
    }, stage


def print_count(count: int, row: dict, stage: dict) -> None:
    """The table of one N: each stage's seconds and peak memory, then the other figures."""
    print(f"\nN = {count} photos ({row['tiles']} train tiles), full dvc repro {row['repro_s']:.0f} s", flush=True)
    print(f"{'stage':<10}{'seconds':>9}{'s/photo':>9}{'peak PSS MiB':>14}")
    for name in STAGES:
        if name in stage:
            print(
                f"{name:<10}{stage[name]['seconds']:>9.1f}{stage[name]['seconds'] / count:>9.3f}"
                f"{stage[name]['peak_mb']:>14.0f}"
            )
    print(
        f"prepare + tile {row['prepare_tile_s']:.1f} s ({row['prepare_tile_s'] / count:.3f} s/photo); "
        f"train {row['train_steps_per_s']:.2f} steps/s; files DVC tracks under data/: {row['files']}; "
        f"dvc status {row['status_s']:.1f} s; no-op dvc repro {row['noop_repro_s']:.1f} s; "
        f"+{row['added']} photos: dvc repro tile {row['incremental_s']:.1f} s "
        f"({100 * row['incremental_s'] / row['prepare_tile_s']:.1f} % of the full prepare + tile); "
        f"+{row['added']} more named among the others: {row['scattered_s']:.1f} s "
        f"({100 * row['scattered_s'] / row['prepare_tile_s']:.1f} %)",
        flush=True,
    )


def fit_turns(work: Path, small: int, large: int, turns: int) -> list[tuple[bool, float, float]]:
    """The baseline: ``fit`` on the in-memory path at N = ``small`` and streaming at N = ``large``,
    taking ``turns`` turns: (streaming, steps/s once running, seconds to get there) per run."""
    # the same loop on both paths, in this process, taking turns, the best of each: the stage's own
    # figure (in the table) also counts its stream's start and the 50 ms memory sampling beside it
    return [
        (streaming, *fit_steps_per_second(work / f"project_{large if streaming else small}", streaming))
        for _ in range(turns)
        for streaming in (False, True)
    ]


def summary(
    args: argparse.Namespace, counts: list[int], rows: dict, turns: list[tuple[bool, float, float]], loader: float
) -> dict:
    """The JSON line: the ratios between the smallest and the largest N, the baseline's, each row,
    and the targets met."""
    small, large = counts[0], counts[-1]
    in_memory = max(rate for streaming, rate, _ in turns if not streaming)
    streamed = max(rate for streaming, rate, _ in turns if streaming)
    result = {
        "counts": counts,
        "train_steps": args.train_steps,
        "train_memory_ratio": round(rows[large]["peak_mb"]["train"] / rows[small]["peak_mb"]["train"], 3),
        "seconds_per_photo_ratio": round(
            (rows[large]["prepare_tile_s"] / large) / (rows[small]["prepare_tile_s"] / small), 3
        ),
        "files_per_photo": round(rows[large]["files"] / large, 4),
        "files": {n: rows[n]["files"] for n in counts},
        "noop_repro_s": round(rows[large]["noop_repro_s"], 2),
        "incremental_fraction": round(rows[large]["incremental_s"] / rows[large]["prepare_tile_s"], 4),
        "scattered_fraction": round(rows[large]["scattered_s"] / rows[large]["prepare_tile_s"], 4),
        "steps_per_s_ratio": round(streamed / in_memory, 3),
        "in_memory_steps_per_s": round(in_memory, 3),
        "streaming_steps_per_s": round(streamed, 3),
        "fit_turns": [
            {"streaming": streaming, "steps_per_s": round(rate, 3), "ready_s": round(ready, 2)}
            for streaming, rate, ready in turns
        ],
        "loader_tiles_per_s_per_core": round(loader, 1),
        "rows": {
            n: {key: (round(value, 3) if isinstance(value, float) else value) for key, value in row.items()}
            for n, row in rows.items()
        },
        "targets": TARGETS,
    }
    # the fixed part: the samples stage's 12 photos, each split's first run in each of 2 folders, 2
    # manifests, 1 report; the rest grows as 2 folders × photos / photos_per_shard (at most 1 per 50 at 100 or more)
    constant = result["files_constant"] = 12 + 2 * 2 + 3
    result["met"] = {
        "train_memory_ratio": result["train_memory_ratio"] <= TARGETS["train_memory_ratio"],
        "seconds_per_photo_ratio": result["seconds_per_photo_ratio"] <= TARGETS["seconds_per_photo_ratio"],
        "files": rows[large]["files"] <= large * TARGETS["files_per_photo"] + constant,
        "noop_repro_s": result["noop_repro_s"] <= TARGETS["noop_repro_s"],
        "incremental_fraction": result["incremental_fraction"] <= TARGETS["incremental_fraction"],
        "steps_per_s_ratio": result["steps_per_s_ratio"] >= TARGETS["steps_per_s_ratio"],
    }
    return result


def main() -> None:
    args = parse_args()
    counts = sorted(args.counts)
    work = args.work or Path(tempfile.mkdtemp(prefix="scale."))
    pool = work / "pool"
    extra = {count: max(1, math.ceil(count / 100)) for count in counts}
    started = time.perf_counter()
    generate(pool, 0, max(counts) + 2 * max(extra.values()))
    print(
        f"scale: {max(counts) + 2 * max(extra.values())} photos of {WIDTH}×{HEIGHT} generated in "
        f"{time.perf_counter() - started:.0f} s; {torch.get_num_threads()} torch threads, {os.cpu_count()} CPUs",
        flush=True,
    )
    rows = {}
    try:
        for count in counts:
            renamed_from = max(counts) + max(extra.values())  # the pool's photos after those any N adds
            rows[count], stage = measure_count(work, pool, count, extra[count], renamed_from, args.train_steps)
            print_count(count, rows[count], stage)
        small, large = counts[0], counts[-1]
        turns = fit_turns(work, small, large, args.turns)
        loader = loader_tiles_per_second(work / f"project_{large}")
        print(
            f"\nfit, taking turns, steps/s from step {WARM_STEPS} on (seconds to get there): "
            f"in-memory path at N = {small}: "
            + ", ".join(f"{rate:.2f} ({ready:.1f} s)" for streaming, rate, ready in turns if not streaming)
            + f"; streaming at N = {large}: "
            + ", ".join(f"{rate:.2f} ({ready:.1f} s)" for streaming, rate, ready in turns if streaming)
            + f"; the train stage at N = {large}: {rows[large]['train_steps_per_s']:.2f} steps/s; "
            f"loader alone: {loader:.0f} tiles/s per core"
        )
        print(json.dumps(summary(args, counts, rows, turns, loader)))
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
