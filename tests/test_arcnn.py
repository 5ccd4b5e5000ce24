"""AR-CNN peer network: the paper's layer shapes, same-size output, trainable by fit()."""
from __future__ import annotations

import pytest
import torch

from srcnn.arcnn import ARCNN
from srcnn.inference import restore_luma
from srcnn.params import params_with
from srcnn.train import fit


def test_layer_shapes_match_the_paper() -> None:
    model = ARCNN()
    shapes = [tuple(conv.weight.shape) for conv in model.layers]
    assert shapes == [(64, 1, 9, 9), (32, 64, 7, 7), (16, 32, 1, 1), (1, 16, 7, 7)]
    assert sum(p.numel() for p in model.parameters()) == 106_945
    assert model.radius == 4 + 3 + 0 + 3


@pytest.mark.parametrize("residual", [False, True])
def test_output_has_the_input_size(residual: bool) -> None:
    model = ARCNN(kernels=(5, 3, 1, 3), filters=(8, 4, 4), residual=residual)
    x = torch.rand(2, 1, 17, 23)
    assert model(x).shape == x.shape


def test_residual_starts_near_the_identity() -> None:
    torch.manual_seed(0)  # unseeded, about 1 init in 30 strays past the bound
    x = torch.rand(1, 1, 20, 20)
    assert (ARCNN(residual=True)(x) - x).abs().max() < 0.05


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="odd"):
        ARCNN(kernels=(9, 6, 1, 7))


def test_fit_trains_it_and_restore_luma_runs_it() -> None:
    generator = torch.Generator().manual_seed(0)
    clean = torch.randint(0, 256, (6, 1, 32, 32), generator=generator, dtype=torch.uint8)
    degraded = (clean.float() * 0.8 + 20).to(torch.uint8)
    pairs = torch.cat([clean, degraded], dim=1)
    params = params_with(epochs=2, steps_per_epoch=3, batch_size=4, crop=16, tile=32, stride=16,
                         warmup_steps=1, precision="fp32")
    model = ARCNN(kernels=(5, 3, 1, 3), filters=(8, 4, 4))
    before = [p.detach().clone() for p in model.parameters()]
    history = fit(model, pairs, pairs, params)
    assert len(history.epochs) == 2 and history.steps == 6
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    restored = restore_luma(model, degraded[0, 0].numpy(), tile=16)
    assert restored.shape == (32, 32)
