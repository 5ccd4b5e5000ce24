"""How busy the GPU is during training steps.

The training steps run under ``torch.profiler`` (CUPTI), which records every piece of the GPU's
work as an interval on its timeline: kernels, copies, memsets. The busy time is the union of those
intervals (work overlapping on two streams counts once), per step. Divided by the wall time of a
step measured *without* the profiler (``speed.train_rate``), it is the fraction of the time the GPU
works: below 1, it waits for the host (Python, launches, the optimizer's small kernels).

User annotations (``ProfilerStep#N``, ``Optimizer.step#Adam.step``) are mirrored onto the GPU's
timeline as ranges that span whole steps, idle time included: they are left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from srcnn.params import Params

from .check import Sizes
from .speed import train_rate


def busy_time(intervals: Iterable[tuple[float, float]]) -> float:
    """The length of the union of ``(start, end)`` intervals: time covered by at least one of them."""
    busy, covered_to = 0.0, float("-inf")
    for start, end in sorted(intervals):
        if end > covered_to:
            busy += end - max(start, covered_to)
            covered_to = end
    return busy


def gpu_intervals(events: Iterable[Any]) -> list[tuple[float, float]]:
    """The GPU's own work among the profiler's events, as (start, end) in microseconds."""
    from torch.autograd import DeviceType

    return [
        (event.time_range.start, event.time_range.end)
        for event in events
        if event.device_type != DeviceType.CPU
        and not getattr(event, "is_user_annotation", False)
        and not event.name.startswith(("ProfilerStep", "Optimizer."))
    ]


def gpu_busy(
    params: Params,
    data: tuple[torch.Tensor, torch.Tensor],
    device: torch.device,
    sizes: Sizes,
    unprofiled_ms: float,
    out: Path,
    batch_size: int | None = None,
) -> dict[str, Any]:
    """``sizes.profile_steps`` training steps under the profiler: the GPU's busy time per step
    against ``unprofiled_ms``, the wall time of a step without the profiler. Appends the profiler's
    table of the steps to ``out/profile.txt``."""
    from torch.profiler import ProfilerActivity, profile, schedule

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    caught: dict[str, Any] = {}

    def ready(profiler: profile) -> None:
        caught["events"] = list(profiler.events())
        for key in ("self_cuda_time_total", "self_device_time_total", "self_cpu_time_total"):
            try:
                caught["table"] = profiler.key_averages().table(sort_by=key, row_limit=25)
                break
            except Exception:  # noqa: BLE001 — the sort key's name depends on the PyTorch version
                continue

    warmup, steps = sizes.throughput_warmup, sizes.profile_steps
    with profile(
        activities=activities, schedule=schedule(wait=0, warmup=warmup, active=steps, repeat=1), on_trace_ready=ready
    ) as profiler:
        profiled = train_rate(
            params, data, device, steps, warmup, batch_size=batch_size, after_step=lambda step: profiler.step()
        )
    batch = batch_size or params.batch_size
    with (out / "profile.txt").open("a") as table:
        table.write(f"batch_size {batch}\n{caught.get('table', '(no table)')}\n\n")
    intervals = gpu_intervals(caught.get("events", []))
    busy_ms = busy_time(intervals) / 1000 / steps
    return {
        "method": "torch.profiler (CUPTI): the union of the GPU's activity intervals (kernels, copies, memsets; "
        "not the user annotations mirrored onto its timeline) over the profiled steps, per step, "
        "against the wall time of a step without the profiler",
        "batch_size": batch,
        "steps": steps,
        "busy_ms_per_step": round(busy_ms, 3),
        "wall_ms_per_step": unprofiled_ms,
        "profiled_wall_ms_per_step": profiled["ms_per_step"],
        "busy_fraction": round(busy_ms / unprofiled_ms, 3) if unprofiled_ms else None,
        "gpu_events_per_step": round(len(intervals) / steps, 1),
    }
