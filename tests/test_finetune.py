"""The `init` param: training starts from a trained model of the same arch and sizes, and a luma
model starts a colour one that restores luma as it did and leaves the chroma as it was."""

from __future__ import annotations

import sys

import pytest
import torch
from conftest import SMALL_ARCHS, run

from srcnn.archs import ARCHS
from srcnn.finetune import start_from
from srcnn.inference import CheckpointError, save_model
from srcnn.params import ParamsError, params_with


def trained_like(arch: str, channels: int = 1, seed: int = 0, **extra) -> torch.nn.Module:
    """A small network with every weight random (no layer left at its identity start), as a trained one."""
    torch.manual_seed(seed)
    model = ARCHS[arch](**{**SMALL_ARCHS[arch], "residual": True, "conditioned": True, "channels": channels, **extra})
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0, 0.1)
    return model.eval()


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_a_luma_model_starts_a_colour_one_that_restores_luma_as_it_did_and_keeps_the_chroma(arch, tmp_path):
    luma = trained_like(arch)
    save_model(tmp_path / "luma.pt", luma)
    colour = trained_like(arch, channels=3, seed=1)
    start_from(colour, tmp_path / "luma.pt")
    ycbcr = torch.rand(2, 3, 20, 26)
    with torch.no_grad():
        restored = colour(ycbcr, torch.tensor([0.2, 0.7]))
        expected_y = luma(ycbcr[:, :1], torch.tensor([0.2, 0.7]))
    assert not torch.allclose(expected_y, ycbcr[:, :1], atol=1e-3)  # the luma model does change the luma
    torch.testing.assert_close(restored[:, :1], expected_y, rtol=1e-5, atol=1e-5)
    assert torch.equal(restored[:, 1:], ycbcr[:, 1:])


@pytest.mark.parametrize("channels", [1, 3])
def test_a_model_of_the_same_channels_starts_with_exactly_its_weights(channels, tmp_path):
    source = trained_like("ffdnet_res", channels=channels)
    save_model(tmp_path / "model.pt", source)
    model = trained_like("ffdnet_res", channels=channels, seed=1)
    start_from(model, tmp_path / "model.pt")
    for key, value in source.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key


def test_a_model_that_cannot_start_the_network_is_refused_naming_the_file_and_why(tmp_path):
    trained_with = {
        "arch": "srcnn",
        "kernel1": 5,
        "kernel2": 3,
        "kernel3": 3,
        "filters1": 8,
        "filters2": 4,
        "residual": True,
        "conditioned": True,
        "lr": 0.001,
    }
    save_model(tmp_path / "srcnn.pt", trained_like("srcnn"), info={"params": trained_with})
    save_model(tmp_path / "colour.pt", trained_like("ffdnet_res", channels=3))
    save_model(tmp_path / "plain.pt", trained_like("ffdnet_res", residual=False))
    wide = {**SMALL_ARCHS["ffdnet_res"], "features": 16}
    cases = [
        (
            tmp_path / "srcnn.pt",
            ARCHS["ffdnet_res"](**SMALL_ARCHS["ffdnet_res"]),
            "is a srcnn model, but params arch is ffdnet_res "
            r"\(it was trained with -S arch=srcnn -S kernel1=5 -S kernel2=3 -S kernel3=3 -S filters1=8 -S filters2=4 "
            r"-S residual=true -S conditioned=true\)",
        ),
        (tmp_path / "colour.pt", ARCHS["ffdnet_res"](**wide, channels=3), r"features 8 \(params: 16\)"),
        (tmp_path / "colour.pt", ARCHS["ffdnet_res"](**SMALL_ARCHS["ffdnet_res"]), "restores 3 channels"),
        (
            tmp_path / "plain.pt",
            ARCHS["ffdnet_res"](**SMALL_ARCHS["ffdnet_res"], residual=False, channels=3),
            "only with residual: true",
        ),
    ]
    for path, model, reason in cases:
        with pytest.raises(ValueError, match=reason) as error:
            start_from(model, path)
        assert f"params init: {path}" in str(error.value)
    with pytest.raises(CheckpointError, match="missing.pt: no such model file"):
        start_from(ARCHS["srcnn"](), tmp_path / "missing.pt")


def test_init_is_a_checkpoint_path_or_null():
    assert params_with(init="models/pretrained/restorer.pt").init == "models/pretrained/restorer.pt"
    assert params_with(init=None).init is None
    for wrong in ("", "  ", 3, True, ["a.pt"]):
        with pytest.raises(ParamsError, match="init=.* the path of a model checkpoint"):
            params_with(init=wrong)


@pytest.mark.parametrize(
    "overrides, reason",
    [
        (
            {"init": "models/pretrained/restorer.pt"},
            "params init: models/pretrained/restorer.pt is a ffdnet_res model, but params arch is srcnn "
            "(it was trained with -S arch=ffdnet_res",
        ),
        (
            {"init": "models/pretrained/restorer-colour.pt", "arch": "ffdnet_res", "ffdnet_depth": 16},
            "params init: models/pretrained/restorer-colour.pt restores 3 channels (channels: ycbcr), "
            "but params channels is y",
        ),
    ],
)
def test_a_wrong_init_is_told_naming_the_model_and_the_params_before_any_tile_is_read(make_project, overrides, reason):
    project = make_project(**overrides)  # no tiles yet: the train stage stops at the init, before looking for them
    result = run([sys.executable, "-m", "stages.train"], cwd=project, check=False)
    assert result.returncode == 1 and reason in result.stderr, result.stderr
    assert "tiles" not in result.stderr and not (project / "models" / "srcnn.pt").exists()
