"""Training speed: ``fit`` on tiles held in memory, the train stage's loader alone, the largest batch.

Throughput is counted in 128 px tile equivalents per second, steps × batch_size × (crop/128)², as
benchmarks/train_speed.py counts, after untimed warm-up steps, with the GPU synchronized at both
ends of the timed steps.
"""

from __future__ import annotations

import dataclasses
import gc
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from srcnn.archs import SRCNN
from srcnn.dataset import MemoryTiles, ShardTiles, auto_loader_workers, read_tiles
from srcnn.params import Params
from srcnn.shards import check_complete, shard_paths
from srcnn.train import fit

from .check import Sizes, log

TILE = 128  # throughput is counted in 128 px tile equivalents


def training_tiles(work: Path) -> tuple[torch.Tensor, torch.Tensor, str]:
    """The pipeline's train tiles and their strengths, or random ones when the pipeline made none."""
    try:
        tiles = work / "data" / "tiles"
        pairs, strengths = read_tiles(shard_paths(tiles, check_complete(tiles), "train"))
        return pairs, strengths, f"{len(pairs)} train tiles of the pipeline"
    except (FileNotFoundError, OSError) as error:
        log(f"   no pipeline tiles ({error}): random ones instead")
        generator = torch.Generator().manual_seed(0)
        return (
            torch.randint(0, 256, (256, 2, TILE, TILE), dtype=torch.uint8, generator=generator),
            torch.rand(256, generator=generator),
            "256 random tiles (the pipeline made none)",
        )


def train_rate(
    params: Params,
    data: tuple[torch.Tensor, torch.Tensor],
    device: torch.device,
    steps: int,
    warmup: int,
    batch_size: int | None = None,
    compile_options: dict[str, Any] | None = None,
    after_step: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Training throughput of ``fit`` over ``steps`` steps after ``warmup`` untimed ones, the device
    synchronized at both ends of the timed steps."""
    pairs, strengths = data
    run = dataclasses.replace(
        params,
        device=device.type,
        epochs=1,
        steps_per_epoch=warmup + steps,
        time_budget=0,
        batch_size=batch_size or params.batch_size,
    )
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
    result = {
        "tiles_per_s": round(steps * int(run.batch_size) * (run.crop / TILE) ** 2 / seconds, 1),
        "ms_per_step": round(1000 * seconds / steps, 3),
        "steps": steps,
        "warmup_steps": warmup,
        "batch_size": run.batch_size,
        "crop": run.crop,
        "first_step_s": round(stamps[1] - called, 2),
        "device": str(device),
    }
    if cuda:
        result["max_memory_gb"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
    return result


def loader_rate(work: Path, params: Params, device: torch.device, batch_size: int, seconds: float) -> dict[str, Any]:
    """How fast the train stage's loader (``ShardTiles`` over the pipeline's train shards, its
    workers and pinned memory as the stage sets them) hands over batches, with nothing training."""
    tiles = work / "data" / "tiles"
    workers = auto_loader_workers(params.loader_workers, device)
    stream = ShardTiles(
        shard_paths(tiles, check_complete(tiles), "train"),
        seed=params.seed,
        shuffle_buffer=params.shuffle_buffer,
        reuse=params.tile_reuse,
        workers=workers,
        pin_memory=device.type == "cuda",
    )
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
    return {
        "workers": workers,
        "batch_size": batch_size,
        "first_batch_s": round(first_s, 2),
        "batches": count,
        "tiles_per_s": round(tiles_per_s, 1),
        "tile": list(first.shape[-2:]),
        # each whole tile gives one crop of params.crop px: the training speed (128 px equivalents) it can feed
        "feeds_training_tiles_per_s": round(tiles_per_s * (params.crop / TILE) ** 2, 1),
    }


def largest_batch(
    params: Params,
    data: tuple[torch.Tensor, torch.Tensor],
    device: torch.device,
    sizes: Sizes,
    cap: int,
    limit_s: float,
) -> dict[str, Any]:
    """batch_size doubled from params.yaml's until out of memory, ``cap`` or ``limit_s`` seconds."""
    tried: list[dict[str, Any]] = []
    fitted = None
    batch = int(params.batch_size)  # resolved by the caller (batch_and_lr)
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
    best = max(
        (entry for entry in tried if "tiles_per_s" in entry), key=lambda entry: entry["tiles_per_s"], default=None
    )
    return {
        "device": str(device),
        "cap": cap,
        "limit_s": round(limit_s),
        "tried": tried,
        "batch_size": fitted and fitted["batch_size"],
        "tiles_per_s": fitted and fitted["tiles_per_s"],
        "best_batch_size": best and best["batch_size"],
        "best_tiles_per_s": best and best["tiles_per_s"],
        "stopped_by": "cap"
        if batch > cap
        else next(
            (
                why
                for key, why in (("oom", "oom"), ("failed", "error"), ("skipped", "time"))
                if tried and key in tried[-1]
            ),
            "?",
        ),
    }
