"""`srcnn export --onnx`: every arch, luma and colour, run in ONNX Runtime on a real photo (scikit-image's
astronaut, JPEG-compressed, at a size other than the one exported and with odd sides) gives what PyTorch
gives, within 1 gray level; bad targets exit 2 naming the file."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch
from conftest import ROOT, SMALL_ARCHS, run
from PIL import Image
from skimage import data

from srcnn.__main__ import main
from srcnn.archs import channels_of, from_config
from srcnn.color import rgb_to_ycbcr
from srcnn.inference import load_model, save_model
from srcnn.jpeg import compression_strength, luma_qtable

SHIPPED = ROOT / "models" / "pretrained"


def photo_planes(channels: int) -> tuple[np.ndarray, float]:
    """A real photo, JPEG-compressed at quality 20, as the model sees it (1×C×H×W in [0, 1]), and its strength."""
    buffer = io.BytesIO()
    Image.fromarray(data.astronaut()[:201, 40:277]).save(buffer, "JPEG", quality=20)
    with Image.open(buffer) as jpeg:
        strength = compression_strength(luma_qtable(jpeg))
        ycbcr = rgb_to_ycbcr(np.asarray(jpeg.convert("RGB"))) / 255.0
    planes = ycbcr.transpose(2, 0, 1) if channels == 3 else ycbcr[None, ..., 0]
    return planes[None].astype(np.float32), strength


def largest_difference(model_path: Path, onnx_path: Path) -> float:
    """The largest difference between PyTorch and ONNX Runtime on the photo, in gray levels (of 255)."""
    model, _ = load_model(model_path)
    planes, strength = photo_planes(channels_of(model))
    with torch.no_grad():
        expected = model.eval()(torch.from_numpy(planes), torch.tensor([strength])).numpy()
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    feeds = {"image": planes}
    if model.conditioned:
        feeds["strength"] = np.full((1, 1, 1, 1), strength, dtype=np.float32)
    assert [given.name for given in session.get_inputs()] == list(feeds)
    (restored,) = session.run(["restored"], feeds)
    assert restored.shape == expected.shape
    return float(np.abs(restored - expected).max() * 255.0)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("arch", sorted(SMALL_ARCHS))
def test_every_arch_exports_and_runs_in_onnxruntime(tmp_path: Path, arch: str, channels: int) -> None:
    torch.manual_seed(0)
    config = SMALL_ARCHS[arch]
    model = from_config(arch, {**config, "channels": channels, "conditioned": arch != "srcnn"})
    checkpoint = tmp_path / "model.pt"
    save_model(checkpoint, model)
    assert main(["export", "--onnx", str(tmp_path / "model.onnx"), "--model", str(checkpoint)]) == 0
    assert largest_difference(checkpoint, tmp_path / "model.onnx") <= 1.0


@pytest.mark.parametrize("name", ["restorer", "restorer-colour"])
def test_the_shipped_models_export(tmp_path: Path, name: str) -> None:
    target = tmp_path / f"{name}.onnx"
    command = [sys.executable, "-m", "srcnn", "export", "--onnx", str(target), "--model", str(SHIPPED / f"{name}.pt")]
    run(command, cwd=ROOT)
    assert largest_difference(SHIPPED / f"{name}.pt", target) <= 1.0


def test_bad_targets_exit_2_naming_them(tmp_path: Path) -> None:
    missing = tmp_path / "no_such_folder" / "model.onnx"
    result = run([sys.executable, "-m", "srcnn", "export", "--onnx", str(missing)], cwd=ROOT, check=False)
    assert result.returncode == 2 and str(missing.parent) in result.stderr, result.stderr
    existing = tmp_path / "model.onnx"
    existing.write_bytes(b"kept")
    result = run([sys.executable, "-m", "srcnn", "export", "--onnx", str(existing)], cwd=ROOT, check=False)
    assert result.returncode == 2 and str(existing) in result.stderr and "--overwrite" in result.stderr, result.stderr
    assert existing.read_bytes() == b"kept"
