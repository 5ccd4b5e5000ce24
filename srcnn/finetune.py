"""Start training from a trained model instead of from scratch (the ``init`` param).

    model = build_model(params)
    start_from(model, "models/pretrained/restorer.pt")   # its weights, or ValueError saying why not

The checkpoint must be of the same arch and sizes as the network params describe. A luma
checkpoint may also start a colour network (``channels: ycbcr``): its Y paths are copied where the
colour network's Y planes are, the chroma planes start unseen on the way in and unchanged on the
way out (a residual network then starts as the luma model, leaving Cb and Cr as they are), and
training teaches it the chroma. That needs every network of the registry to lay out its input
planes channel by channel (each channel's planes together, the strength plane last) and its output
planes the same way, which they do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from .archs import arch_of, arch_params
from .inference import load_model


def _widened(luma: torch.Tensor, shape: torch.Size, key: str) -> torch.Tensor:
    """A luma network's tensor placed in the Y positions of a colour network's tensor of ``shape``
    (zeros elsewhere): the first layer's input planes (dim 1) or the last layer's outputs (dim 0)."""
    dim = 1 if luma.dim() == 4 and luma.shape[0] == shape[0] else 0
    if luma.dim() != len(shape) or any(
        a != b for i, (a, b) in enumerate(zip(luma.shape, shape, strict=True)) if i != dim
    ):
        raise ValueError(f"{key}: shape {tuple(luma.shape)} cannot become {tuple(shape)}")
    wide = torch.zeros(shape, dtype=luma.dtype)
    if dim == 0:  # outputs: per channel the same planes, Y's first
        wide[: luma.shape[0]] = luma
        return wide
    # inputs: C·k image planes then s extra ones (the strength): luma k + s, colour 3k + s
    planes = (shape[1] - luma.shape[1]) // 2
    extra = luma.shape[1] - planes
    wide[:, :planes] = luma[:, :planes]
    if extra:
        wide[:, -extra:] = luma[:, planes:]
    return wide


def _yaml(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def start_from(model: nn.Module, path: str | Path) -> None:
    """Load the weights of the checkpoint at ``path`` into ``model`` (see the module docstring);
    ValueError naming the file and the param when it cannot start this network."""
    source, info = load_model(path)
    where = f"params init: {path}"
    trained = info.get("params", {})  # the params it was trained with, as the train stage records them
    keys = ("arch", *arch_params(arch_of(source)))
    hint = (
        " (it was trained with " + " ".join(f"-S {key}={_yaml(trained[key])}" for key in keys) + ")"
        if all(key in trained for key in keys)
        else ""
    )
    if arch_of(source) != arch_of(model):
        raise ValueError(f"{where} is a {arch_of(source)} model, but params arch is {arch_of(model)}{hint}")
    ours, theirs = dict(cast(dict[str, Any], model.config)), dict(cast(dict[str, Any], source.config))
    ours_channels, their_channels = ours.pop("channels", 1), theirs.pop("channels", 1)
    if ours != theirs:
        differ = ", ".join(
            f"{key} {theirs.get(key)} (params: {ours.get(key)})"
            for key in sorted(set(ours) | set(theirs))
            if ours.get(key) != theirs.get(key)
        )
        raise ValueError(f"{where} has other sizes than params give this {arch_of(model)}: {differ}{hint}")
    if their_channels == ours_channels:
        model.load_state_dict(source.state_dict())
        return
    if (their_channels, ours_channels) != (1, 3):
        names = {1: "y", 3: "ycbcr"}
        raise ValueError(
            f"{where} restores {their_channels} channels (channels: {names.get(their_channels, their_channels)}), "
            f"but params channels is {names.get(ours_channels, ours_channels)}; it can start a model of as many, "
            f"or a luma model can start a colour one"
        )
    if not ours.get("residual", False):
        raise ValueError(
            f"{where} is a luma model: it can start a colour model only with residual: true "
            f"(the chroma must start unchanged)"
        )
    target = model.state_dict()
    state = {
        key: value if value.shape == target[key].shape else _widened(value, target[key].shape, key)
        for key, value in source.state_dict().items()
    }
    model.load_state_dict(state)
