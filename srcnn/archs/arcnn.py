"""AR-CNN (Dong et al., "Compression Artifacts Reduction by a Deep Convolutional Network", ICCV 2015).

Four convolutions: feature extraction 9×9×64, feature enhancement 7×7×32, mapping 1×1×16,
reconstruction 7×7, with ReLU after the first three. Padding keeps the output the same size as the
input. Here it can also predict the correction (``residual``) and be told the photo's compression
strength (``conditioned``), as SRCNN is; the paper trains one plain model per JPEG quality.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .arch_util import INPUT_OFFSET, strength_plane


class ARCNN(nn.Module):
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
        kernels, filters = tuple(kernels), tuple(filters)
        if len(kernels) != 4 or len(filters) != 3 or any(size % 2 == 0 for size in kernels):
            raise ValueError(f"AR-CNN needs 4 odd kernel sizes and 3 filter counts, got {kernels} and {filters}")
        self.config = dict(
            kernels=list(kernels), filters=list(filters), residual=residual, channels=channels, conditioned=conditioned
        )
        self.residual = residual
        self.conditioned = conditioned
        widths = (channels + int(conditioned), *filters, channels)
        self.layers = nn.ModuleList(
            nn.Conv2d(widths[i], widths[i + 1], kernels[i], padding=kernels[i] // 2) for i in range(4)
        )
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

    def forward(self, x: torch.Tensor, strength: torch.Tensor | float | None = None) -> torch.Tensor:
        y = x - INPUT_OFFSET
        if self.conditioned:
            y = torch.cat([y, strength_plane(x, strength)], dim=1)
        for conv in self.layers[:-1]:
            y = torch.relu(conv(y))
        y = self.layers[-1](y)
        return x + y if self.residual else y

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ARCNN:
        return cls(**config)

    @classmethod
    def from_params(cls, params: Any, channels: int = 1) -> ARCNN:
        return cls(**{key: getattr(params, key) for key in cls.PARAMS}, channels=channels)
