"""Training speed: the seed's naive loop against the project's training step, on the same data.

    python -m benchmarks.train_speed [--tiles DIR] [--steps 30] [--fast-steps 100] [--quality-steps 150]

The naive loop is the seed notebook's: fp32, NCHW, every sample's paired PNG decoded in every step,
whole 128 px tiles. The fast path is ``srcnn.train.fit`` as the train stage runs it (tiles decoded
once into memory, random crops and flips in one gather, bf16 autocast and channels_last where the
CPU has bf16 units). Both train the same SRCNN; throughput is in 128 px tile-equivalents per second,
each timed after its first steps and over training steps only.
It also trains the fast path in fp32 and in its auto precision for the same steps from the same seed
and prints the val PSNR of each, and measures the matrix-multiply peak of this machine. The last line
is one JSON object.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from srcnn.archs import SRCNN
from srcnn.color import to_luma_u8
from srcnn.dataset import load_pairs
from srcnn.degrade import degrade
from srcnn.device import pick_device, pick_precision
from srcnn.params import Params, params_with
from srcnn.tiling import join_pair, split_pair
from srcnn.train import fit

TILE = 128


def make_tiles(folder: Path, count: int) -> None:
    """Seed-format paired tiles (clean | JPEG-20) cut from generated photo-like images."""
    from benchmarks.workfolder import synthetic_photo

    folder.mkdir(parents=True, exist_ok=True)
    made = 0
    for seed in range(count):
        clean = synthetic_photo(seed, 2 * TILE, 2 * TILE)
        degraded = degrade(clean, 1, 20)
        for top in (0, TILE):
            for left in (0, TILE):
                pair = join_pair(
                    to_luma_u8(clean[top : top + TILE, left : left + TILE]),
                    to_luma_u8(degraded[top : top + TILE, left : left + TILE]),
                )
                Image.fromarray(pair).save(folder / f"tile_{made:05d}.png")
                made += 1
                if made == count:
                    return


def flops_per_tile(model: SRCNN) -> float:
    """Training FLOPs for one 128×128 tile: forward, weight gradients, input gradients (not for layer 1)."""
    pixels = TILE * TILE
    layers = [model.extract, model.map, model.reconstruct]
    macs = [conv.in_channels * conv.out_channels * conv.kernel_size[0] ** 2 * pixels for conv in layers]
    return 2.0 * (sum(macs) * 2 + sum(macs[1:]))


def naive_tiles_per_second(paths: list[Path], config: dict, steps: int, batch_size: int) -> float:
    """The seed's loop: decode each sample's PNG every step, fp32 NCHW, whole tiles."""
    torch.manual_seed(0)
    model = SRCNN(**config)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    rng = random.Random(0)

    def step() -> None:
        inputs, targets = [], []
        for path in rng.sample(paths, batch_size):
            clean, degraded = split_pair(np.asarray(Image.open(path).convert("L")))
            inputs.append(torch.from_numpy(degraded.astype(np.float32) / 255.0)[None])
            targets.append(torch.from_numpy(clean.astype(np.float32) / 255.0)[None])
        loss = torch.nn.functional.mse_loss(model(torch.stack(inputs)), torch.stack(targets))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    for _ in range(2):
        step()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * batch_size / (time.perf_counter() - started)


def fast_run(pairs: torch.Tensor, val: torch.Tensor, params: Params, warmup: int = 5) -> tuple[float, float]:
    """Tiles/s (128 px equivalents) of fit()'s training steps after ``warmup`` steps, and its final val PSNR.

    As for the naive loop, the clock starts after the first steps (oneDNN builds its kernels in
    them) and stops at the last step, so the per-epoch val PSNR is not counted as training time.
    """
    torch.manual_seed(params.seed)
    model = SRCNN.from_params(params)
    stamps: dict[int, float] = {}
    history = fit(model, pairs, val, params, on_step=lambda step: stamps.__setitem__(step, time.perf_counter()))
    timed_steps = history.steps - warmup
    assert isinstance(params.batch_size, int), "give a batch size"
    pixels = timed_steps * params.batch_size * params.crop**2
    return pixels / TILE**2 / (stamps[history.steps] - stamps[warmup]), history.epochs[-1]["val_psnr"]


def matmul_peak_gflops(dtype: torch.dtype, size: int = 2048, repeats: int = 8) -> float:
    a, b = torch.rand(size, size, dtype=dtype), torch.rand(size, size, dtype=dtype)
    for _ in range(2):
        a @ b
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * size**3 * repeats / (time.perf_counter() - started) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiles", type=Path, help="folder of paired tiles (default: generated)")
    parser.add_argument("--steps", type=int, default=30, help="timed steps of the naive loop")
    parser.add_argument("--fast-steps", type=int, default=100, help="steps of the fast path (5 untimed)")
    parser.add_argument("--quality-steps", type=int, default=150, help="steps of the fp32/fast PSNR check")
    parser.add_argument("--model", choices=("9-1-5", "9-5-5"), default="9-1-5")
    args = parser.parse_args()
    if args.fast_steps <= 5:
        parser.error(f"--fast-steps {args.fast_steps}: more than the 5 untimed warm-up steps are needed")
    folder = args.tiles
    if folder is None:
        folder = Path(tempfile.mkdtemp(prefix="train_speed_")) / "tiles"
        make_tiles(folder, 256)
    paths = sorted(folder.glob("*.png"))
    pairs = load_pairs(folder)
    val, train = pairs[: len(pairs) // 8], pairs[len(pairs) // 8 :]
    kernel2 = 1 if args.model == "9-1-5" else 5
    config: dict[str, Any] = dict(kernel1=9, kernel2=kernel2, kernel3=5, filters1=64, filters2=32, residual=False)
    device = pick_device("auto")
    precision = pick_precision("auto", device)
    print(
        f"device {device}, auto precision {precision or 'fp32'}, {torch.get_num_threads()} threads, "
        f"{len(paths)} tiles of {TILE} px, SRCNN {args.model} 64/32"
    )

    naive = naive_tiles_per_second(paths, config, args.steps, batch_size=16)
    base = params_with(
        kernel1=9,
        kernel2=kernel2,
        kernel3=5,
        filters1=64,
        filters2=32,
        residual=False,
        lr=1e-3,
        lr_schedule="constant",
        warmup_steps=0,
        batch_size=32,
        crop=64,
        epochs=1,
        steps_per_epoch=args.fast_steps,
    )
    fast, _ = fast_run(train, val, base)
    quality = dataclasses.replace(base, steps_per_epoch=args.quality_steps, residual=True)
    _, psnr_fp32 = fast_run(train, val, dataclasses.replace(quality, precision="fp32"))
    _, psnr_fast = fast_run(train, val, quality)
    peak = matmul_peak_gflops(torch.bfloat16 if precision == torch.bfloat16 else torch.float32)
    gflops = fast * flops_per_tile(SRCNN(**config)) / 1e9

    print(f"{'path':<34}{'tiles/s':>10}")
    print(f"{'naive (seed loop, fp32 NCHW, PNG)':<34}{naive:>10.1f}")
    print(f"{'fast (srcnn.train.fit)':<34}{fast:>10.1f}")
    print(
        f"ratio {fast / naive:.2f}x; fast path {gflops:.0f} GFLOP/s of a measured "
        f"{peak:.0f} GFLOP/s matmul peak ({100 * gflops / peak:.0f}%)"
    )
    print(
        f"val PSNR after {args.quality_steps} steps: fp32 {psnr_fp32:.3f} dB, fast {psnr_fast:.3f} dB "
        f"(delta {psnr_fast - psnr_fp32:+.3f} dB)"
    )
    print(
        json.dumps(
            {
                "naive_tiles_per_s": round(naive, 1),
                "fast_tiles_per_s": round(fast, 1),
                "ratio": round(fast / naive, 2),
                "psnr_delta_db": round(psnr_fast - psnr_fp32, 4),
                "gflops": round(gflops, 1),
                "peak_gflops": round(peak, 1),
                "model": args.model,
                "precision": str(precision or "fp32"),
                "device": str(device),
            }
        )
    )


if __name__ == "__main__":
    main()
