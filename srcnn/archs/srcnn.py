"""SRCNN (Dong et al., ECCV 2014): three convolutions that map a degraded image to a clean one.

Padding keeps the output the same size as the input, so whole photos go through in one pass and
tiles never shrink; with ``residual`` the network predicts the correction added to its input.
With ``conditioned`` the first layer also sees how strongly the photo was compressed
(``srcnn.jpeg.compression_strength``) as a constant second input plane, so one model restores
photos of every JPEG quality without over- or under-correcting them.
"""

from __future__ import annotations

import torch
from torch import nn

from .arch_util import INPUT_OFFSET, STRENGTH_OFFSET, Arch, init_hidden, init_last, strength_plane


class SRCNN(Arch):
    """Patch extraction, non-linear mapping and reconstruction, on images in [0, 1] (luma, or YCbCr)
    (the first layer sees the input minus 0.5).

    Args:
        kernel1: size of the patch-extraction kernel (9 in the paper).
        kernel2: size of the mapping kernel (1 in 9-1-5, 5 in 9-5-5).
        kernel3: size of the reconstruction kernel (5).
        filters1: feature maps after the first layer (64).
        filters2: feature maps after the second layer (32).
        residual: predict ``output - input`` instead of the output itself.
        channels: image channels in and out (1: luma).
        conditioned: the first layer sees one more input channel, a constant plane of the photo's
            compression strength (``forward(x, strength)``); without it, strength is ignored.
    """

    # the keys of params.yaml that size the network
    PARAMS = ("kernel1", "kernel2", "kernel3", "filters1", "filters2", "residual", "conditioned")
    # the first layer sees the input centred on mid-grey: the same function class, but Adam converges
    # faster; the int8 path (srcnn/quantized.py) reads it from here
    input_offset = INPUT_OFFSET
    # the strength plane is centred the same way: the int8 path quantizes both planes with one scale
    strength_offset = STRENGTH_OFFSET

    def __init__(
        self,
        kernel1: int = 9,
        kernel2: int = 1,
        kernel3: int = 5,
        filters1: int = 64,
        filters2: int = 32,
        residual: bool = False,
        channels: int = 1,
        conditioned: bool = False,
    ) -> None:
        super().__init__()
        self.config = dict(
            kernel1=kernel1,
            kernel2=kernel2,
            kernel3=kernel3,
            filters1=filters1,
            filters2=filters2,
            residual=residual,
            channels=channels,
            conditioned=conditioned,
        )
        self.residual = residual
        self.conditioned = conditioned
        self.extract = nn.Conv2d(channels + int(conditioned), filters1, kernel1, padding=kernel1 // 2)
        self.map = nn.Conv2d(filters1, filters2, kernel2, padding=kernel2 // 2)
        self.reconstruct = nn.Conv2d(filters2, channels, kernel3, padding=kernel3 // 2)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init_hidden(self.extract)
        init_hidden(self.map)
        init_last(self.reconstruct)

    @property
    def radius(self) -> int:
        """How far (in pixels) one output pixel sees in each direction: the receptive field's radius."""
        return sum(conv.kernel_size[0] // 2 for conv in (self.extract, self.map, self.reconstruct))

    def forward(self, x: torch.Tensor, strength: torch.Tensor | float | None = None) -> torch.Tensor:
        """``x``: N×C×H×W in [0, 1]; ``strength``: each image's compression strength, shape (N,) or
        broadcastable (a float for all), required when conditioned and ignored otherwise."""
        centred = x - self.input_offset
        if self.conditioned:
            centred = torch.cat([centred, strength_plane(x, strength)], dim=1)
        y = torch.relu(self.extract(centred))
        y = torch.relu(self.map(y))
        y = self.reconstruct(y)
        return x + y if self.residual else y
