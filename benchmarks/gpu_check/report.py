"""GPU/CPU ratios and the summary printed at the end of a run, before the JSON on one line."""

from __future__ import annotations

import json
from typing import Any

from .check import log


def ratio(cpu: dict[str, Any], gpu: dict[str, Any], key: str, higher_is_faster: bool = False) -> float | None:
    """How many times faster the GPU is, or None when either side has no figure."""
    if (
        not (isinstance(cpu.get(key), (int, float)) and isinstance(gpu.get(key), (int, float)))
        or not cpu[key]
        or not gpu[key]
    ):
        return None
    return round(gpu[key] / cpu[key] if higher_is_faster else cpu[key] / gpu[key], 2)


def figure(entry: Any, key: str) -> str:
    if isinstance(entry, dict) and key in entry and entry[key] is not None:
        return str(entry[key])
    if isinstance(entry, dict) and "skipped" in entry:
        return "skipped"
    return "error" if isinstance(entry, dict) and "error" in entry else "-"


def summary(results: dict[str, Any]) -> None:
    """The summary printed at the end: the GPU/CPU table, a line per other part, then the JSON."""
    log_table(results)
    log_speed_parts(results)
    log_quality(results)
    log_resume_and_seeds(results)
    log(f"errors: {len(results['errors'])}; {results['seconds']} s; results in gpu_check.json, on one line:")
    log(json.dumps(results, separators=(",", ":"), default=str))


def log_table(results: dict[str, Any]) -> None:
    """The parts measured on both sides: GPU, CPU and their ratio."""
    pipeline, throughput, enhance = results["pipeline"], results["throughput"], results["enhance"]
    rows = [
        (
            "pipeline seconds (prepare→evaluate)",
            figure(pipeline.get("gpu"), "seconds"),
            figure(pipeline.get("cpu"), "seconds"),
            figure(pipeline, "ratio"),
        ),
        (
            "pipeline psnr_gain (dB)",
            figure(pipeline.get("gpu"), "psnr_gain"),
            figure(pipeline.get("cpu"), "psnr_gain"),
            "",
        ),
        (
            "training tiles/s (128 px)",
            figure(throughput.get("gpu"), "tiles_per_s"),
            figure(throughput.get("cpu"), "tiles_per_s"),
            figure(throughput, "ratio"),
        ),
        (
            "enhance seconds",
            figure(enhance.get("gpu"), "seconds"),
            figure(enhance.get("cpu"), "seconds"),
            figure(enhance, "ratio"),
        ),
    ]
    log(f"{'':38}{'gpu':>12}{'cpu':>12}{'ratio':>8}")
    for name, on_gpu, on_cpu, times in rows:
        log(f"{name:38}{on_gpu:>12}{on_cpu:>12}{times:>8}")


def log_speed_parts(results: dict[str, Any]) -> None:
    """GPU busy time, the largest batch, compile, torchrun and the loader."""
    busy, batch, compiled = results["gpu_busy"], results["largest_batch"], results["compile"]
    log(
        f"GPU busy fraction: {figure(busy, 'busy_fraction')}; largest batch: {figure(batch, 'batch_size')} "
        f"at {figure(batch, 'tiles_per_s')} tiles/s; compile off/default/reduce-overhead tiles/s: "
        f"{figure(compiled.get('off'), 'tiles_per_s')}/{figure(compiled.get('default'), 'tiles_per_s')}/"
        f"{figure(compiled.get('reduce-overhead'), 'tiles_per_s')}; "
        f"torchrun: {figure(results['torchrun'], 'seconds')}; "
        f"enhance GPU memory: {figure(results['enhance'].get('gpu'), 'max_memory_allocated_mb')} MB"
    )
    log(
        "loader alone, tiles/s (and the training tiles/s it feeds): "
        + "; ".join(
            f"{name}: {figure(entry, 'tiles_per_s')} ({figure(entry, 'feeds_training_tiles_per_s')})"
            for name, entry in results.get("loader", {}).items()
        )
    )
    log(
        "GPU busy fraction at each batch: "
        + "; ".join(f"{name}: {figure(entry, 'busy_fraction')}" for name, entry in busy.get("at_batches", {}).items())
    )


def log_quality(results: dict[str, Any]) -> None:
    """The quality run, and each run beside it with the params it changed."""
    quality = results.get("quality", {})
    log(
        f"quality ({figure(quality, 'minutes')} min of training on {figure(quality.get('overrides', {}), 'raw_dir')}): "
        f"q20 gain {figure(quality, 'q20_gain')} dB, {figure(quality.get('train', {}), 'steps')} steps; "
        f"ladder {quality.get('ladder_gain', '-')}"
    )
    for name, run in results.get("quality_runs", {}).items():
        changed = ", ".join(
            f"{key}={value}"
            for key, value in run.get("overrides", {}).items()
            if quality.get("overrides", {}).get(key) != value
        )
        log(
            f"  beside it, {name} ({changed}): "
            f"q20 gain {figure(run, 'q20_gain')} dB, {figure(run.get('train', {}), 'steps')} steps; "
            f"ladder {run.get('ladder_gain', '-')}"
            + (f"; on RGB {run['ladder_rgb_gain']}" if "ladder_rgb_gain" in run else "")
        )


def log_resume_and_seeds(results: dict[str, Any]) -> None:
    resume = results.get("resume", {})
    log(
        f"resume: killed at epoch {figure(resume, 'killed_at_epoch')}, resumed {figure(resume, 'resumed')}, "
        f"{figure(resume, 'steps')} steps (uninterrupted {figure(resume, 'steps_uninterrupted')})"
    )
    seeds = results.get("seeds", {})
    log(
        f"seeds ({figure(seeds, 'steps')} steps each): q20 shortfall of ours against q20_only per seed "
        + ", ".join(f"{seed}: {entry.get('q20_shortfall')}" for seed, entry in seeds.get("seeds", {}).items())
        + f"; mean {figure(seeds, 'q20_shortfall_mean')} dB"
    )
