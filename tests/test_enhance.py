"""Tiled inference equals whole-image inference; `python -m srcnn enhance` on real files; safe loading."""
from __future__ import annotations

import io
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageCms

from conftest import ROOT, run, synthetic_photo
from srcnn.color import rgb_to_ycbcr
from srcnn.enhance import save_photo
from srcnn.inference import CheckpointError, load_model, restore_luma, restore_rgb, save_model, windows
from srcnn.model import SRCNN


def busy_model(seed: int = 0, **sizes) -> SRCNN:
    """An SRCNN whose correction is large enough that a seam or a wrong margin would show."""
    torch.manual_seed(seed)
    model = SRCNN(**{"kernel1": 9, "kernel2": 5, "kernel3": 5, "filters1": 8, "filters2": 4, "residual": True, **sizes})
    torch.nn.init.normal_(model.reconstruct.weight, std=0.05)
    return model.eval()


def write_model(path: Path, scale: int = 1) -> Path:
    save_model(path, busy_model(), info={"params": {"scale": scale}})
    return path


def enhance(*args: str, cwd: Path, check: bool = False):
    return run([sys.executable, "-m", "srcnn", "enhance", *args], cwd=cwd, check=check)


def test_windows_cover_every_pixel_once():
    covered = np.zeros((37, 50), dtype=int)
    for read, keep, put in windows(37, 50, 16, 5):
        assert read[0].start <= put[0].start and read[1].stop >= put[1].stop
        covered[put] += 1
    assert (covered == 1).all()


@pytest.mark.parametrize("tile", [16, 23, 64])
def test_tiled_luma_equals_whole_image_inference(tile):
    model = busy_model()
    luma = synthetic_photo(5, 70, 90)[..., 1].astype(np.float64)
    with torch.no_grad():
        whole = model(torch.from_numpy(luma / 255.0).float()[None, None])[0, 0].clamp(0, 1).double().numpy()
    tiled = restore_luma(model, luma, tile=tile) / 255.0
    assert np.abs(tiled - whole).max() <= 1e-5
    assert np.abs(whole - luma / 255.0).max() > 0.01  # the model really changes the image


def test_tiled_colour_equals_whole_image_and_keeps_chroma():
    model = busy_model()
    rgb = synthetic_photo(6, 60, 75)
    small_tiles, one_tile = restore_rgb(model, rgb, tile=16), restore_rgb(model, rgb, tile=4096)
    assert np.array_equal(small_tiles, one_tile)
    before, after = rgb_to_ycbcr(rgb), rgb_to_ycbcr(one_tile)
    assert np.abs(after[..., 1:] - before[..., 1:]).mean() < 1.0  # chroma kept, up to 8-bit rounding
    assert np.abs(after[..., 0] - before[..., 0]).mean() > 1.0  # luma restored


def test_bf16_is_close_to_fp32():
    model = busy_model()
    luma = synthetic_photo(7, 64, 64)[..., 0].astype(np.float64)
    fp32 = restore_luma(model, luma)
    bf16 = restore_luma(model, luma, dtype=torch.bfloat16)
    assert np.abs(bf16 - fp32).max() < 2.0  # gray levels


def exif_rotated_jpeg(path: Path, rgb: np.ndarray) -> bytes:
    """A JPEG stored sideways with EXIF orientation 6 (rotate 90° clockwise to view) and an sRGB profile."""
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "TestCam"  # Make
    Image.fromarray(rgb).save(path, format="JPEG", quality=90, exif=exif.tobytes(), icc_profile=icc)
    return icc


def test_enhance_colour_jpeg_end_to_end(tmp_path):
    model = write_model(tmp_path / "model.pt")
    stored = synthetic_photo(1, 48, 64)  # stored 64 wide, 48 high; shown 48 wide, 64 high
    icc = exif_rotated_jpeg(tmp_path / "photo.jpg", stored)
    result = enhance(str(tmp_path / "photo.jpg"), "-o", str(tmp_path / "out"), "--model", str(model), cwd=ROOT)
    assert result.returncode == 0, result.stderr
    with Image.open(tmp_path / "out" / "photo.png") as output:
        assert output.format == "PNG" and output.mode == "RGB" and output.size == (48, 64)
        assert output.info.get("icc_profile") == icc
        exif = output.getexif()
        assert exif.get(0x010F) == "TestCam" and 0x0112 not in exif
        restored = np.asarray(output)
    with Image.open(tmp_path / "photo.jpg") as original:
        viewed = np.asarray(original.transpose(Image.Transpose.ROTATE_270).convert("RGB"))
    assert np.abs(rgb_to_ycbcr(restored)[..., 1:] - rgb_to_ycbcr(viewed)[..., 1:]).mean() < 1.0
    assert not list((tmp_path / "out").glob(".*"))  # no temporary files left


def test_enhance_grayscale_jpeg_output_and_super_resolution(tmp_path):
    model = write_model(tmp_path / "x2.pt", scale=2)
    Image.fromarray(synthetic_photo(2, 40, 30)[..., 0]).save(tmp_path / "gray.png")
    result = enhance(str(tmp_path / "gray.png"), "-o", str(tmp_path / "gray_restored.jpg"), "--model", str(model),
                     cwd=ROOT)
    assert result.returncode == 0, result.stderr
    with Image.open(tmp_path / "gray_restored.jpg") as output:
        assert output.format == "JPEG" and output.mode == "L" and output.size == (60, 80)


def test_enhance_skips_bad_files_and_keeps_existing_outputs(tmp_path):
    model = write_model(tmp_path / "model.pt")
    Image.fromarray(synthetic_photo(3, 32, 32)).save(tmp_path / "good.png")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    out = tmp_path / "out"
    first = enhance(str(tmp_path / "broken.jpg"), str(tmp_path / "good.png"), str(tmp_path / "missing.png"),
                    "-o", str(out), "--model", str(model), cwd=ROOT)
    assert first.returncode == 1
    assert "broken.jpg" in first.stderr and "missing.png" in first.stderr and "1 restored" in first.stdout
    assert sorted(path.name for path in out.iterdir()) == ["good.png"]

    (out / "good.png").write_bytes(b"mine")
    second = enhance(str(tmp_path / "good.png"), "-o", str(out), "--model", str(model), cwd=ROOT)
    assert second.returncode == 0 and "--overwrite" in second.stderr
    assert (out / "good.png").read_bytes() == b"mine"
    third = enhance(str(tmp_path / "good.png"), "-o", str(out), "--model", str(model), "--overwrite", cwd=ROOT)
    assert third.returncode == 0 and (out / "good.png").read_bytes()[:4] == b"\x89PNG"


def test_enhance_never_replaces_the_photo_itself(tmp_path):
    model = write_model(tmp_path / "model.pt")
    Image.fromarray(synthetic_photo(4, 32, 32)).save(tmp_path / "photo.png")
    before = (tmp_path / "photo.png").read_bytes()
    result = enhance(str(tmp_path / "photo.png"), "-o", str(tmp_path), "--model", str(model), "--overwrite", cwd=ROOT)
    assert result.returncode == 1 and "the photo itself" in result.stderr
    assert (tmp_path / "photo.png").read_bytes() == before


def test_a_failed_write_leaves_no_output(tmp_path, monkeypatch):
    def broken_save(self, fp, *args, **kwargs):
        Path(fp).write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_photo(tmp_path / "out.png", synthetic_photo(0, 32, 32))
    assert list(tmp_path.iterdir()) == []


class Payload:
    def __reduce__(self):
        return (Path.write_text, (Path(PAYLOAD_MARK), "code ran"))


PAYLOAD_MARK = ""


def test_load_model_refuses_pickled_code_and_foreign_files(tmp_path):
    global PAYLOAD_MARK
    PAYLOAD_MARK = str(tmp_path / "pwned")
    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps({"format": "srcnn-checkpoint/1", "x": Payload()}))
    torch_evil = tmp_path / "torch_evil.pt"
    torch.save({"format": "srcnn-checkpoint/1", "x": Payload()}, torch_evil)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    for path in (evil, torch_evil, foreign, text):
        with pytest.raises(CheckpointError, match="not a model checkpoint of this project") as refused:
            load_model(path)
        assert "weights_only" not in str(refused.value)  # never relay advice to load it unsafely
    assert not (tmp_path / "pwned").exists()

    result = enhance(str(text), "-o", str(tmp_path / "out"), "--model", str(torch_evil), cwd=ROOT)
    assert result.returncode == 2 and "not a model checkpoint of this project" in result.stderr
    assert "weights_only" not in result.stderr and "False" not in result.stderr
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "out").exists()


def test_save_and_load_round_trip(tmp_path):
    model = busy_model(seed=3)
    save_model(tmp_path / "m.pt", model, info={"params": {"scale": 3}})
    loaded, info = load_model(tmp_path / "m.pt")
    assert info["params"]["scale"] == 3
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)


def test_int8_tiles_equal_a_whole_pass_and_stay_close_to_fp32():
    from srcnn.inference import INT8
    from srcnn.quantized import engine
    if engine() is None:
        pytest.skip("this PyTorch has no quantized CPU backend")
    model = busy_model()
    rgb = synthetic_photo(8, 64, 80)
    tiled, whole = restore_rgb(model, rgb, dtype=INT8, tile=24), restore_rgb(model, rgb, dtype=INT8, tile=4096)
    assert np.array_equal(tiled, whole)
    fp32 = restore_rgb(model, rgb)
    difference = np.abs(rgb_to_ycbcr(whole)[..., 0] - rgb_to_ycbcr(fp32)[..., 0])
    assert difference.mean() < 0.5 and difference.max() < 4  # gray levels


def test_enhance_precision_choices(tmp_path):
    model = write_model(tmp_path / "model.pt")
    Image.fromarray(synthetic_photo(9, 32, 40)).save(tmp_path / "p.png")
    outputs = {}
    for precision in ("fp32", "bf16", "int8"):
        result = enhance(str(tmp_path / "p.png"), "-o", str(tmp_path / f"{precision}.png"), "--model", str(model),
                         "--precision", precision, cwd=ROOT)
        assert result.returncode == 0 and f", {precision}," in result.stdout, result.stdout + result.stderr
        outputs[precision] = np.asarray(Image.open(tmp_path / f"{precision}.png")).astype(int)
    for precision in ("bf16", "int8"):
        assert np.abs(outputs[precision] - outputs["fp32"]).mean() < 1.0


def test_an_int8_copy_that_disagrees_with_the_model_is_refused(monkeypatch):
    import srcnn.quantized as quantized
    from srcnn.inference import INT8
    if quantized.engine() is None:
        pytest.skip("this PyTorch has no quantized CPU backend")
    model = busy_model()
    rgb = synthetic_photo(10, 40, 48)
    monkeypatch.setattr(quantized, "INPUT_OFFSET", 0.0)  # as if SRCNN.forward changed and this file did not
    with pytest.raises(quantized.QuantizationError, match="agrees with it"):
        quantized.quantize(model, [torch.rand(1, 1, 32, 32)])
    with pytest.warns(UserWarning, match="instead"):
        fallback = restore_rgb(model, rgb, dtype=INT8)
    assert np.abs(fallback.astype(int) - restore_rgb(model, rgb).astype(int)).mean() < 1.0


def test_a_folder_is_read_like_raw_dir_with_its_subfolders(tmp_path):
    model = write_model(tmp_path / "model.pt")
    pictures = tmp_path / "Pictures"
    (pictures / "trip" / ".thumbnails").mkdir(parents=True)
    Image.fromarray(synthetic_photo(1, 40, 50)).save(pictures / "a.jpg", quality=60)
    Image.fromarray(synthetic_photo(2, 40, 50)).save(pictures / "trip" / "b.PNG")
    Image.fromarray(synthetic_photo(3, 40, 50)).save(pictures / "trip" / ".thumbnails" / "c.png")
    (pictures / "notes.txt").write_text("not a photo")
    (tmp_path / "empty").mkdir()

    result = enhance(str(pictures), "-o", str(tmp_path / "out"), "--model", str(model), cwd=ROOT)
    assert result.returncode == 0, result.stderr
    written = sorted(path.relative_to(tmp_path / "out").as_posix() for path in (tmp_path / "out").rglob("*.png"))
    assert written == ["a.png", "trip/b.png"]
    assert "2 files that are not photos left out" in result.stderr and "2 restored" in result.stdout

    result = enhance(str(tmp_path / "empty"), "-o", str(tmp_path / "out2"), "--model", str(model), cwd=ROOT)
    assert result.returncode == 1 and "a folder with no photos" in result.stderr
