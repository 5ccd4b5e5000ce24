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
        raise ValueError("this network is conditioned: call it as model(x, strength) with each image's "
                         "compression strength (srcnn.jpeg.strength_for_quality / compression_strength)")
    strength = torch.as_tensor(strength, dtype=like.dtype, device=like.device).reshape(-1, 1, 1, 1)
    return (strength - STRENGTH_OFFSET).expand(like.shape[0], 1, *like.shape[2:])
