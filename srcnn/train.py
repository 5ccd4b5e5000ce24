"""The training loop: streamed tiles, random crops, mixed precision, resumable checkpoints, DDP-ready.

``fit`` is a pure function of the model, the data and the params; the train stage
(``stages/train.py``) reads the files and writes the outputs. Each epoch's batches are a pure
function of (seed, epoch, rank) (``srcnn/dataset.py``), so a run resumed from the checkpoint of
its last complete epoch ends with the same model. Under ``torchrun`` each rank trains on
``batch_size / world`` tiles of its own shards and DDP averages the gradients.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

from .archs import channels_of
from .color import rgb_planes, ycbcr_planes
from .dataset import MemoryTiles, ShardTiles, random_crops, seed_of, to_device
from .device import autocast, pick_device, pick_precision
from .files import atomic_path
from .metrics import psnr_from_mse
from .params import Params

TRAIN_KEYS = (
    "arch",
    "channels",
    "kernel1",
    "kernel2",
    "kernel3",
    "filters1",
    "filters2",
    "residual",
    "conditioned",
    "ffdnet_depth",
    "ffdnet_features",
    "init",
    "lr",
    "lr_scaling",
    "lr_schedule",
    "warmup_steps",
    "epochs",
    "steps_per_epoch",
    "batch_size",
    "crop",
    "loss",
    "precision",
    "device",
    "time_budget",
    "shuffle_buffer",
    "tile_reuse",
    "loader_workers",
    "seed",
)


# The per-epoch val PSNR (the training curve) uses this many val tiles spread evenly over the val set,
# so that curves stay cheap on large photo folders; the evaluate stage scores whole val photos.
CURVE_VAL_TILES = 128
# Images are in [0, 1], so even a constant guess has a loss below 1: above it, training has blown up.
DIVERGED_LOSS = 1.0
# Under a time budget, processes read one shared clock (``_shared_seconds``) every this many steps
# and at each epoch's end: each read is a collective, a host sync on a GPU.
CLOCK_STEPS = 16
# params.lr is the learning rate at this batch, the CPU's; lr_scaling carries it to other batches
REFERENCE_BATCH = 16
# batch_size auto on a CUDA GPU: large enough that Python's per-step work no longer sets the pace
# (docs/gpu.md gives how busy the GPU is at each batch)
GPU_BATCH = 512
LR_EXPONENT = {"none": 0.0, "sqrt": 0.5, "linear": 1.0}


class DivergedError(RuntimeError):
    """The loss became NaN or infinite."""


@dataclass
class History:
    epochs: list[dict[str, float]] = field(default_factory=list)
    steps: int = 0
    seconds: float = 0.0
    tiles_seen: int = 0


def loss_fn(name: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    if name == "mse":
        return nn.functional.mse_loss
    if name == "l1":
        return nn.functional.l1_loss
    return lambda output, target: torch.sqrt((output - target) ** 2 + 1e-6).mean()


def batch_and_lr(params: Params, device: torch.device) -> tuple[int, float]:
    """The batch a run trains at on ``device`` and its peak learning rate: ``batch_size`` auto is
    GPU_BATCH on CUDA and REFERENCE_BATCH elsewhere (a CPU trains as it always has); ``lr`` is the
    rate at REFERENCE_BATCH, multiplied by (batch / REFERENCE_BATCH) ** {0, 1/2, 1} for
    ``lr_scaling`` none, sqrt or linear (none is the default: at batch 512, sqrt stalled training;
    docs/gpu.md)."""
    if isinstance(params.batch_size, int):
        batch = params.batch_size
    else:  # auto
        batch = GPU_BATCH if device.type == "cuda" else REFERENCE_BATCH
    return batch, params.lr * (batch / REFERENCE_BATCH) ** LR_EXPONENT[params.lr_scaling]


def learning_rate(params: Params, progress: float, step: int) -> float:
    """Linear warm-up over ``warmup_steps``, then constant or cosine decay to zero at progress 1."""
    warm = min(1.0, (step + 1) / params.warmup_steps) if params.warmup_steps else 1.0
    if params.lr_schedule == "constant":
        return params.lr * warm
    return params.lr * warm * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def run_fingerprint(params: Params, data: str, val_pairs: torch.Tensor, world: int, code: str) -> str:
    """Identifies a training run: its params, its data, its processes and its code. A checkpoint
    resumes only the same run."""
    digest = hashlib.sha256(repr([(key, getattr(params, key)) for key in TRAIN_KEYS] + [data, world, code]).encode())
    digest.update(val_pairs.cpu().numpy().tobytes())
    return digest.hexdigest()


def run_model(model: nn.Module, degraded: torch.Tensor, strengths: torch.Tensor) -> torch.Tensor:
    """The model on a batch: a model conditioned on the compression strength is given it."""
    conditioned = getattr(getattr(model, "module", model), "conditioned", False)  # through DDP's wrapper
    return model(degraded, strengths) if conditioned else model(degraded)


def check_tiles(tiles: torch.Tensor, channels: int, what: str) -> None:
    """Refuse tiles whose planes (N×2C×T×T) are not what a model of ``channels`` restores."""
    if tiles.shape[1] != 2 * channels:
        held = {2: "luma", 6: "RGB"}.get(tiles.shape[1], f"{tiles.shape[1]}-plane")
        wanted = "RGB tiles (params channels: ycbcr)" if channels == 3 else "luma tiles (params channels: y)"
        raise ValueError(
            f"{what} are {held} pairs, but this model restores {channels} channels and trains on "
            f"{wanted}; run the tile stage with the same channels param (dvc repro)"
        )


def model_view(channels: int, planes: torch.Tensor) -> torch.Tensor:
    """What a network of ``channels`` sees of tiles' planes in [0, 1]: luma as it is; RGB as YCbCr."""
    return ycbcr_planes(planes) if channels == 3 else planes


@torch.no_grad()
def evaluate_tiles(
    model: nn.Module,
    pairs: torch.Tensor,
    strengths: torch.Tensor,
    device: torch.device,
    dtype: torch.dtype | None,
    batch_size: int = 64,
) -> dict[str, float]:
    """Mean PSNR (dB) over whole tiles, each tile's own PSNR, output clamped to [0, 1]: on luma
    (``val_psnr``; a colour model's Y against the clean tile's 8-bit Y) and, for a colour model, on
    RGB (``val_rgb_psnr``)."""
    was_training = model.training
    model.eval()
    channels = channels_of(model)
    luma, rgb = 0.0, 0.0
    for start in range(0, len(pairs), batch_size):
        batch = pairs[start : start + batch_size].to(device).float().div_(255.0)
        clean, degraded = batch[:, :channels], batch[:, channels:]
        with autocast(device, dtype):
            output = run_model(
                model,
                model_view(channels, degraded).contiguous(memory_format=torch.channels_last),
                strengths[start : start + batch_size].to(device),
            )
        output = output.float().clamp(0, 1)
        if channels == 3:
            clean_y = ycbcr_planes(clean)[:, :1].mul(255.0).round().div(255.0)
            rgb_mse = ((rgb_planes(output).clamp(0, 1) - clean) ** 2).mean(dim=(1, 2, 3)).double()
            rgb += sum(psnr_from_mse(value * 255.0**2) for value in rgb_mse.tolist())
            output, clean = output[:, :1], clean_y
        mse = ((output - clean) ** 2).mean(dim=(1, 2, 3)).double()
        luma += sum(psnr_from_mse(value * 255.0**2) for value in mse.tolist())
    model.train(was_training)
    figures = {"val_psnr": luma / len(pairs)}
    if channels == 3:
        figures["val_rgb_psnr"] = rgb / len(pairs)
    return figures


def _world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _shared_seconds(started: float, device: torch.device, world: int) -> float:
    """Seconds since ``started`` by rank 0's clock, the same number in every process: under a time
    budget they must set the same learning rate and stop at the same step, or their weights drift
    apart and the ones still training wait forever for the one that stopped."""
    seconds = time.perf_counter() - started
    if world == 1:
        return seconds
    shared = torch.tensor([seconds], dtype=torch.float64, device=device)
    dist.broadcast(shared, src=0)
    return shared.item()


@dataclass
class _Run:
    """What one call of ``fit`` trains with, set up once and read by each of its steps."""

    params: Params  # batch_size and lr as this run trains with them (``batch_and_lr``)
    batch: int  # params.batch_size, a number: tiles per step over all processes
    device: torch.device
    dtype: torch.dtype | None  # autocast's, or None: fp32
    rank: int
    world: int
    model: nn.Module  # trained in place
    trained: nn.Module  # what the steps run: the model, or DDP's wrapper of it
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    channels: int  # 1: a luma model; 3: a colour model


@dataclass
class _Clock:
    """The seconds trained by the clock every process shares (``_shared_seconds``), against the time budget."""

    started: float  # time.perf_counter() at the start of the run, resumed runs included
    budget: float  # seconds; 0: no budget
    elapsed: float  # as last read

    def read(self, run: _Run) -> float:
        self.elapsed = _shared_seconds(self.started, run.device, run.world)
        return self.elapsed


def _set_up(model: nn.Module, params: Params) -> _Run:
    """The device, batch, precision, optimizer and (under torchrun) DDP wrapper of a run."""
    rank, world = _world()
    device = pick_device(params.device)
    batch, lr = batch_and_lr(params, device)
    params = dataclasses.replace(params, batch_size=batch, lr=lr)  # what this run trains with
    if batch % world:
        raise ValueError(f"params: batch_size={batch} must divide by the {world} processes")
    dtype = pick_precision(params.precision, device)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    model.to(device).to(memory_format=torch.channels_last)
    trained = model
    if world > 1:
        trained = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    cuda = device.type == "cuda"
    if cuda:
        # a small model: per-step overheads dominate on a GPU. cuDNN picks its fastest kernels per
        # shape, and one fused Adam kernel replaces the optimizer's many small ones; on a CPU
        # nothing changes (results there stay bit for bit as before)
        torch.backends.cudnn.benchmark = True
    optimizer = torch.optim.Adam(model.parameters(), lr=params.lr, fused=True if cuda else None)
    return _Run(
        params,
        batch,
        device,
        dtype,
        rank,
        world,
        model,
        trained,
        optimizer,
        scaler,
        loss_fn(params.loss),
        channels_of(model),
    )


def _resume(
    run: _Run, checkpoint: Path | None, fingerprint: str, on_epoch: Callable[[dict[str, float]], None] | None
) -> History:
    """The history of the run so far, its model, optimizer and scaler loaded from ``checkpoint`` when
    that holds the same run (``fingerprint``); else an empty history."""
    if checkpoint is None or not checkpoint.exists():
        return History()
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    if state.get("fingerprint") != fingerprint:
        return History()
    run.model.load_state_dict(state["model"])
    run.optimizer.load_state_dict(state["optimizer"])
    run.scaler.load_state_dict(state["scaler"])
    history = History(
        epochs=state["epochs"], steps=state["steps"], seconds=state["seconds"], tiles_seen=state["tiles_seen"]
    )
    if run.rank == 0:
        print(f"train: resuming from {checkpoint} after epoch {len(history.epochs)}", file=sys.stderr)
        if on_epoch is not None:
            for record in history.epochs:  # replay the curve so far into a fresh log
                on_epoch(record)
    return history


def _train_step(run: _Run, tiles: torch.Tensor, strengths: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One optimizer step on a batch of tiles (random crops drawn from ``generator``); returns its loss."""
    if run.device.type == "cuda":  # page-locked, asynchronous copies: no step waits for the GPU (no host sync)
        tiles, strengths = to_device(tiles, run.device), to_device(strengths, run.device).to(torch.float32)
    else:
        tiles, strengths = (
            tiles.to(run.device, non_blocking=True),
            strengths.to(run.device, torch.float32, non_blocking=True),
        )
    check_tiles(tiles, run.channels, "the train tiles")
    degraded, clean = random_crops(tiles, run.params.crop, generator)
    degraded = model_view(run.channels, degraded).contiguous(memory_format=torch.channels_last)
    clean = clean.contiguous(memory_format=torch.channels_last)
    with autocast(run.device, run.dtype):
        output = run_model(run.trained, degraded, strengths)
    output = output.float()
    # a colour model's loss is taken on RGB, what the photo shows (docs/metrics.md)
    loss = run.criterion(rgb_planes(output) if run.channels == 3 else output, clean)
    run.optimizer.zero_grad(set_to_none=True)
    run.scaler.scale(loss).backward()
    run.scaler.step(run.optimizer)
    run.scaler.update()
    return loss


def _train_epoch(
    run: _Run,
    epoch: int,
    batches: Iterator[tuple[torch.Tensor, torch.Tensor]],
    history: History,
    clock: _Clock,
    on_step: Callable[[int], None] | None,
) -> tuple[torch.Tensor, int]:
    """One epoch's steps, fewer when the time budget runs out or (on a CPU) the loss stops being
    finite: the sum of their losses, and how many ran."""
    params = run.params
    total_steps = params.epochs * params.steps_per_epoch
    loss_sum = torch.zeros((), dtype=torch.float64, device=run.device)
    steps = 0
    generator = torch.Generator().manual_seed(seed_of("crops", params.seed, epoch, run.rank))
    for _ in range(params.steps_per_epoch):
        if clock.budget and (run.world == 1 or history.steps % CLOCK_STEPS == 0) and clock.read(run) >= clock.budget:
            break  # the clock binds mid-epoch, at the same step in every process
        done = max(history.steps / total_steps, clock.elapsed / clock.budget if clock.budget else 0.0)
        for group in run.optimizer.param_groups:
            group["lr"] = learning_rate(params, done, history.steps)
        loss = _train_step(run, *next(batches), generator)
        loss_sum += loss.detach()
        steps += 1
        history.steps += 1
        history.tiles_seen += run.batch
        if run.device.type == "cpu" and not math.isfinite(loss.item()):
            break
        if on_step is not None:
            on_step(history.steps)
    return loss_sum, steps


def _epoch_record(
    run: _Run, epoch: int, loss_sum: torch.Tensor, steps: int, curve_val: torch.Tensor, curve_strengths: torch.Tensor
) -> dict[str, float]:
    """An epoch's line of the training curve: its mean loss over all processes, learning rate and val
    PSNR. Raises DivergedError when the loss is not finite or has blown up."""
    mean_loss = (loss_sum / steps).item()
    if run.world > 1:
        reduced = torch.tensor([mean_loss], device=run.device)
        dist.all_reduce(reduced)
        mean_loss = reduced.item() / run.world
    if not math.isfinite(mean_loss) or mean_loss > DIVERGED_LOSS:
        raise DivergedError(
            f"training diverged in epoch {epoch + 1} (mean loss {mean_loss:.4g}); "
            f"lower the learning rate: params lr={run.params.lr}"
        )
    record = {
        "epoch": epoch + 1,
        "loss": mean_loss,
        "lr": run.optimizer.param_groups[0]["lr"],
        **evaluate_tiles(run.model, curve_val, curve_strengths, run.device, run.dtype),
    }
    if run.params.loss == "mse":
        record["train_psnr"] = psnr_from_mse(mean_loss * 255.0**2)
    return record


def fit(
    model: nn.Module,
    train: ShardTiles | MemoryTiles | torch.Tensor,
    val: tuple[torch.Tensor, torch.Tensor] | torch.Tensor,
    params: Params,
    checkpoint: Path | None = None,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
    on_step: Callable[[int], None] | None = None,
    code: str = "",
) -> History:
    """Train ``model`` in place on tiles (shards, or an N×2C×T×T uint8 tensor); returns the per-epoch history.

    A luma model (``channels_of``: 1) trains on luma tiles; a colour model (3) on RGB tiles, which
    it sees as YCbCr (``srcnn.color.ycbcr_planes``) and whose RGB its YCbCr output is judged on.
    ``val``: N×2C×T×T uint8 tiles, with their strengths (N,) (zeros if only tiles are given), for the
    per-epoch val PSNR. Resumes from ``checkpoint`` when it holds the same run (same params, data
    and ``code``: the fingerprint of the code that trains, ``srcnn.import_closure.code_fingerprint``), and
    rewrites it atomically after every epoch. Raises DivergedError when the loss stops being finite.
    """
    run = _set_up(model, params)
    params = run.params
    if isinstance(train, torch.Tensor):
        train = MemoryTiles(train.to(run.device), seed=params.seed)
    val_pairs, val_strengths = val if isinstance(val, tuple) else (val, torch.zeros(len(val)))
    check_tiles(val_pairs, run.channels, "the val tiles")
    fingerprint = run_fingerprint(params, train.fingerprint, val_pairs, run.world, code)
    curve = torch.linspace(0, len(val_pairs) - 1, min(len(val_pairs), CURVE_VAL_TILES)).long()
    curve_val, curve_strengths = val_pairs[curve], val_strengths[curve].float()
    history = _resume(run, checkpoint, fingerprint, on_epoch)
    first_epoch = len(history.epochs)
    clock = _Clock(time.perf_counter() - history.seconds, params.time_budget * 60.0, history.seconds)
    run.trained.train()
    # one stream for the whole run: loader workers start once, not once per epoch
    batches = train.batches(
        first_epoch, run.batch // run.world, run.rank, run.world, steps_per_epoch=params.steps_per_epoch
    )
    try:
        for epoch in range(first_epoch, params.epochs):
            loss_sum, steps = _train_epoch(run, epoch, batches, history, clock, on_step)
            if steps == 0:
                break  # the budget ran out exactly at an epoch's end
            record = _epoch_record(run, epoch, loss_sum, steps, curve_val, curve_strengths)
            history.epochs.append(record)
            history.seconds = clock.read(run)
            if run.rank == 0:
                if checkpoint is not None:
                    _save_checkpoint(checkpoint, model, run.optimizer, run.scaler, history, fingerprint)
                if on_epoch is not None:
                    on_epoch(record)
            if steps < params.steps_per_epoch or (clock.budget and history.seconds >= clock.budget):
                break  # stopped by the clock (or a non-finite loss): the stream is mid-epoch
    finally:
        batches.close()  # stops the loader workers
    return history


def _save_checkpoint(
    path: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    history: History,
    fingerprint: str,
) -> None:
    state = {
        "fingerprint": fingerprint,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scaler": scaler.state_dict(),
        "epochs": history.epochs,
        "steps": history.steps,
        "seconds": history.seconds,
        "tiles_seen": history.tiles_seen,
    }
    with atomic_path(path) as temp:
        torch.save(state, temp)
