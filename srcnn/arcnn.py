"""AR-CNN (Dong et al., "Compression Artifacts Reduction by a Deep Convolutional Network", ICCV 2015).

Four convolutions on one luma channel in [0, 1]: feature extraction 9×9×64, feature enhancement
7×7×32, mapping 1×1×16, reconstruction 7×7×1, with ReLU after the first three. Padding keeps the
output the same size as the input, so it trains with ``srcnn.train.fit`` and restores whole photos
with ``srcnn.inference.restore_luma`` like SRCNN. Used by ``benchmarks/quality.py`` as a peer.
"""
from __future__ import annotations

import torch
from torch import nn


class ARCNN(nn.Module):
    """The AR-CNN network of the paper (106,945 parameters with the default sizes).

    Args:
        kernels: the four kernel sizes, (9, 7, 1, 7) in the paper; each odd.
        filters: feature maps after the first three layers, (64, 32, 16) in the paper.
        residual: predict ``output - input`` instead of the output itself (off in the paper).
        channels: image channels in and out (1: luma).
    """

    def __init__(self, kernels: tuple[int, int, int, int] = (9, 7, 1, 7),
                 filters: tuple[int, int, int] = (64, 32, 16), residual: bool = False, channels: int = 1) -> None:
        super().__init__()
        if len(kernels) != 4 or len(filters) != 3 or any(size % 2 == 0 for size in kernels):
            raise ValueError(f"AR-CNN needs 4 odd kernel sizes and 3 filter counts, got {kernels} and {filters}")
        self.residual = residual
        widths = (channels, *filters, channels)
        self.layers = nn.ModuleList(nn.Conv2d(widths[i], widths[i + 1], kernels[i], padding=kernels[i] // 2)
                                    for i in range(4))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for conv in self.layers[:-1]:
            nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
            nn.init.zeros_(conv.bias)
        # as SRCNN here: a small last layer, so a residual model starts as the identity
        nn.init.normal_(self.layers[-1].weight, std=1e-3)
        nn.init.zeros_(self.layers[-1].bias)

    @property
    def radius(self) -> int:
        """How far (in pixels) one output pixel sees in each direction."""
        return sum(conv.kernel_size[0] // 2 for conv in self.layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        for conv in self.layers[:-1]:
            y = torch.relu(conv(y))
        y = self.layers[-1](y)
        return x + y if self.residual else y
