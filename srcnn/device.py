"""Where and in what precision the model runs: the one place that picks a device and a dtype.

    from srcnn.device import pick_device, pick_precision, autocast
    device = pick_device("auto")               # CUDA (this rank's GPU), then MPS, then CPU
    dtype = pick_precision("auto", device)     # bf16 where the hardware has it, fp16 on old GPUs, else None (fp32)
    with autocast(device, dtype):
        output = model(batch)

Used by training, evaluation, ``enhance`` and the benchmarks alike.
"""
from __future__ import annotations

import contextlib
import os

import torch


class DeviceError(RuntimeError):
    """A device that this machine does not have; the message names the setting."""


def pick_device(name: str, setting: str = "device") -> torch.device:
    """``auto``, ``cpu``, ``cuda`` or ``mps``; under torchrun, CUDA means this rank's GPU (LOCAL_RANK).
    DeviceError, naming ``setting`` (the param or option that asked), for one this machine lacks."""
    if name == "cuda" and not torch.cuda.is_available():
        raise DeviceError(f"{setting} cuda: no CUDA GPU is visible; use auto or cpu")
    if name == "mps" and not torch.backends.mps.is_available():
        raise DeviceError(f"{setting} mps: MPS is not available; use auto or cpu")
    if name == "auto":
        if torch.cuda.is_available():
            name = "cuda"
        elif torch.backends.mps.is_available():
            name = "mps"
        else:
            name = "cpu"
    if name == "cuda":
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return torch.device(name)


def cpu_has_bf16() -> bool:
    """Whether oneDNN runs bf16 natively on this CPU (AVX-512 BF16 or AMX)."""
    return torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()


def pick_precision(name: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``auto``, ``fp32``, ``bf16`` or ``fp16``; None means plain fp32."""
    if name == "fp32":
        return None
    if name == "bf16":
        return torch.bfloat16
    if name == "fp16":
        return torch.float16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and cpu_has_bf16():
        return torch.bfloat16
    return None


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    """Autocast to ``dtype`` on ``device``, or nothing for fp32."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)
