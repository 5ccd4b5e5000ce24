"""A broken model, a boundless checkpoint or a tangled folder never makes a photo worse:
python -m pytest tests/test_safety.py"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import ROOT, synthetic_photo
from PIL import Image
from test_enhance import busy_model, enhance, write_model

from srcnn.inference import CheckpointError, load_model, save_model


def jpeg(path, seed: int = 1, quality: int = 30):
    Image.fromarray(synthetic_photo(seed, 48, 64)).save(path, quality=quality)
    return path


@pytest.mark.parametrize("fill", [math.nan, math.inf, 0.0])
def test_a_broken_model_writes_nothing_changed_and_is_named(tmp_path, fill):
    model = busy_model()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.fill_(fill)
    save_model(tmp_path / "broken.pt", model, info={"params": {"scale": 1}})
    photo = jpeg(tmp_path / "photo.jpg")
    result = enhance(str(photo), "-o", str(tmp_path / "out"), "--model", str(tmp_path / "broken.pt"), cwd=ROOT)
    assert result.returncode == 1, result.stderr
    assert "broken.pt" in result.stderr and "broken" in result.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_model_whose_output_is_far_from_its_input_leaves_the_photo_unchanged(tmp_path):
    model = busy_model()
    assert model.reconstruct.bias is not None
    with torch.no_grad():
        model.reconstruct.bias.fill_(5.0)  # finite weights, a white photo out
    save_model(tmp_path / "white.pt", model, info={"params": {"scale": 1}})
    photo = jpeg(tmp_path / "photo.jpg")
    result = enhance(str(photo), "-o", str(tmp_path / "out"), "--model", str(tmp_path / "white.pt"), cwd=ROOT)
    assert result.returncode == 1, result.stderr
    assert "photo.jpg" in result.stderr and "white.pt" in result.stderr and "unchanged" in result.stderr
    with Image.open(tmp_path / "out" / "photo.png") as written, Image.open(photo) as original:
        assert np.array_equal(np.asarray(written), np.asarray(original.convert("RGB")))


@pytest.mark.parametrize(
    ("info", "field"),
    [
        ({"params": {"scale": 100}}, "info.params.scale"),
        ({"params": {"scale": "2"}}, "info.params.scale"),
        ({"params": [1, 2]}, "info.params"),
        ([1, 2], "'info'"),
        ({"params": {"jpeg_quality": "high"}}, "info.params.jpeg_quality"),
    ],
)
def test_a_checkpoint_out_of_bounds_is_refused_naming_the_field(tmp_path, info, field):
    save_model(tmp_path / "m.pt", busy_model())
    state = torch.load(tmp_path / "m.pt", weights_only=True)
    state["info"] = info
    torch.save(state, tmp_path / "m.pt")
    with pytest.raises(CheckpointError, match=field):
        load_model(tmp_path / "m.pt")
    photo = jpeg(tmp_path / "photo.jpg")
    result = enhance(str(photo), "-o", str(tmp_path / "out"), "--model", str(tmp_path / "m.pt"), cwd=ROOT)
    assert result.returncode == 2 and field in result.stderr and "Traceback" not in result.stderr


def test_the_enlarged_size_is_under_the_pixel_cap(tmp_path, monkeypatch):
    import srcnn.enhance as enhance_module

    monkeypatch.setattr(enhance_module, "MAX_PIXELS", 48 * 64 * 4 - 1)  # one pixel short of the x2 output
    model = write_model(tmp_path / "x2.pt", scale=2)
    photo = jpeg(tmp_path / "photo.jpg")
    args = enhance_module.parser().parse_args([str(photo), "-o", str(tmp_path / "out"), "--model", str(model)])
    assert enhance_module.run(args) == 1
    assert not (tmp_path / "out" / "photo.png").exists()


def test_an_output_folder_inside_the_input_folder_is_left_out_on_every_run(tmp_path, capsys):
    folder = tmp_path / "nest"
    folder.mkdir()
    for seed in range(2):
        jpeg(folder / f"p{seed}.jpg", seed)
    model = write_model(tmp_path / "model.pt")
    outputs = []
    for _ in range(3):
        result = enhance(
            str(folder), "-o", str(folder / "out"), "--model", str(model), "--overwrite", "--force", cwd=ROOT
        )
        assert result.returncode == 0, result.stderr
        outputs.append({path.name: path.read_bytes() for path in (folder / "out").iterdir()})
    assert outputs[0] == outputs[1] == outputs[2] and sorted(outputs[0]) == ["p0.png", "p1.png"]
    assert "output folder lies inside" in result.stderr
    assert not (folder / "out" / "out").exists()


def test_a_key_written_twice_in_params_yaml_is_refused_naming_it_and_its_lines(tmp_path):
    from srcnn.params import DEFAULTS, ParamsError, load_params

    text = DEFAULTS.read_text()
    (tmp_path / "params.yaml").write_text(text + "epochs: 3\n")
    line = len(text.splitlines()) + 1
    with pytest.raises(ParamsError, match=rf"'epochs' is written twice \(lines \d+ and {line}\)"):
        load_params(tmp_path / "params.yaml")
    (tmp_path / "params.yaml").write_text(text)
    load_params(tmp_path / "params.yaml")


def test_ctrl_c_ends_with_exit_130_and_one_line(tmp_path):
    import subprocess
    import sys

    script = (
        "import sys, srcnn.enhance as e, srcnn.__main__ as m\n"
        "def stop(args): raise KeyboardInterrupt\n"
        "e.run = stop\n"
        "sys.exit(m.main(['enhance', 'x.jpg', '-o', 'out']))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 130
    assert "Traceback" not in result.stderr and result.stderr.strip() == "python -m srcnn enhance: interrupted"


def test_nan_weights_given_as_init_are_named_as_a_broken_model(tmp_path):
    from srcnn.finetune import start_from

    model = busy_model()
    with torch.no_grad():
        model.reconstruct.weight.fill_(math.nan)
    save_model(tmp_path / "init.pt", model, info={"params": {"scale": 1}})
    with pytest.raises(ValueError, match=r"init\.pt: the model is broken: its weights reconstruct\.weight hold NaN"):
        start_from(busy_model(), tmp_path / "init.pt")


def test_recoloured_copies_are_split_with_their_source(tmp_path):
    import re
    import subprocess
    import sys

    from conftest import write_photos

    from srcnn.params import DEFAULTS, load_params
    from srcnn.photos import assign_split, find_photos

    write_photos(tmp_path / "photos", count=12)
    command = [sys.executable, "-m", "benchmarks.recolour", str(tmp_path / "photos"), "--out", str(tmp_path / "copies")]
    subprocess.run([*command, "--copies", "3", "--params", str(DEFAULTS)], cwd=ROOT, check=True, capture_output=True)
    photos, _ = find_photos([tmp_path / "photos", tmp_path / "copies"])
    params = load_params(DEFAULTS)
    split = assign_split(photos, params.val_fraction, params.seed)
    groups: dict[str, set[str]] = {}
    for photo in photos:
        groups.setdefault(re.sub(r"-c\d+$", "", photo.path.stem), set()).add(split[photo.name])
    assert len(photos) > 12 and "val" in split.values()
    assert [group for group, splits in groups.items() if len(splits) > 1] == []
