"""The model that ships with the project: a fresh clone restores a JPEG with it in one command,
before any training; once the pipeline has trained its own, that one is used."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from conftest import ROOT, dvc, run, synthetic_photo
from srcnn.color import rgb_to_y
from srcnn.gate import gate_path, read_gate
from srcnn.inference import load_model
from srcnn.metrics import psnr

SHIPPED = ROOT / "models" / "pretrained" / "restorer.pt"


def test_the_shipped_model_is_small_declared_and_evaluated():
    assert SHIPPED.stat().st_size <= 4 * 1024 * 1024
    model, info = load_model(SHIPPED)
    gate = read_gate(gate_path(SHIPPED), SHIPPED)  # its own ladder, for this very file
    assert gate is not None and any(gate.rungs.values())
    artifacts = yaml.safe_load((ROOT / "dvc.yaml").read_text())["artifacts"]
    assert any(artifact["path"] == "models/pretrained/restorer.pt" for artifact in artifacts.values())


def test_a_fresh_clone_restores_a_jpeg_with_the_shipped_model(make_project, tmp_path):
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(make_project()), str(clone)], cwd=tmp_path)
    clean = synthetic_photo(3, 160, 200)
    Image.fromarray(clean).save(tmp_path / "photo.jpg", quality=20)
    result = run([sys.executable, "-m", "srcnn", "enhance", str(tmp_path / "photo.jpg"), "-o", str(tmp_path / "out")],
                 cwd=clone)
    assert "models/pretrained/restorer.pt" in result.stderr and "shipped" in result.stderr, result.stderr
    with Image.open(tmp_path / "photo.jpg") as jpeg, Image.open(tmp_path / "out" / "photo.png") as restored:
        before, after = np.asarray(jpeg.convert("RGB")), np.asarray(restored.convert("RGB"))
    reference = rgb_to_y(clean)
    assert psnr(reference, rgb_to_y(after)) > psnr(reference, rgb_to_y(before)) + 0.3

    dvc("repro", cwd=clone)  # the pipeline's own model, once trained, is the default
    again = run([sys.executable, "-m", "srcnn", "enhance", str(tmp_path / "photo.jpg"), "-o",
                 str(tmp_path / "own"), "--force"], cwd=clone)
    assert f"model {Path('models/srcnn.pt')}" in again.stderr and "trained by this project" in again.stderr, again.stderr
