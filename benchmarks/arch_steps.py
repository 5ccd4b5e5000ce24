"""How fast each network of the registry learns, step for step: the probe run before choosing one,
and before choosing how the learning rate follows the batch (``lr_scaling``).

    python -m benchmarks.arch_steps --tiles WORK/data/tiles --steps 400
    python -m benchmarks.arch_steps --tiles WORK/data/tiles --steps 100 --every 10 --batch 512 --crop 32 \
        --archs srcnn ffdnet_res --lr-scalings none sqrt      # lr 1e-3 against 1e-3 × sqrt(512 / 16)

WORK: a project folder whose tile stage has run (e.g. on urban40). Each arch of ``srcnn.archs``
(params.yaml's sizes, and SRCNN as 9-5-5) trains from the same seed on the same batches of the
train tiles, in memory, with ``srcnn.train.fit`` and params.yaml's training params (one epoch of
--steps steps, --batch tiles a batch); the val PSNR of the same 128 val tiles is printed every
--every steps. SRCNN is the baseline; with several --lr-scalings, each arch runs under each rule
and the first rule is that arch's baseline. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import torch

from benchmarks.workfolder import ROOT
from srcnn.archs import ARCHS, build_model
from srcnn.dataset import MemoryTiles, read_tiles
from srcnn.params import load_params
from srcnn.shards import load_manifest, shard_paths
from srcnn.train import CURVE_VAL_TILES, fit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiles", type=Path, required=True, help="a tile stage's output folder (data/tiles)")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--every", type=int, default=100, help="steps between val PSNR readings")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--crop", type=int, help="training crop (default: params.yaml's)")
    parser.add_argument("--archs", nargs="+", default=list(ARCHS), choices=list(ARCHS))
    parser.add_argument(
        "--lr-scalings",
        nargs="+",
        choices=("none", "sqrt", "linear"),
        help="lr_scaling rules to run each arch under (default: params.yaml's)",
    )
    args = parser.parse_args()
    manifest = load_manifest(args.tiles)
    train_pairs, train_strengths = read_tiles(shard_paths(args.tiles, manifest, "train"))
    val_pairs, val_strengths = read_tiles(shard_paths(args.tiles, manifest, "val"))
    spread = torch.linspace(0, len(val_pairs) - 1, min(len(val_pairs), CURVE_VAL_TILES)).long()
    val = (val_pairs[spread], val_strengths[spread])
    base = load_params(ROOT / "params.yaml")
    # one epoch per reading: fit's curve is then the val PSNR every --every steps, on one schedule
    params = dataclasses.replace(
        base,
        kernel2=5,
        batch_size=args.batch,
        epochs=args.steps // args.every,
        steps_per_epoch=args.every,
        time_budget=0.0,
        crop=args.crop or base.crop,
    )
    rules = args.lr_scalings or [params.lr_scaling]
    print(
        f"arch_steps: {len(train_pairs)} train tiles, {len(val[0])} val tiles, {args.steps} steps at batch "
        f"{args.batch}, {torch.get_num_threads()} thread(s), precision {params.precision}",
        flush=True,
    )
    results: dict[str, dict[str, Any]] = {}
    for arch in args.archs:
        for rule in rules:
            name = arch if len(rules) == 1 else f"{arch}/lr_{rule}"
            run = dataclasses.replace(params, arch=arch, lr_scaling=rule)
            torch.manual_seed(params.seed)
            model = build_model(run)
            started = time.perf_counter()
            history = fit(model, MemoryTiles(train_pairs, train_strengths, seed=params.seed), val, run)
            seconds = time.perf_counter() - started
            curve = {record["epoch"] * args.every: round(record["val_psnr"], 3) for record in history.epochs}
            results[name] = {
                "parameters": sum(p.numel() for p in model.parameters()),
                "val_psnr": curve,
                "lr": history.epochs[0]["lr"] if history.epochs else None,
                "ms_per_step": round(1000 * seconds / max(history.steps, 1), 1),
            }
            print(
                f"{name:<20}{results[name]['parameters']:>9} params {results[name]['ms_per_step']:>8.1f} ms/step  "
                + "  ".join(f"{step}: {value:.2f}" for step, value in curve.items()),
                flush=True,
            )
    last = args.steps // args.every * args.every
    if len(rules) > 1:
        for arch in args.archs:
            baseline = results[f"{arch}/lr_{rules[0]}"]["val_psnr"][last]
            for rule in rules[1:]:
                row = results[f"{arch}/lr_{rule}"]
                row[f"ahead_of_lr_{rules[0]}_db"] = round(row["val_psnr"][last] - baseline, 3)
    elif "srcnn" in results:
        for row in results.values():
            row["ahead_of_srcnn_db"] = round(row["val_psnr"][last] - results["srcnn"]["val_psnr"][last], 3)
    print(
        json.dumps(
            {"tiles": str(args.tiles), "steps": args.steps, "batch": args.batch, "crop": params.crop, "archs": results}
        )
    )


if __name__ == "__main__":
    main()
