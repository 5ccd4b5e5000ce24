"""The streaming train path against the in-memory one it replaced: same tiles, seed and steps, same quality?

    python -m benchmarks.stream_quality --raw-dir BENCH/urban40
    python -m benchmarks.stream_quality --raw-dir BENCH/urban40 --seeds 0 1 2

BENCH: a folder of benchmark photos; urban40 is Urban100's img_001–040.

Copies the project into a throwaway git repo, points ``raw_dir`` at the photos and runs the real
``dvc repro tile`` (prepare and tile into shards). Then trains two models with ``srcnn.train.fit``
and the project's params (``--steps`` fixed steps, no time budget, the same seed): one streaming the
train shards (``ShardTiles``, as the train stage does), one on every train tile decoded into
memory (``MemoryTiles``, the path before sharding). Both are scored on the same val photos by
``srcnn.evaluation``; the last line is one JSON object with both PSNRs and their difference.
``--seeds 0 1 2`` repeats the pair for each seed: two training runs that differ only in the order
of their samples do not end at the same PSNR, and the in-memory path's own spread between seeds
shows how much of a one-run difference is that noise.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.quality import make_project, run
from srcnn.archs import SRCNN
from srcnn.dataset import MemoryTiles, ShardTiles, read_tiles, spread_tiles
from srcnn.evaluation import evaluate_photos, summarize
from srcnn.params import Params, load_params
from srcnn.photos import read_prepared
from srcnn.shards import load_manifest, samples_in, shard_paths
from srcnn.train import CURVE_VAL_TILES, fit

TARGET_DB = 0.05


def val_photos(project: Path) -> list[tuple[str, np.ndarray, np.ndarray, int | None]]:
    """The project's prepared val photos as (name, clean, degraded, the JPEG quality prepare used)."""
    return [
        (report["name"], clean, degraded, report["jpeg_quality"])
        for report, clean, degraded in read_prepared(project / "data" / "prepared", "val")
    ]


def evaluate(model: torch.nn.Module, photos: list, border: int) -> dict[str, float]:
    """Means over (name, clean, degraded, JPEG quality) photos of PSNR and SSIM, by srcnn.evaluation."""
    summary = summarize(evaluate_photos(model, photos, border))
    return {
        "psnr_input": summary["psnr_input"],
        "psnr_output": summary["psnr_output"],
        "gain": summary["psnr_gain"],
        "ssim_input": summary["ssim_input"],
        "ssim": summary["ssim_output"],
        "images": summary["photos"],
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--raw-dir", required=True, type=Path)
    parser.add_argument("--steps", type=int, default=2000, help="training steps of each model")
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temporary one)")
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=None,
        help="train both models once per seed (default: params' seed): the spread between "
        "seeds of the in-memory path alone is the noise any one-run comparison carries",
    )
    return parser.parse_args()


def train_pair(
    params: Params,
    seed: int,
    train_shards: list[Path],
    in_memory: tuple[torch.Tensor, torch.Tensor],
    val_tiles: tuple[torch.Tensor, torch.Tensor],
    photos: list,
) -> dict:
    """Both paths trained with ``seed`` and scored on ``photos``: seed, delta_db and each path's figures."""
    seeded = dataclasses.replace(params, seed=seed)
    sources: dict[str, ShardTiles | MemoryTiles] = {
        "streaming": ShardTiles(train_shards, seed, params.shuffle_buffer, params.tile_reuse),
        "in_memory": MemoryTiles(*in_memory, seed=seed),
    }
    results = {}
    for name, source in sources.items():
        torch.manual_seed(seed)
        model = SRCNN.from_params(seeded)
        started = time.perf_counter()
        history = fit(model, source, val_tiles, seeded)
        model.eval()
        scores = evaluate(model, photos, params.border)
        results[name] = {
            **scores,
            "steps": history.steps,
            "seconds": round(time.perf_counter() - started, 1),
            "steps_per_s": round(history.steps / history.seconds, 3),
        }
        print(
            f"seed {seed} {name:<10} {history.steps} steps in {history.seconds:.0f} s: val photos PSNR "
            f"{scores['psnr_input']:.3f} → {scores['psnr_output']:.3f} dB ({scores['gain']:+.3f})",
            flush=True,
        )
    delta = results["streaming"]["psnr_output"] - results["in_memory"]["psnr_output"]
    return {"seed": seed, "delta_db": round(delta, 4), **results}


def main() -> None:
    args = parse_args()
    work = (args.work or Path(tempfile.mkdtemp(prefix="stream_quality."))).resolve()
    project = make_project(
        work,
        {
            "raw_dir": str(args.raw_dir.resolve()),
            "epochs": max(1, args.steps // 200),
            "steps_per_epoch": min(200, args.steps),
            "time_budget": 0,
        },
    )
    run([sys.executable, "-m", "dvc", "repro", "tile"], cwd=project)
    params = load_params(project / "params.yaml")
    tiles = project / "data" / "tiles"
    manifest = load_manifest(tiles)
    train_shards = shard_paths(tiles, manifest, "train")
    val_tiles = spread_tiles(tiles, manifest, "val", CURVE_VAL_TILES)
    photos = val_photos(project)
    in_memory = read_tiles(train_shards)
    runs = [
        train_pair(params, seed, train_shards, in_memory, val_tiles, photos) for seed in args.seeds or [params.seed]
    ]
    deltas = [item["delta_db"] for item in runs]
    memory = [item["in_memory"]["psnr_output"] for item in runs]
    summary = {
        "raw_dir": str(args.raw_dir),
        "steps": args.steps,
        "shuffle_buffer": params.shuffle_buffer,
        "val_photos": len(photos),
        "train_tiles": samples_in(manifest, "train"),
        "delta_db": deltas[0],
        "mean_delta_db": round(float(np.mean(deltas)), 4),
        "target_db": TARGET_DB,
        "met": abs(deltas[0]) <= TARGET_DB,
        "in_memory_spread_db": round(max(memory) - min(memory), 4),
        "runs": runs,
    }
    if len(runs) > 1:
        print(
            f"streaming − in-memory: {', '.join(f'{delta:+.3f}' for delta in deltas)} dB (mean "
            f"{summary['mean_delta_db']:+.3f}); in-memory alone from seed to seed: {min(memory):.3f} to "
            f"{max(memory):.3f} dB",
            flush=True,
        )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
