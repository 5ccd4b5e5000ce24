"""FFDNet (Zhang, Zuo and Zhang, "FFDNet: Toward a Fast and Flexible Solution for CNN-based Image
Denoising", TIP 2018), for compression artifacts.

The image is folded into four half-resolution sub-images (pixel unshuffle), which a plain stack
of 3×3 convolutions with ReLU maps to four corrections, unfolded back (pixel shuffle). At half
resolution each layer costs a quarter and sees twice as far. FFDNet's noise-level map is here
the photo's compression strength, one more input plane, so one network restores every JPEG
quality. Batch normalisation is left out: with a residual output and Adam it is not needed, and
a network without it computes the same on a tile as on a whole photo.
"""

from __future__ import annotations

import torch
from torch import nn

from .arch_util import Arch, fold, init_hidden, init_last, unfold


class FFDNet(Arch):
    """A stack of ``depth`` 3×3 convolutions at half resolution.

    Args:
        depth: convolutions in all (15 for gray images in the paper), at least 3.
        features: feature maps of the hidden layers (64 for gray in the paper).
        residual: predict ``output - input`` instead of the output itself (off in the paper).
        channels: image channels in and out (1: luma).
        conditioned: the first layer sees the compression strength as one more input plane
            (``forward(x, strength)``), as the paper's noise-level map.
    """

    # the keys of params.yaml it reads (``depth`` and ``features`` as ffdnet_*)
    PARAMS = ("ffdnet_depth", "ffdnet_features", "residual", "conditioned")
    PARAMS_PREFIX = "ffdnet_"
    # pixels an input window must start on, so that its 2×2 folding matches a whole-photo pass
    align = 2

    def __init__(
        self, depth: int = 15, features: int = 64, residual: bool = True, channels: int = 1, conditioned: bool = True
    ) -> None:
        super().__init__()
        if depth < 3:
            raise ValueError(f"FFDNet needs a depth of at least 3 convolutions, got {depth}")
        self.config = dict(
            depth=depth, features=features, residual=residual, channels=channels, conditioned=conditioned
        )
        self.residual = residual
        self.conditioned = conditioned
        layers: list[nn.Module] = [nn.Conv2d(4 * channels + int(conditioned), features, 3, padding=1), nn.ReLU()]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(features, features, 3, padding=1), nn.ReLU()]
        layers.append(nn.Conv2d(features, 4 * channels, 3, padding=1))
        self.body = nn.Sequential(*layers)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        convs = [layer for layer in self.body if isinstance(layer, nn.Conv2d)]
        for conv in convs[:-1]:
            init_hidden(conv)
        init_last(convs[-1])

    @property
    def radius(self) -> int:
        """How far (in pixels) one output pixel sees in each direction: each half-resolution 3×3
        layer adds two pixels, the 2×2 folding one more; rounded up to a multiple of ``align``."""
        return 2 * self.config["depth"] + 2

    def forward(self, x: torch.Tensor, strength: torch.Tensor | float | None = None) -> torch.Tensor:
        y = unfold(self.body(fold(x, strength, self.conditioned)), *x.shape[-2:])
        return x + y if self.residual else y
