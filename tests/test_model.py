from pathlib import Path

import torch

from srcnn.model import SIZE_PARAMS, SRCNN
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
    assert model.config == {**{key: getattr(params, key) for key in SIZE_PARAMS}, "channels": 1}
    assert model.extract.kernel_size == (params.kernel1, params.kernel1)
    assert model.reconstruct.in_channels == params.filters2
