"""The default training step on each kind of x86 CPU, emulated on this one: before and after the quick-start sizing.

    python -m benchmarks.cpu_kinds [--steps 12] [--rounds 3]

Runs, for each CPU kind this machine can pose as, a child process with the variables that make
PyTorch and oneDNN use only that kind's instructions (``ATEN_CPU_CAPABILITY``, ``ONEDNN_MAX_CPU_ISA``,
``MKL_ENABLE_INSTRUCTIONS``): ``amx`` (native on a Xeon with AMX), ``avx512_bf16`` (AVX-512 with bf16,
no AMX: AMD Zen 4) and ``avx2`` (AVX2 and FMA only: AMD Zen 3, most older CPUs). In each it times the
training step (forward, backward, Adam; channels_last, the precision ``precision: auto`` picks there)
of the old default, SRCNN 9-5-5 at batch 32 for 1,000 steps, and of today's ``params.yaml``, each
config interleaved with the other, best of ``--rounds``; and an fp32 matmul for the CPU's fp32 peak.
Prints ms per step, GFLOP/s, the fraction of the fp32 peak (or of the bf16 peak where training runs
in bf16) and the training seconds each default implies; the last line is one JSON object.
Emulation runs the older instruction sets on this CPU's cores and caches: a real CPU of that kind has
its own clock and memory, so the seconds are estimates; the ratios between the two defaults hold.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from benchmarks.workfolder import ROOT

KINDS = {
    "amx": {},
    "avx512_bf16": {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE_BF16"},
    "avx2": {
        "ATEN_CPU_CAPABILITY": "avx2",
        "ONEDNN_MAX_CPU_ISA": "AVX2",
        "MKL_ENABLE_INSTRUCTIONS": "AVX2",
        "FBGEMM_ENABLE_INSTRUCTIONS": "AVX2",
    },
}
OLD_DEFAULT = {"kernel2": 5, "batch_size": 32, "steps": 1000}


def step_flops(kernel1: int, kernel2: int, kernel3: int, filters1: int, filters2: int, pixels: int) -> float:
    """FLOPs of one training step: forward plus backward (twice the forward) of the three convolutions;
    the first layer sees 2 channels (luma and the strength plane) and needs no input gradient."""
    forward = [2 * kernel1**2 * filters1, filters1 * kernel2**2 * filters2, filters2 * kernel3**2]
    return 2 * pixels * (2 * forward[0] + 3 * forward[1] + 3 * forward[2])


def training_step(params: Any, config: dict[str, Any], dtype: Any) -> Callable[[], None]:
    """One SRCNN training step of ``config``'s sizes on random crops, run once (to warm up)."""
    import torch

    from srcnn.archs import SRCNN
    from srcnn.device import autocast

    torch.manual_seed(0)
    model = SRCNN(
        params.kernel1,
        config["kernel2"],
        params.kernel3,
        params.filters1,
        params.filters2,
        params.residual,
        1,
        params.conditioned,
    ).to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=params.lr)
    crops = torch.rand(config["batch_size"], 1, params.crop, params.crop).contiguous(memory_format=torch.channels_last)
    strengths = torch.rand(config["batch_size"])

    def step() -> None:
        with autocast(torch.device("cpu"), dtype):
            output = model(crops, strengths)
        loss = torch.nn.functional.mse_loss(output.float(), crops)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    step()
    return step


def matmul_peaks() -> dict[str, float]:
    """GFLOP/s of a 2048² matrix product in fp32 and bf16, the best of 5."""
    import torch

    peaks = {}
    for label, peak_dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        a, b = torch.rand(2048, 2048, dtype=peak_dtype), torch.rand(2048, 2048, dtype=peak_dtype)
        a @ b
        fastest = float("inf")
        for _ in range(5):
            started = time.perf_counter()
            a @ b
            fastest = min(fastest, time.perf_counter() - started)
        peaks[label] = 2 * 2048**3 / fastest / 1e9
    return peaks


def measure(steps: int, rounds: int) -> dict:
    """In this process (under the kind's variables): the two configs' step times and the matmul peaks."""
    import torch

    from srcnn.device import pick_precision
    from srcnn.params import load_params
    from srcnn.train import batch_and_lr

    params = load_params(ROOT / "params.yaml")
    dtype = pick_precision(params.precision, torch.device("cpu"))
    configs: dict[str, dict[str, Any]] = {
        "old": {**OLD_DEFAULT},
        "new": {
            "kernel2": params.kernel2,
            "batch_size": batch_and_lr(params, torch.device("cpu"))[0],  # batch_size auto: a CPU's
            "steps": params.epochs * params.steps_per_epoch,
        },
    }
    runs = {name: (config, training_step(params, config, dtype)) for name, config in configs.items()}
    best = {name: float("inf") for name in runs}
    for _ in range(rounds):
        for name, (_, step) in runs.items():
            started = time.perf_counter()
            for _ in range(steps):
                step()
            best[name] = min(best[name], (time.perf_counter() - started) / steps)
    peaks = matmul_peaks()
    result: dict[str, Any] = {
        "capability": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(),
        "precision": "bf16" if dtype == torch.bfloat16 else "fp32",
        "peak_gflops": peaks,
    }
    for name, (config, _) in runs.items():
        flops = step_flops(
            params.kernel1,
            config["kernel2"],
            params.kernel3,
            params.filters1,
            params.filters2,
            config["batch_size"] * params.crop**2,
        )
        gflops = flops / best[name] / 1e9
        result[name] = {
            "model": f"9-{config['kernel2']}-5",
            "batch_size": config["batch_size"],
            "steps": config["steps"],
            "ms_per_step": round(1000 * best[name], 1),
            "gflops": round(gflops, 1),
            "share_of_peak": round(gflops / peaks[result["precision"]], 3),
            "training_seconds": round(config["steps"] * best[name], 1),
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=12, help="steps timed per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.steps, args.rounds)))
        return
    results = {}
    for kind, variables in KINDS.items():
        child = subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.cpu_kinds",
                "--child",
                "--steps",
                str(args.steps),
                "--rounds",
                str(args.rounds),
            ],
            cwd=ROOT,
            env={**os.environ, **variables},
            capture_output=True,
            text=True,
        )
        if child.returncode:
            sys.exit(f"cpu_kinds: the {kind} run failed:\n{child.stderr}")
        results[kind] = json.loads(child.stdout.strip().splitlines()[-1])
    print(f"{'kind':12} {'prec':5} {'default':22} {'ms/step':>8} {'GFLOP/s':>8} {'of peak':>8} {'training':>9}")
    for kind, result in results.items():
        for name in ("old", "new"):
            run = result[name]
            label = f"{name}: {run['model']} b{run['batch_size']} x{run['steps']}"
            print(
                f"{kind:12} {result['precision']:5} {label:22} {run['ms_per_step']:8.1f} {run['gflops']:8.1f} "
                f"{100 * run['share_of_peak']:7.0f}% {run['training_seconds']:8.0f}s"
            )
        print(
            f"{'':12} matmul peak: fp32 {result['peak_gflops']['fp32']:.0f}, bf16 {result['peak_gflops']['bf16']:.0f} "
            f"GFLOP/s; {result['threads']} threads, ATen {result['capability']}; "
            f"training {result['old']['training_seconds'] / result['new']['training_seconds']:.1f}x shorter"
        )
    print(
        json.dumps(
            {
                kind: {
                    "precision": r["precision"],
                    "old_ms_per_step": r["old"]["ms_per_step"],
                    "new_ms_per_step": r["new"]["ms_per_step"],
                    "old_share_of_peak": r["old"]["share_of_peak"],
                    "new_share_of_peak": r["new"]["share_of_peak"],
                    "old_training_s": r["old"]["training_seconds"],
                    "new_training_s": r["new"]["training_seconds"],
                }
                for kind, r in results.items()
            }
        )
    )


if __name__ == "__main__":
    main()
