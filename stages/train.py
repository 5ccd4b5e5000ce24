"""Stage train: data/tiles → models/srcnn.pt, per-epoch curves in dvclive/, metrics/train.json.

The train tiles are streamed from their shards (memory flat in the size of the collection); the
training curve's val PSNR is taken on 128 val tiles spread over the val shards (on luma; for a
colour model, ``channels: ycbcr``, on RGB too).

    python -m stages.train                               # one process: GPU if there is one
    torchrun --nproc_per_node 2 -m stages.train          # DistributedDataParallel, each rank its own shards

A killed run resumes from data/train_checkpoint.pt on the next `dvc repro` with the same params,
tiles and code (every project file this stage runs, srcnn/import_closure.py). With ``init`` set, training
starts from that model's weights (srcnn/finetune.py); its sha256 goes into metrics/train.json.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from dvclive import Live
from srcnn.archs import build_model
from srcnn.dataset import ShardTiles, auto_loader_workers, spread_tiles
from srcnn.device import pick_device
from srcnn.files import file_sha256, write_text_atomic
from srcnn.finetune import start_from
from srcnn.import_closure import code_fingerprint
from srcnn.inference import save_model
from srcnn.params import Params, load_params
from srcnn.progress import progress
from srcnn.shards import MANIFEST, check_complete, shard_paths
from srcnn.train import CURVE_VAL_TILES, DivergedError, History, batch_and_lr, fit
from stages import run_stage

TILES = Path("data/tiles")
CHECKPOINT, MODEL, METRICS = Path("data/train_checkpoint.pt"), "models/srcnn.pt", "metrics/train.json"


def tiles_manifest() -> dict[str, Any]:
    """The manifest of the tile shards, once every shard it lists is there."""
    try:
        return check_complete(TILES)
    except FileNotFoundError as error:
        sys.exit(f"train: error: {error}; run the tile stage first (dvc repro)")


def train_tiles(
    params: Params, manifest: dict[str, Any], device: torch.device
) -> tuple[ShardTiles, tuple[torch.Tensor, torch.Tensor]]:
    """The train tiles, streamed from their shards, and the val tiles of the training curve."""
    train = ShardTiles(
        shard_paths(TILES, manifest, "train"),
        params.seed,
        params.shuffle_buffer,
        params.tile_reuse,
        auto_loader_workers(params.loader_workers, device),
        pin_memory=device.type == "cuda",
        fingerprint=hashlib.sha256((TILES / MANIFEST).read_bytes()).hexdigest(),
    )
    return train, spread_tiles(TILES, manifest, "val", CURVE_VAL_TILES)


def starting_model(params: Params) -> tuple[nn.Module, dict[str, str]]:
    """A new network, from the params' seed or, with ``init``, that model's weights; and what
    metrics/train.json says of where it started (``init`` and its sha256, if any)."""
    torch.manual_seed(params.seed)
    model = build_model(params)
    if params.init is None:
        return model, {}
    start_from(model, params.init)  # checked by check_init
    return model, {"init": params.init, "init_sha256": file_sha256(params.init)}


def check_init(params: Params, init: str) -> None:
    """Exit naming the ``init`` model and the params when it cannot start the network they describe
    (another arch, sizes or channels: srcnn/finetune.py), or when it is this stage's own output."""
    if Path(init).resolve() == Path(MODEL).resolve():
        sys.exit(
            f"train: error: params init: {init} is this stage's own output, which DVC removes "
            f"before the stage runs; copy the model elsewhere (e.g. models/start.pt) and start from that"
        )
    try:
        start_from(build_model(params), init)
    except ValueError as error:  # CheckpointError too: a missing or foreign file
        sys.exit(f"train: error: {error}")


def epoch_logger(live: Live, bar: Any, steps_per_epoch: int) -> Callable[[dict[str, float]], None]:
    """What each epoch's record goes to: the dvclive curves and the progress bar."""

    def log_epoch(record: dict[str, float]) -> None:
        live.step = int(record["epoch"])
        live.log_metric("loss", record["loss"])
        live.log_metric("val/psnr", record["val_psnr"])
        if "val_rgb_psnr" in record:  # a colour model's
            live.log_metric("val/rgb_psnr", record["val_rgb_psnr"])
        if "train_psnr" in record:
            live.log_metric("train/psnr", record["train_psnr"])
        live.make_summary()
        bar.n = record["epoch"] * steps_per_epoch
        bar.set_postfix(epoch=record["epoch"], val_psnr=f"{record['val_psnr']:.2f}")

    return log_epoch


def write_outputs(
    params: Params, device: torch.device, model: nn.Module, history: History, init: dict[str, str]
) -> None:
    """The model, metrics/train.json and a line on the console; the checkpoint removed."""
    last = history.epochs[-1]
    batch_size, lr = batch_and_lr(params, device)  # what fit trained with (batch_size auto resolved)
    summary = {
        "epochs": len(history.epochs),
        "steps": history.steps,
        "loss": last["loss"],
        "val_psnr": last["val_psnr"],
        **({"val_rgb_psnr": last["val_rgb_psnr"]} if "val_rgb_psnr" in last else {}),
        "seconds": round(history.seconds, 1),
        "batch_size": batch_size,
        "lr": lr,
        "tiles_per_second": round(history.tiles_seen / max(history.seconds, 1e-9), 1),
        "arch": params.arch,
        "parameters": sum(p.numel() for p in model.parameters()),
        **init,
    }
    save_model(MODEL, model, info={"params": {k: v for k, v in vars(params).items()}, **summary})
    write_text_atomic(METRICS, json.dumps(summary, indent=2) + "\n")
    CHECKPOINT.unlink(missing_ok=True)
    rgb = f" (luma; RGB {last['val_rgb_psnr']:.2f} dB)" if "val_rgb_psnr" in last else ""
    print(f"train: val PSNR {last['val_psnr']:.2f} dB{rgb} after {history.steps} steps in {history.seconds:.0f} s")


def main() -> None:
    params = load_params()
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if distributed:
        dist.init_process_group("nccl" if torch.cuda.is_available() and params.device != "cpu" else "gloo")
    is_main = not distributed or dist.get_rank() == 0
    if params.init is not None:
        check_init(params, params.init)  # before any tile is read: a wrong init is told at once
    manifest = tiles_manifest()
    device = pick_device(params.device)
    train, val = train_tiles(params, manifest, device)
    model, init = starting_model(params)
    live = Live("dvclive", dvcyaml=False, save_dvc_exp=False) if is_main else None
    bar = progress(total=params.epochs * params.steps_per_epoch, desc="train", unit="step", disable=not is_main)
    try:
        history = fit(
            model,
            train,
            val,
            params,
            CHECKPOINT,
            on_epoch=epoch_logger(live, bar, params.steps_per_epoch) if live is not None else None,
            on_step=lambda step: bar.update(1),
            code=code_fingerprint("stages.train") + init.get("init_sha256", ""),
        )
    except DivergedError as error:
        CHECKPOINT.unlink(missing_ok=True)
        sys.exit(f"train: {error}")
    except ValueError as error:
        sys.exit(f"train: error: {error}")
    bar.close()
    if live is not None:
        live.end()
        write_outputs(params, device, model, history, init)
    if distributed:
        # every process waits until rank 0 has written its outputs: one that tears its gloo group down
        # while another still holds it open can abort at exit ("terminate called without an active exception")
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    run_stage("train", main)
