"""The models that ship with the project: a fresh clone restores a JPEG with them in one command,
before any training; once the pipeline has trained its own, that one takes their place only for
the photo kinds and qualities where its evaluation beat them; a missing or damaged one is named."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import ROOT, dvc, run, synthetic_photo
from PIL import Image

from srcnn.archs import ARCHS, channels_of
from srcnn.color import rgb_to_y, to_gray_u8
from srcnn.enhance import default_passes
from srcnn.files import file_sha256
from srcnn.gate import Comparison, Gate, gate_path, read_gate, write_gate
from srcnn.inference import load_model, restore_rgb, save_model
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


def as_enhance_restores(path: Path, rgb: np.ndarray, strength: float) -> np.ndarray:
    """``restore_rgb`` with enhance's default passes for the model."""
    model = load_model(path)[0]
    return restore_rgb(model, rgb, strength=strength, passes=default_passes(model))


def test_enhance_restores_colour_photos_with_the_colour_model_and_gray_ones_with_the_luma_model(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # run from a folder with no models/srcnn.pt of its own
    clean = synthetic_photo(4, 96, 128)
    Image.fromarray(clean).save(tmp_path / "colour.jpg", quality=20)
    gray = Image.fromarray(rgb_to_y(clean).round().astype(np.uint8))
    gray.save(tmp_path / "gray.jpg", quality=20)
    gray.convert("RGB").save(tmp_path / "bw.jpg", quality=20)  # black and white in an RGB file
    result = run(
        [
            sys.executable,
            "-m",
            "srcnn",
            "enhance",
            str(tmp_path / "colour.jpg"),
            str(tmp_path / "gray.jpg"),
            str(tmp_path / "bw.jpg"),
            "-o",
            str(tmp_path / "out"),
            "--precision",
            "fp32",
        ],
        cwd=tmp_path,
    )
    assert "restorer-colour.pt for colour photos" in result.stderr and "restorer.pt for gray ones" in result.stderr
    for name, shipped in (("colour", SHIPPED_COLOUR), ("gray", SHIPPED), ("bw", SHIPPED)):
        with Image.open(tmp_path / f"{name}.jpg") as jpeg, Image.open(tmp_path / "out" / f"{name}.png") as restored:
            strength = compression_strength(luma_qtable(jpeg))
            rgb, written = np.asarray(jpeg.convert("RGB")), np.asarray(restored)
        expected = as_enhance_restores(shipped, rgb, strength)
        assert np.array_equal(written, to_gray_u8(expected) if name == "gray" else expected), name
    assert np.ptp(np.asarray(Image.open(tmp_path / "out" / "bw.png")).astype(int), axis=2).max() == 0
    said = "bw.jpg: JPEG quality ~20 (from its quantization table); R = G = B: restored as a gray photo"
    assert said in result.stdout, result.stdout


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

    dvc("repro", cwd=clone)  # the pipeline's tiny model: compared with the shipped ones, it does not replace them
    summary = json.loads((clone / "metrics" / "summary.json").read_text())
    assert summary["gain_over_shipped"] == pytest.approx(summary["psnr_gain"] - summary["shipped_model"], abs=2e-4)
    assert summary["shipped_model"] > summary["psnr_gain"] and summary["rgb_gain_over_shipped"] < 0, summary
    gate = read_gate(clone / "models" / "srcnn.ladder.json", clone / "models" / "srcnn.pt")
    assert gate.shipped is not None and set(gate.shipped) == {"gray", "colour"}
    assert not any(gate.shipped["colour"].beaten.values()) and not any(gate.shipped["gray"].beaten.values())
    again = run(
        [sys.executable, "-m", "srcnn", "enhance", str(tmp_path / "photo.jpg"), "-o", str(tmp_path / "own")],
        cwd=clone,
    )
    first = again.stderr.splitlines()[0]
    assert "colour photos: the shipped one; models/srcnn.pt did not beat it at any quality" in first, first
    with Image.open(tmp_path / "out" / "photo.png") as shipped, Image.open(tmp_path / "own" / "photo.png") as own:
        assert np.array_equal(np.asarray(shipped), np.asarray(own))


def pipeline_model(folder: Path, colour_wins: dict[int, bool]) -> Path:
    """A models/srcnn.pt in ``folder`` (a small SRCNN trained on JPEG 10-90, safe on every rung) whose
    evaluation beat the shipped colour model at the rungs ``colour_wins`` says, and the gray one nowhere."""
    model = ARCHS["srcnn"](kernel1=5, kernel2=3, kernel3=3, filters1=8, filters2=4, residual=True, conditioned=True)
    path = folder / "models" / "srcnn.pt"
    path.parent.mkdir(parents=True)
    save_model(path, model, info={"params": {"jpeg_quality": [10, 90], "scale": 1}})
    rungs = {quality: True for quality in colour_wins}
    shipped = {
        "colour": Comparison(str(SHIPPED_COLOUR), file_sha256(SHIPPED_COLOUR), colour_wins),
        "gray": Comparison(str(SHIPPED), file_sha256(SHIPPED), dict.fromkeys(colour_wins, False)),
    }
    write_gate(gate_path(path), Gate((10, 90), rungs, file_sha256(path), 2, shipped))
    return path


def test_enhance_takes_the_pipelines_model_only_for_the_photos_and_qualities_where_it_beat_the_shipped_one(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    trained = pipeline_model(tmp_path, {10: True, 20: True, 30: True, 40: False, 60: False, 80: False, 90: False})
    clean = synthetic_photo(5, 96, 128)
    for quality in (20, 60):
        Image.fromarray(clean).save(tmp_path / f"colour{quality}.jpg", quality=quality)
    Image.fromarray(rgb_to_y(clean).round().astype(np.uint8)).save(tmp_path / "gray20.jpg", quality=20)
    photos = [str(tmp_path / f"{name}.jpg") for name in ("colour20", "colour60", "gray20")]
    command = [sys.executable, "-m", "srcnn", "enhance", *photos, "-o", str(tmp_path / "out"), "--precision", "fp32"]
    result = run(command, cwd=tmp_path)
    first = result.stderr.splitlines()[0]
    assert "colour photos: models/srcnn.pt near JPEG q10, q20, q30, where its evaluation beat" in first, first
    assert "gray photos: the shipped one; models/srcnn.pt did not beat it" in first, first
    expected = {"colour20": trained, "colour60": SHIPPED_COLOUR, "gray20": SHIPPED}
    for name, model_path in expected.items():
        with Image.open(tmp_path / f"{name}.jpg") as jpeg, Image.open(tmp_path / "out" / f"{name}.png") as restored:
            strength = compression_strength(luma_qtable(jpeg))
            rgb, written = np.asarray(jpeg.convert("RGB")), np.asarray(restored)
        restored_by = as_enhance_restores(model_path, rgb, strength)
        assert np.array_equal(written, to_gray_u8(restored_by) if name == "gray20" else restored_by), name
    assert f"colour20.jpg: JPEG quality ~20 (from its quantization table) [{Path('models/srcnn.pt')}]" in result.stdout
    assert f"colour60.jpg: JPEG quality ~60 (from its quantization table) [{SHIPPED_COLOUR}]" in result.stdout
    with_model = run([*command, "--overwrite", "--model", str(trained)], cwd=tmp_path)  # --model: for every photo
    assert "given by --model" in with_model.stderr and "[" not in with_model.stdout


def test_a_pipeline_model_never_evaluated_leaves_the_photos_to_the_shipped_models_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    trained = pipeline_model(tmp_path, {20: True})
    gate_path(trained).unlink()  # trained, not evaluated: nothing says where it beat the shipped ones
    clean = synthetic_photo(7, 64, 80)
    Image.fromarray(clean).save(tmp_path / "colour.jpg", quality=20)
    command = [sys.executable, "-m", "srcnn", "enhance", str(tmp_path / "colour.jpg"), "-o", str(tmp_path / "out")]
    result = run([*command, "--precision", "fp32"], cwd=tmp_path)
    assert "evaluation is unknown, so the shipped models restore the photos, it only those no shipped model can" in (
        result.stderr
    ), result.stderr
    assert "every JPEG" not in result.stderr
    with Image.open(tmp_path / "colour.jpg") as jpeg, Image.open(tmp_path / "out" / "colour.png") as restored:
        strength = compression_strength(luma_qtable(jpeg))
        expected = as_enhance_restores(SHIPPED_COLOUR, np.asarray(jpeg.convert("RGB")), strength)
        assert np.array_equal(np.asarray(restored), expected)


def test_a_damaged_or_missing_shipped_model_is_named_and_enhance_restores_with_the_models_there(make_project, tmp_path):
    project = make_project()
    (project / "models" / "pretrained" / "restorer.pt").write_bytes(b"not a model")
    shutil.rmtree(project / "data", ignore_errors=True)
    clean = synthetic_photo(6, 96, 128)
    Image.fromarray(rgb_to_y(clean).round().astype(np.uint8)).save(tmp_path / "gray.jpg", quality=20)
    command = [sys.executable, "-m", "srcnn", "enhance", str(tmp_path / "gray.jpg"), "-o", str(tmp_path / "out")]
    result = run(command, cwd=project)
    assert "the shipped model of gray photos cannot be used: " in result.stderr, result.stderr
    assert "restorer.pt" in result.stderr and "1 restored" in result.stdout, result.stdout
    (project / "models" / "pretrained" / "restorer-colour.pt").unlink()
    nothing = run(command + ["--overwrite"], cwd=project, check=False)
    assert nothing.returncode == 2 and "no model to restore with" in nothing.stderr, nothing.stderr
    assert "restorer-colour.pt: no such model file" in nothing.stderr
