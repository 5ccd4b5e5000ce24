"""Where and in what precision the model runs: the one place that picks a device and a dtype.

    from srcnn.device import pick_device, pick_precision, autocast
    device = pick_device("auto")               # CUDA (this rank's GPU), then MPS, then CPU
    dtype = pick_precision("auto", device)     # bf16 where the hardware has it, fp16 on old GPUs, else None (fp32)
    with autocast(device, dtype):
        output = model(batch)
    dtype = pick_precision("auto", device, int8=True, pixels=height * width)   # SRCNN inference of one photo

Used by training, evaluation, ``enhance`` and the benchmarks alike.

On a CPU, ``enhance`` (``int8=True``) picks per photo, by a rule measured with
``benchmarks/enhance_speed.py`` (docs/enhance.md) rather than by timing at each start (timings on a
busy machine flip; a rule gives a photo the same output every time):

- a photo of ``INT8_MIN_PIXELS`` (2 megapixels) or more: int8, where PyTorch has a quantized
  backend. Its sums are exact on every CPU (srcnn/quantized.py); its cost in dB and its speed on
  each kind of CPU are in docs/inference.md;
- a smaller photo: bf16 where oneDNN runs it natively (AVX-512 BF16, AMX), else fp32. int8
  calibrates on each photo (a float pass over nine 128-pixel blocks of it, the weights packed
  anew), which costs more than int8 saves on small photos.

Native bf16 is what oneDNN says, so it follows ONEDNN_MAX_CPU_ISA too (bf16 emulated on AVX2 is
many times slower than fp32).
"""

from __future__ import annotations

import contextlib
import os

import torch

INT8 = torch.qint8  # the ``dtype`` that asks for int8 convolutions (srcnn/quantized.py; CPU inference of SRCNN only)
PRECISIONS = {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16", INT8: "int8"}
INT8_MIN_PIXELS = 2_000_000  # auto: smaller photos run without int8 (its calibration costs more than it saves)


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


def pick_precision(
    name: str, device: torch.device, int8: bool = False, pixels: int | None = None
) -> torch.dtype | None:
    """The dtype for ``auto``, ``fp32``, ``bf16``, ``fp16`` or, with ``int8`` (SRCNN inference, which
    can run int8 on a CPU), ``int8``; None means plain fp32. ``auto``: on a GPU bf16, or fp16 where
    it has none; on a CPU bf16 where it is native, else fp32, and for inference (``int8``) of a photo
    of ``pixels`` pixels (None: a large one) the rule of this module's docstring. ValueError for a
    precision the device or the caller cannot run."""
    if name == "int8":
        from .quantized import engine

        if not int8:
            raise ValueError("precision int8 is for inference (python -m srcnn enhance) only")
        if device.type != "cpu" or engine() is None:
            raise ValueError(f"--precision int8 runs on a CPU with a quantized backend, not on {device.type}")
        return INT8
    if name == "fp32":
        return None
    if name == "bf16":
        return torch.bfloat16
    if name == "fp16":
        return torch.float16
    if name != "auto":
        raise ValueError(f"unknown precision {name!r}; use auto, fp32, bf16, fp16{' or int8' if int8 else ''}")
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and int8 and (pixels is None or pixels >= INT8_MIN_PIXELS):
        from .quantized import engine

        if engine() is not None:
            return INT8
    if device.type == "cpu" and cpu_has_bf16():
        return torch.bfloat16
    return None


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    """Autocast to ``dtype`` on ``device``, or nothing for fp32."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)
