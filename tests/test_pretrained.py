"""The model that ships with the project: a fresh clone restores a JPEG with it in one command,
before any training; once the pipeline has trained its own, that one is used."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import ROOT, dvc, run, synthetic_photo
from PIL import Image

from srcnn.archs import channels_of
from srcnn.color import rgb_to_y, to_gray_u8
from srcnn.gate import gate_path, read_gate
from srcnn.inference import load_model, restore_rgb
from srcnn.jpeg import compression_strength, luma_qtable
from srcnn.metrics import psnr

SHIPPED = ROOT / "models" / "pretrained" / "restorer.pt"  # luma: gray photos
SHIPPED_COLOUR = ROOT / "models" / "pretrained" / "restorer-colour.pt"  # YCbCr: colour photos


@pytest.mark.parametrize("shipped, channels", [(SHIPPED, 1), (SHIPPED_COLOUR, 3)])
def test_the_shipped_models_are_small_declared_and_evaluated(shipped, channels):
    assert shipped.stat().st_size <= 4 * 1024 * 1024
    model, info = load_model(shipped)
    assert channels_of(model) == channels
    gate = read_gate(gate_path(shipped), shipped)  # its own ladder, for this very file
    assert gate is not None and any(gate.rungs.values())
    artifacts = yaml.safe_load((ROOT / "dvc.yaml").read_text())["artifacts"]
    assert any(artifact["path"] == str(shipped.relative_to(ROOT)) for artifact in artifacts.values())


def test_enhance_restores_colour_photos_with_the_colour_model_and_gray_ones_with_the_luma_model(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # run from a folder with no models/srcnn.pt of its own
    clean = synthetic_photo(4, 96, 128)
    Image.fromarray(clean).save(tmp_path / "colour.jpg", quality=20)
    Image.fromarray(rgb_to_y(clean).round().astype(np.uint8)).save(tmp_path / "gray.jpg", quality=20)
    result = run(
        [
            sys.executable,
            "-m",
            "srcnn",
            "enhance",
            str(tmp_path / "colour.jpg"),
            str(tmp_path / "gray.jpg"),
            "-o",
            str(tmp_path / "out"),
            "--precision",
            "fp32",
        ],
        cwd=tmp_path,
    )
    assert "restorer-colour.pt for colour photos" in result.stderr and "restorer.pt for gray ones" in result.stderr
    for name, shipped in (("colour", SHIPPED_COLOUR), ("gray", SHIPPED)):
        with Image.open(tmp_path / f"{name}.jpg") as jpeg, Image.open(tmp_path / "out" / f"{name}.png") as restored:
            strength = compression_strength(luma_qtable(jpeg))
            rgb, written = np.asarray(jpeg.convert("RGB")), np.asarray(restored)
        expected = restore_rgb(load_model(shipped)[0], rgb, strength=strength)
        assert np.array_equal(written, expected if name == "colour" else to_gray_u8(expected))


def test_a_fresh_clone_restores_a_jpeg_with_the_shipped_model(make_project, tmp_path):
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(make_project()), str(clone)], cwd=tmp_path)
    clean = synthetic_photo(3, 160, 200)
    Image.fromarray(clean).save(tmp_path / "photo.jpg", quality=20)
    result = run(
        [sys.executable, "-m", "srcnn", "enhance", str(tmp_path / "photo.jpg"), "-o", str(tmp_path / "out")], cwd=clone
    )
    assert "models/pretrained/restorer-colour.pt" in result.stderr and "shipped" in result.stderr, result.stderr
    with Image.open(tmp_path / "photo.jpg") as jpeg, Image.open(tmp_path / "out" / "photo.png") as restored:
        before, after = np.asarray(jpeg.convert("RGB")), np.asarray(restored.convert("RGB"))
    reference = rgb_to_y(clean)
    assert psnr(reference, rgb_to_y(after)) > psnr(reference, rgb_to_y(before)) + 0.3

    dvc("repro", cwd=clone)  # the pipeline's own model, once trained, is the default
    again = run(
        [sys.executable, "-m", "srcnn", "enhance", str(tmp_path / "photo.jpg"), "-o", str(tmp_path / "own"), "--force"],
        cwd=clone,
    )
    assert f"model {Path('models/srcnn.pt')}" in again.stderr and "trained by this project" in again.stderr, (
        again.stderr
    )
