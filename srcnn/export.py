"""A model as an ONNX file, for ONNX Runtime and the tools that run ONNX models (docs/onnx.md).

    srcnn export --onnx restorer-colour.onnx                          # the model enhance uses for colour photos
    srcnn export --onnx luma.onnx --model models/pretrained/restorer.pt
    python -m srcnn export --onnx model.onnx --model models/srcnn.pt --overwrite

Every network of ``srcnn.archs`` exports, luma or colour, in fp32 at ONNX opset ``OPSET``. Inputs:
``image``, N×C×H×W float32 in [0, 1] (C = 1: luma; C = 3: YCbCr, both BT.601 as ``srcnn.color``
computes them, divided by 255), and for a conditioned network ``strength``, N×1×1×1 float32: each
photo's compression strength (``srcnn.jpeg.compression_strength``) as a 1×1 plane, which the network
spreads over the image as it does in PyTorch. Output ``restored``: the image's shape, not clipped.
Batch, height and width are dynamic (any size; odd sides too). The file's metadata says what the
network expects (``srcnn.*`` keys: arch, channels, scale, the strength formula's unit).

The file is written under a temporary name and renamed when complete; an existing file is kept
unless ``--overwrite``. It needs the ``onnx`` extra (``pip install "srcnn[onnx]"``: onnx, onnxscript
for PyTorch's exporter, onnxruntime to run the result).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import torch
from torch import nn

from .archs import arch_of, channels_of
from .files import atomic_path
from .inference import CheckpointError, load_model, model_scale
from .jpeg import _STRENGTH_UNIT as STRENGTH_UNIT
from .jpeg import strength_for_quality

OPSET = 18
# the size of the example input the graph is traced with; the exported graph takes any size
TRACE_SIDE = 64


class OnnxExportError(Exception):
    """An export that cannot be done: the output's folder, an existing file, a missing package."""


class _Exported(nn.Module):
    """The network with its strength as a tensor input (a conditioned one) or without it."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor, strength: torch.Tensor | None = None) -> torch.Tensor:
        return self.model(image, strength)


def check_target(target: Path, overwrite: bool) -> None:
    """OnnxExportError naming ``target`` when it cannot be written: no such folder, or a file already
    there without ``overwrite``."""
    if not target.parent.is_dir():
        raise OnnxExportError(f"{target}: no folder {target.parent} to write it in; create it first")
    if target.is_dir():
        raise OnnxExportError(f"{target} is a folder; give the ONNX file's name")
    if target.exists() and not overwrite:
        raise OnnxExportError(f"{target} already exists; pass --overwrite to replace it")


def export_onnx(model: nn.Module, target: Path, scale: int = 1) -> None:
    """Write ``model`` (any network of srcnn.archs) to ``target`` as ONNX (the layout in this module's
    docstring), atomically."""
    try:
        import onnx
        import onnxscript  # noqa: F401  (PyTorch's exporter needs it; a clear message here if missing)
    except ImportError as error:
        raise OnnxExportError(
            f"exporting to ONNX needs the packages onnx and onnxscript ({error.name} is missing): "
            f'pip install "srcnn[onnx]"'
        ) from None
    model = model.float().eval()
    conditioned = bool(getattr(model, "conditioned", False))
    channels = channels_of(model)
    image = torch.rand(1, channels, TRACE_SIDE, TRACE_SIDE + 1)
    batch, height, width = torch.export.Dim("batch"), torch.export.Dim("height"), torch.export.Dim("width")
    inputs: tuple[torch.Tensor, ...] = (image,)
    shapes: dict[str, dict[int, object]] = {"image": {0: batch, 2: height, 3: width}}
    if conditioned:
        inputs += (torch.full((1, 1, 1, 1), strength_for_quality(30)),)
        shapes["strength"] = {0: batch}
    with warnings.catch_warnings():
        # both inputs share the batch axis, which the exporter reports as a rename it skips
        warnings.filterwarnings("ignore", message="# The axis name: batch will not be used")
        program = torch.onnx.export(
            _Exported(model).eval(),
            inputs,
            input_names=list(shapes),
            output_names=["restored"],
            dynamic_shapes=shapes,
            opset_version=OPSET,
            dynamo=True,
            external_data=False,
            verbose=False,
        )
    if program is None:  # only the exporter given a file name writes it itself
        raise OnnxExportError(f"{target}: PyTorch's ONNX exporter returned no model")
    proto = program.model_proto
    described = {
        "srcnn.arch": arch_of(model),
        "srcnn.channels": "ycbcr" if channels == 3 else "y",
        "srcnn.scale": str(scale),
        "srcnn.conditioned": str(conditioned).lower(),
        # strength = mean of ln(step) over the luma table's 15 steps with u + v <= 4, divided by this
        "srcnn.strength_unit": repr(float(STRENGTH_UNIT)),
    }
    onnx.helper.set_model_props(proto, described)
    with atomic_path(target) as temp:
        onnx.save_model(proto, str(temp))


def parser(commands: argparse._SubParsersAction | None = None) -> argparse.ArgumentParser:
    description = "Write a model as an ONNX file (docs/onnx.md)."
    command = (
        commands.add_parser("export", help="write a model as ONNX, for ONNX Runtime", description=description)
        if commands
        else argparse.ArgumentParser(prog="srcnn export", description=description)
    )
    command.add_argument("--onnx", type=Path, required=True, metavar="FILE", help="the ONNX file to write")
    command.add_argument(
        "--model",
        type=Path,
        default=None,
        help="checkpoint (default: the model enhance uses for colour photos: models/srcnn.pt when the "
        "pipeline has trained it, else the shipped colour model)",
    )
    command.add_argument("--overwrite", action="store_true", help="replace FILE if it exists")
    return command


def run(args: argparse.Namespace) -> int:
    """Export; exit status 2 for bad input (the file, the folder, the model), named on stderr."""
    from .enhance import PRETRAINED_COLOUR_MODEL, TRAINED_MODEL

    path = args.model or (TRAINED_MODEL if TRAINED_MODEL.is_file() else PRETRAINED_COLOUR_MODEL)
    try:
        check_target(args.onnx, args.overwrite)
        model, info = load_model(path)
        export_onnx(model, args.onnx, model_scale(info))
    except (OnnxExportError, CheckpointError) as error:
        print(f"srcnn export: error: {error}", file=sys.stderr)
        return 2
    print(f"export: {path} ({arch_of(model)}) → {args.onnx} (ONNX opset {OPSET})", file=sys.stderr)
    return 0
