"""AR-CNN (Dong et al., "Compression Artifacts Reduction by a Deep Convolutional Network", ICCV 2015).

Four convolutions: feature extraction 9×9×64, feature enhancement 7×7×32, mapping 1×1×16,
reconstruction 7×7, with ReLU after the first three. Padding keeps the output the same size as the
input. Here it can also predict the correction (``residual``) and be told the photo's compression
strength (``conditioned``), as SRCNN is; the paper trains one plain model per JPEG quality.
"""

from __future__ import annotations

from typing import cast

import torch
from torch import nn

from .arch_util import INPUT_OFFSET, Arch, init_hidden, init_last, strength_plane


class ARCNN(Arch):
    """The AR-CNN network of the paper (106,945 parameters with the default sizes, one channel).

    Args:
        kernels: the four kernel sizes, (9, 7, 1, 7) in the paper; each odd.
        filters: feature maps after the first three layers, (64, 32, 16) in the paper.
        residual: predict ``output - input`` instead of the output itself (off in the paper).
        channels: image channels in and out (1: luma).
        conditioned: the first layer sees one more input channel, a constant plane of the photo's
            compression strength (``forward(x, strength)``).
    """

    # the keys of params.yaml it reads; its sizes are the paper's
    PARAMS = ("residual", "conditioned")

    def __init__(
        self,
        kernels: tuple[int, int, int, int] = (9, 7, 1, 7),
        filters: tuple[int, int, int] = (64, 32, 16),
        residual: bool = False,
        channels: int = 1,
        conditioned: bool = False,
    ) -> None:
        super().__init__()
        sizes, counts = tuple(kernels), tuple(filters)  # a checkpoint's config holds lists
        if len(sizes) != 4 or len(counts) != 3 or any(size % 2 == 0 for size in sizes):
            raise ValueError(f"AR-CNN needs 4 odd kernel sizes and 3 filter counts, got {sizes} and {counts}")
        self.config = dict(
            kernels=list(sizes), filters=list(counts), residual=residual, channels=channels, conditioned=conditioned
        )
        self.residual = residual
        self.conditioned = conditioned
        widths = (channels + int(conditioned), *counts, channels)
        self.layers = nn.ModuleList(
            nn.Conv2d(widths[i], widths[i + 1], sizes[i], padding=sizes[i] // 2) for i in range(4)
        )
        self.reset_parameters()

    @property
    def convs(self) -> list[nn.Conv2d]:
        return [cast(nn.Conv2d, conv) for conv in self.layers]

    def reset_parameters(self) -> None:
        for conv in self.convs[:-1]:
            init_hidden(conv)
        init_last(self.convs[-1])  # as SRCNN here: a residual model starts as the identity

    @property
    def radius(self) -> int:
        """How far (in pixels) one output pixel sees in each direction."""
        return sum(conv.kernel_size[0] // 2 for conv in self.convs)

    def forward(self, x: torch.Tensor, strength: torch.Tensor | float | None = None) -> torch.Tensor:
        y = x - INPUT_OFFSET
        if self.conditioned:
            y = torch.cat([y, strength_plane(x, strength)], dim=1)
        for conv in self.layers[:-1]:
            y = torch.relu(conv(y))
        y = self.layers[-1](y)
        return x + y if self.residual else y
