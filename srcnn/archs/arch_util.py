"""What every network of the registry shares: a base class (``config``, ``from_config``,
``from_params``), the initialisation of its convolutions, and how it is told a photo's compression
strength."""

from __future__ import annotations

from typing import Any, ClassVar, Self

import torch
from torch import nn

# the first layer of every network sees its input centred on mid-grey, and the strength plane
# centred the same way: zero padding at a photo's borders then means "mid grey, mid strength"
INPUT_OFFSET = 0.5
STRENGTH_OFFSET = 0.5


def strength_plane(like: torch.Tensor, strength: torch.Tensor | float | None) -> torch.Tensor:
    """The constant N×1×H×W plane (the shape of ``like``, one channel) of each image's compression
    strength (a float, or a tensor of shape (N,) or broadcastable to it), centred like the input."""
    if strength is None:
        raise ValueError(
            "this network is conditioned: call it as model(x, strength) with each image's "
            "compression strength (srcnn.jpeg.strength_for_quality / compression_strength)"
        )
    strength = torch.as_tensor(strength, dtype=like.dtype, device=like.device).reshape(-1, 1, 1, 1)
    return (strength - STRENGTH_OFFSET).expand(like.shape[0], 1, *like.shape[2:])


def fold(x: torch.Tensor, strength: torch.Tensor | float | None, conditioned: bool) -> torch.Tensor:
    """FFDNet's input: the image centred, an odd side padded by repeating its last row or column,
    folded into four half-resolution sub-images (pixel unshuffle), and, when ``conditioned``, the
    strength plane beside them."""
    height, width = x.shape[-2:]
    y = torch.nn.functional.pad(x - INPUT_OFFSET, (0, width % 2, 0, height % 2), mode="replicate")
    y = torch.nn.functional.pixel_unshuffle(y, 2)
    return torch.cat([y, strength_plane(y, strength)], dim=1) if conditioned else y


def unfold(y: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Four half-resolution sub-images back into one image of ``height`` × ``width`` (pixel shuffle)."""
    return torch.nn.functional.pixel_shuffle(y, 2)[..., :height, :width]


class Arch(nn.Module):
    """A network of the registry: built from its ``config`` (its constructor's arguments, which
    checkpoints store) or from the keys of params.yaml that size it (``PARAMS``)."""

    # the keys of params.yaml that size the network, passed to the constructor under the same
    # names less PARAMS_PREFIX (params.yaml is flat: ffdnet_depth is FFDNet's depth)
    PARAMS: ClassVar[tuple[str, ...]] = ()
    PARAMS_PREFIX: ClassVar[str] = ""
    config: dict[str, Any]
    residual: bool
    conditioned: bool

    @property
    def radius(self) -> int:
        """How far (in pixels) one output pixel sees in each direction, so that tiled restoration
        equals a whole-photo pass."""
        raise NotImplementedError

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Self:
        return cls(**config)

    @classmethod
    def from_params(cls, params: Any, channels: int = 1) -> Self:
        """The network that the sizes in params.yaml describe (``params``: anything with those attributes)."""
        return cls(
            **{key.removeprefix(cls.PARAMS_PREFIX): getattr(params, key) for key in cls.PARAMS}, channels=channels
        )


def init_hidden(conv: nn.Conv2d) -> None:
    """He initialisation for a convolution followed by a ReLU, and a zero bias."""
    nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)


def init_last(conv: nn.Conv2d) -> None:
    """A small last layer: a residual network starts as the identity, a plain one near zero."""
    nn.init.normal_(conv.weight, std=1e-3)
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)
