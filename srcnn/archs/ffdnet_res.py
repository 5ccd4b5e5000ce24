"""FFDNet's layout with residual blocks: FFDNet (Zhang, Zuo and Zhang, TIP 2018) with the plain
convolution stack replaced by EDSR's residual blocks without batch normalisation (Lim et al.,
"Enhanced Deep Residual Networks for Single Image Super-Resolution", CVPRW 2017).

As in FFDNet the image is folded into four half-resolution sub-images (pixel unshuffle) and the
photo's compression strength is one more input plane; each pair of 3×3 convolutions in between
adds its result to what it was given. The same convolutions, the same cost and the same reach as
an FFDNet of equal depth, but the skips let it learn much faster (measured in docs/architectures.md).
"""

from __future__ import annotations

from typing import cast

import torch
from torch import nn

from .arch_util import Arch, fold, init_hidden, init_last, unfold


class ResidualBlock(nn.Module):
    """Conv 3×3, ReLU, conv 3×3, added to the block's input."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(features, features, 3, padding=1), nn.ReLU(), nn.Conv2d(features, features, 3, padding=1)
        )

    @property
    def convs(self) -> tuple[nn.Conv2d, nn.Conv2d]:
        first, _, second = self.body
        return cast(nn.Conv2d, first), cast(nn.Conv2d, second)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class FFDNetRes(Arch):
    """A head convolution, residual blocks and a tail convolution, at half resolution.

    Args:
        depth: 3×3 convolutions in all, head and tail included: (depth - 2) // 2 blocks; at least 4.
        features: feature maps inside (64).
        residual: predict ``output - input`` instead of the output itself.
        channels: image channels in and out (1: luma).
        conditioned: the head sees the compression strength as one more input plane
            (``forward(x, strength)``).
    """

    # the keys of params.yaml it reads (``depth`` and ``features`` as ffdnet_*, shared with ffdnet)
    PARAMS = ("ffdnet_depth", "ffdnet_features", "residual", "conditioned")
    PARAMS_PREFIX = "ffdnet_"
    # pixels an input window must start on, so that its 2×2 folding matches a whole-photo pass
    align = 2

    def __init__(
        self, depth: int = 12, features: int = 64, residual: bool = True, channels: int = 1, conditioned: bool = True
    ) -> None:
        super().__init__()
        if depth < 4:
            raise ValueError(f"FFDNetRes needs a depth of at least 4 convolutions (one block), got {depth}")
        self.config = dict(
            depth=depth, features=features, residual=residual, channels=channels, conditioned=conditioned
        )
        self.residual = residual
        self.conditioned = conditioned
        self.head = nn.Conv2d(4 * channels + int(conditioned), features, 3, padding=1)
        self.blocks = nn.Sequential(*(ResidualBlock(features) for _ in range((depth - 2) // 2)))
        self.tail = nn.Conv2d(features, 4 * channels, 3, padding=1)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init_hidden(self.head)
        for block in self.blocks:
            first, second = cast(ResidualBlock, block).convs
            init_hidden(first)
            # each block starts as the identity, so the stack starts as shallow as it can be
            nn.init.zeros_(second.weight)
            if second.bias is not None:
                nn.init.zeros_(second.bias)
        init_last(self.tail)

    @property
    def radius(self) -> int:
        """How far (in pixels) one output pixel sees in each direction: each half-resolution 3×3
        convolution adds two pixels, the 2×2 folding one more; rounded up to a multiple of ``align``."""
        return 2 * (2 + 2 * len(self.blocks)) + 2

    def forward(self, x: torch.Tensor, strength: torch.Tensor | float | None = None) -> torch.Tensor:
        y = self.blocks(self.head(fold(x, strength, self.conditioned)))
        y = unfold(self.tail(torch.relu(y)), *x.shape[-2:])
        return x + y if self.residual else y
