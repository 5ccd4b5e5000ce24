"""What every network of the registry shares: how it is told a photo's compression strength."""

from __future__ import annotations

import torch

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
