from pathlib import Path

import pytest
import torch

from srcnn.archs import SRCNN
from srcnn.params import load_params


def test_output_is_the_same_size_as_the_input_for_any_shape():
    model = SRCNN(9, 5, 5, 8, 4)
    for height, width in ((33, 47), (128, 128), (20, 9)):
        assert model(torch.rand(2, 1, height, width)).shape == (2, 1, height, width)


def test_receptive_field_is_the_sum_of_kernel_radii():
    torch.manual_seed(0)
    model = SRCNN(9, 1, 5, 8, 4)
    assert model.radius == 4 + 0 + 2
    for conv in (model.extract, model.map, model.reconstruct):  # make every weight count
        torch.nn.init.uniform_(conv.weight, 0.1, 0.2)
    image = torch.rand(1, 1, 41, 41)
    changed = image.clone()
    changed[0, 0, 20, 20] += 1.0
    difference = (model(changed) - model(image)).abs()[0, 0] > 0
    rows, cols = torch.nonzero(difference, as_tuple=True)
    assert rows.min() == 20 - 6 and rows.max() == 20 + 6 and cols.min() == 14 and cols.max() == 26


def test_residual_model_starts_close_to_the_identity():
    image = torch.rand(1, 1, 32, 32)
    assert (SRCNN(residual=True)(image) - image).abs().max() < 0.05


def test_from_params_builds_the_network_params_yaml_describes():
    params = load_params(Path(__file__).resolve().parents[1] / "params.yaml")
    model = SRCNN.from_params(params)
    assert model.config == {**{key: getattr(params, key) for key in SRCNN.PARAMS}, "channels": 1}
    assert model.extract.kernel_size == (params.kernel1, params.kernel1)
    assert model.reconstruct.in_channels == params.filters2


def test_a_conditioned_model_sees_the_strength_and_a_plain_one_ignores_it():
    torch.manual_seed(0)
    model = SRCNN(5, 1, 3, 8, 4, residual=True, conditioned=True)
    assert model.extract.in_channels == 2 and model.config["conditioned"] is True
    torch.nn.init.normal_(model.reconstruct.weight, std=0.05)
    image = torch.rand(3, 1, 20, 24)
    low, high = model(image, torch.zeros(3)), model(image, torch.ones(3))
    assert low.shape == image.shape and (low - high).abs().max() > 1e-3
    mixed = model(image, torch.tensor([0.0, 1.0, 0.0]))  # one strength per image
    assert torch.allclose(mixed[0], low[0]) and torch.allclose(mixed[1], high[1])
    assert torch.allclose(model(image, 1.0), high) and torch.allclose(model(image, torch.ones(3, 1)), high)
    with pytest.raises(ValueError, match="conditioned"):
        model(image)

    plain = SRCNN(5, 1, 3, 8, 4, residual=True)
    assert plain.extract.in_channels == 1 and plain.config["conditioned"] is False
    assert torch.equal(plain(image), plain(image, torch.ones(3)))


def test_conditioning_keeps_the_receptive_field_and_old_configs_load():
    assert SRCNN(9, 5, 5, 8, 4, conditioned=True).radius == SRCNN(9, 5, 5, 8, 4).radius
    old = {"kernel1": 5, "kernel2": 1, "kernel3": 3, "filters1": 8, "filters2": 4, "residual": True, "channels": 1}
    assert SRCNN.from_config(old).conditioned is False
