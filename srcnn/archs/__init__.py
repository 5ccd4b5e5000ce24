"""The networks a model can be, one file each (only the network), chosen by the ``arch`` param.

    model = build_model(params)                      # the network params.yaml describes
    model = from_config("ffdnet", {"depth": 12})     # as a checkpoint records it
    arch_of(model)                                   # "ffdnet"
    channels_of(model)                               # 1: luma; 3: YCbCr (params channels: ycbcr)

Every network maps N×C×H×W images in [0, 1] to images of the same size, takes the photos'
compression strengths as ``model(x, strength)`` when ``conditioned``, and has ``config`` (its
constructor's arguments, stored in checkpoints) and ``radius`` (how far an output pixel sees,
so that tiled restoration equals a whole-photo pass).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from .arch_util import Arch
from .arcnn import ARCNN
from .ffdnet import FFDNet
from .ffdnet_res import FFDNetRes
from .srcnn import SRCNN

ARCHS: dict[str, type[Arch]] = {"srcnn": SRCNN, "arcnn": ARCNN, "ffdnet": FFDNet, "ffdnet_res": FFDNetRes}


def build_model(params: Any) -> Arch:
    """A new network of the ``arch`` that params names, sized by that arch's own params; on luma, or
    on all three channels of YCbCr with ``channels: ycbcr`` (the one place that decides it)."""
    return ARCHS[params.arch].from_params(params, channels=3 if params.channels == "ycbcr" else 1)


def from_config(arch: str, config: dict[str, Any]) -> Arch:
    """The network a checkpoint describes; ValueError for an arch this code does not have."""
    if arch not in ARCHS:
        raise ValueError(f"unknown arch {arch!r}; this code has {', '.join(ARCHS)}")
    return ARCHS[arch].from_config(config)


def arch_of(model: nn.Module) -> str:
    """The registry name of a network (through DistributedDataParallel's wrapper too)."""
    model = getattr(model, "module", model)
    for name, cls in ARCHS.items():
        if type(model) is cls:
            return name
    raise ValueError(f"{type(model).__name__} is not a network of srcnn.archs ({', '.join(ARCHS)})")


def channels_of(model: nn.Module) -> int:
    """The image channels a network restores (1: luma; 3: YCbCr), as its config records them."""
    return int(getattr(getattr(model, "module", model), "config", {}).get("channels", 1))


def arch_params(arch: str) -> tuple[str, ...]:
    """The keys of params.yaml that size a network of ``arch``."""
    return ARCHS[arch].PARAMS


def align_of(model: nn.Module) -> int:
    """The pixel grid an input window must start on (2 for a network that works at half resolution)."""
    return getattr(model, "align", 1)
