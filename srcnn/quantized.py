"""SRCNN with 8-bit integer convolutions for fast CPU inference (oneDNN; fbgemm where there is none).

    fast = quantize(model, samples)        # samples: luma blocks of the photo to restore, N×1×H×W in [0, 1]
    output = fast(block)                   # like model(block), float32
    fast = quantize(model, samples, 0.4)   # a conditioned model, for the photo's strength
    output = fast(block, 0.4)

Weights are quantized per output channel, activations per tensor with ranges measured on
``samples`` (calibration on the photo itself, so that they fit its content); the input is quantized
in steps of 1/255 (an 8-bit photo's own steps) and the residual sum is done in float32 on the
unquantized input. Integer convolutions are exact, so tiles of one photo agree with a whole-image
pass. A conditioned model's strength plane goes in as a second input channel quantized with the
same steps (strengths from 0 to 1 fit; a stronger one is refused, and inference falls back to
bf16). ``benchmarks/enhance_speed.py`` measures the cost against fp32 in dB.

Exact on every CPU: an int8 convolution multiplies unsigned 8-bit activations by signed 8-bit
weights. With VNNI (AVX-512 VNNI, AVX-VNNI, AMX) the products go straight into 32-bit sums; without
it (AVX2, AVX-512 without VNNI: oneDNN's and fbgemm's kernels alike) each two neighbouring products
are first added in 16 bits with saturation (vpmaddubsw), which 255 × 127 × 2 = 64,770 overflows:
those sums come out wrong, silently. ``full_range_is_exact`` asks the kernel itself (one tiny
convolution whose right answer needs more than 16 bits), so it also sees a CPU that oneDNN is
told to treat as an older one. Where the answer is no, the ranges shrink so that no pair can
saturate (PyTorch's ``reduce_range``): the first layer keeps the photo's 8-bit steps and gets
weights of 7 bits (255 × 63 × 2 = 32,130), the later ones get 7-bit activations (127 × 127 × 2 =
32,258). Then every kernel computes the exact integer sums; the price is a little precision, measured
by ``benchmarks/enhance_speed.py`` (docs/inference.md).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

import torch
from torch import nn

from .archs import channels_of
from .archs.srcnn import SRCNN
from .metrics import psnr_from_mse

if TYPE_CHECKING:  # for the annotations: _conv imports it where it is used
    from torch.ao.nn.quantized import Conv2d as QuantizedConv2d


def engine() -> str | None:
    """The quantized CPU backend to use, or None when PyTorch has none that fits."""
    engines = torch.backends.quantized.supported_engines
    for name in ("onednn", "x86", "fbgemm"):
        if name in engines:
            return name
    return None


def _conv(
    in_channels: int,
    out_channels: int,
    kernel_size: int | tuple[int, int],
    relu: bool,
    padding: int | tuple[int, int] = 0,
) -> QuantizedConv2d:
    from torch.ao.nn.intrinsic.quantized import ConvReLU2d
    from torch.ao.nn.quantized import Conv2d

    with warnings.catch_warnings():  # PyTorch notes that eager-mode quantization is moving to torchao
        warnings.simplefilter("ignore")
        return (ConvReLU2d if relu else Conv2d)(in_channels, out_channels, kernel_size, padding=padding)


@functools.cache
def full_range_is_exact(name: str) -> bool:
    """Whether engine ``name``'s int8 convolution adds 8-bit products without saturating (VNNI, AMX):
    asked of the kernel itself, on a sum of 2 × 255 × 127 products that 16 bits cannot hold."""
    torch.backends.quantized.engine = name
    conv = _conv(2, 1, 1, relu=False)
    weight = torch.quantize_per_channel(
        torch.full((1, 2, 1, 1), 127.0),
        torch.ones(1, dtype=torch.double),
        torch.zeros(1, dtype=torch.long),
        0,
        torch.qint8,
    )
    conv.set_weight_bias(weight, torch.zeros(1))
    conv.scale, conv.zero_point = 1000.0, 0  # 64,770 → step 65 (saturated: 32,767 → 33)
    pixel = torch.quantize_per_tensor(torch.full((1, 2, 1, 1), 255.0), 1.0, 0, torch.quint8)
    return round(conv(pixel).dequantize().item()) == 65_000


def _qconv(conv: nn.Conv2d, relu: bool, scale: float, zero_point: int, weight_max: int = 127) -> QuantizedConv2d:
    kernel_size, padding = cast(tuple[int, int], conv.kernel_size), cast(tuple[int, int], conv.padding)
    quantized = _conv(conv.in_channels, conv.out_channels, kernel_size, relu, padding)
    weight = conv.weight.detach().float().cpu()
    scales = weight.abs().amax(dim=(1, 2, 3)).clamp_min(1e-12) / weight_max
    qweight = torch.quantize_per_channel(
        weight, scales.double(), torch.zeros(len(scales), dtype=torch.long), 0, torch.qint8
    )
    quantized.set_weight_bias(qweight, None if conv.bias is None else conv.bias.detach().float().cpu())
    quantized.scale, quantized.zero_point = float(scale), int(zero_point)
    return quantized


# SRCNN.forward shows its first layer the input centred on mid-grey (x - 0.5); here that is the
# input's zero point, so the zero padding of the convolution means mid-grey as in the float model.
# ``quantize`` checks the copy against the float model and refuses one that disagrees.
INPUT_OFFSET = SRCNN.input_offset
STRENGTH_OFFSET = SRCNN.strength_offset
INPUT_ZERO_POINT = 128
AGREEMENT_DB = 40.0  # PSNR of the int8 output against the float output on the calibration blocks


def can_quantize(model: nn.Module) -> bool:
    """Whether ``quantize`` makes an int8 copy of this network: a luma SRCNN's three convolutions
    only (its input is quantized as an 8-bit luma plane)."""
    return isinstance(model, SRCNN) and channels_of(model) == 1


class QuantizationError(RuntimeError):
    """The int8 copy does not reproduce the float model closely enough."""


class QuantizedSRCNN(nn.Module):
    """The three SRCNN convolutions in int8 (the first two fused with their ReLU); ``full_range``
    False: the ranges that no kernel can saturate (see the module docstring)."""

    def __init__(self, model: SRCNN, ranges: tuple[float, float, float], full_range: bool = True) -> None:
        super().__init__()
        extract_max, map_max, correction_max = ranges
        self.residual = model.residual
        self.conditioned = model.conditioned
        self.radius = model.radius
        self.full_range = full_range
        first_weight_max, activation_max = (127, 255) if full_range else (63, 127)
        self.extract = _qconv(model.extract, True, max(extract_max, 1e-6) / activation_max, 0, first_weight_max)
        self.map = _qconv(model.map, True, max(map_max, 1e-6) / activation_max, 0)
        self.reconstruct = _qconv(model.reconstruct, False, max(correction_max, 1e-6) / 127.0, 128)

    def forward(self, x: torch.Tensor, strength: torch.Tensor | float | None = None) -> torch.Tensor:
        # x - 0.5 in steps of 1/255 with zero point 128: luma (16-235 of 255) never reaches the clip
        centred = x.float().sub(INPUT_OFFSET)
        if self.conditioned:
            centred = torch.cat([centred, _strength_plane(centred, strength)], dim=1)
        qx = torch.quantize_per_tensor(
            centred.contiguous(memory_format=torch.channels_last), 1.0 / 255.0, INPUT_ZERO_POINT, torch.quint8
        )
        y = self.reconstruct(self.map(self.extract(qx))).dequantize()
        return x + y if self.residual else y


def _strength_plane(centred: torch.Tensor, strength: torch.Tensor | float | None) -> torch.Tensor:
    """The centred strength plane, refused when the 8-bit input cannot hold it to a step of 1/255."""
    if strength is None:
        raise ValueError("this SRCNN is conditioned: call it with the photo's compression strength")
    values = torch.as_tensor(strength, dtype=torch.float32).reshape(-1, 1, 1, 1) - STRENGTH_OFFSET
    low, high = -INPUT_ZERO_POINT / 255.0, (255 - INPUT_ZERO_POINT) / 255.0
    if values.min().item() < low - 0.5 / 255 or values.max().item() > high + 0.5 / 255:
        raise QuantizationError(
            f"strength {values.add(STRENGTH_OFFSET).flatten().tolist()} is outside what "
            f"the int8 input holds ({low + STRENGTH_OFFSET:.3f} to {high + STRENGTH_OFFSET:.3f})"
        )
    return values.to(centred.device).expand(centred.shape[0], 1, *centred.shape[2:])


@torch.inference_mode()
def quantize(
    model: nn.Module, samples: list[torch.Tensor], strength: float | None = None, headroom: float = 1.1
) -> QuantizedSRCNN:
    """An int8 copy of ``model`` whose activation ranges cover what ``samples`` produce (× ``headroom``);
    ``strength``: the photo's, for a conditioned model (calibration and the agreement check use it)."""
    if not isinstance(model, SRCNN) or not can_quantize(model):
        kind = "a colour" if isinstance(model, SRCNN) else "not"
        raise QuantizationError(f"int8 inference is for luma SRCNN models only, {kind} {type(model).__name__}")
    if model.conditioned:
        _strength_plane(torch.zeros(1, 1, 1, 1), strength)  # refuses a missing or too strong strength
    backend = engine()
    if backend is None:
        raise RuntimeError("int8 inference needs a quantized CPU backend (onednn, x86 or fbgemm); use bf16 or fp32")
    torch.backends.quantized.engine = backend
    model = model.float().cpu().eval().to(memory_format=torch.channels_last)  # oneDNN's fast layout, as in inference
    shapes = {tuple(sample.shape[-2:]) for sample in samples}
    batches = [torch.cat(samples)] if len(shapes) == 1 else samples  # one call when they are alike
    # one float pass gives both the ranges (what each layer puts out, before its ReLU) and the
    # outputs the int8 copy must agree with: calibration costs one fp32 pass over the samples, not two
    peaks = {"extract": 0.0, "map": 0.0, "reconstruct": 0.0}

    def record(name: str) -> Callable[[nn.Module, tuple, torch.Tensor], None]:
        def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            peak = output.abs().max() if name == "reconstruct" else output.max()  # the ReLU's output peaks there too
            peaks[name] = max(peaks[name], peak.item())

        return hook

    hooks = [getattr(model, name).register_forward_hook(record(name)) for name in peaks]
    try:
        expected = [model(batch, strength) for batch in batches]
    finally:
        for hook in hooks:
            hook.remove()
    ranges = (peaks["extract"] * headroom, peaks["map"] * headroom, peaks["reconstruct"] * headroom)
    quantized = QuantizedSRCNN(model, ranges, full_range_is_exact(backend)).eval()
    squared = sum(
        ((quantized(batch, strength) - want) ** 2).sum().item() for batch, want in zip(batches, expected, strict=True)
    )
    count = sum(batch.numel() for batch in batches)
    agreement = psnr_from_mse(squared / count * 255.0**2)
    if agreement < AGREEMENT_DB:
        raise QuantizationError(
            f"the int8 copy of the model agrees with it to {agreement:.1f} dB only "
            f"(less than {AGREEMENT_DB:.0f} dB); use --precision bf16 or fp32"
        )
    return quantized
