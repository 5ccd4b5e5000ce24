"""Tiled inference equals whole-image inference; `python -m srcnn enhance` on real files; safe loading."""

from __future__ import annotations

import io
import math
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
import skimage.data
import torch
from conftest import ROOT, run, synthetic_photo
from PIL import Image, ImageCms

from srcnn.archs import SRCNN, FFDNetRes
from srcnn.color import rgb_to_ycbcr
from srcnn.degrade import Journey, travelled_file
from srcnn.enhance import save_photo
from srcnn.inference import CheckpointError, load_model, restore_luma, restore_rgb, save_model, windows
from srcnn.jpeg import compression_strength, luma_qtable
from srcnn.metrics import psnr


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
    for read, _keep, put in windows(37, 50, 16, 5):
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


def test_passes_are_the_mean_of_the_photo_turned_and_flipped_in_tiles_as_in_one_pass():
    model = busy_model()
    luma = synthetic_photo(8, 40, 52)[..., 0].astype(np.float64)
    views = {}
    for turns in range(4):
        for flip in (False, True):
            view = np.rot90(luma, turns)
            restored = restore_luma(model, np.ascontiguousarray(view[:, ::-1] if flip else view))
            views[turns, flip] = np.rot90(restored[:, ::-1] if flip else restored, -turns)
    every_view = np.mean(list(views.values()), axis=0)
    half_turn = (views[0, False] + views[2, False]) / 2
    assert np.abs(restore_luma(model, luma, tile=16, passes=8) - every_view).max() <= 1e-3
    assert np.abs(restore_luma(model, luma, tile=16, passes=2) - half_turn).max() <= 1e-3
    assert np.abs(restore_luma(model, luma) - half_turn).max() > 0.5  # the views really differ
    with pytest.raises(ValueError, match="passes must be one of 1, 2, 4, 8, got 3"):
        restore_luma(model, luma, passes=3)
    # a half-resolution colour network on a photo of odd sides: every tile folds on the photo's grid
    torch.manual_seed(0)
    colour = FFDNetRes(depth=6, features=16, channels=3).eval()
    for parameter in colour.parameters():
        torch.nn.init.normal_(parameter, std=0.1)
    rgb = synthetic_photo(9, 75, 61)
    for passes in (2, 8):
        tiled = restore_rgb(colour, rgb, tile=16, strength=0.3, passes=passes)
        whole = restore_rgb(colour, rgb, tile=4096, strength=0.3, passes=passes)
        assert np.abs(tiled.astype(int) - whole).max() <= 1


def test_enhance_restores_colour_photos_in_two_passes_gray_ones_in_one_and_self_ensemble_in_eight(tmp_path):
    clean = skimage.data.astronaut()[40:161, 180:329]  # odd sides
    Image.fromarray(clean).save(tmp_path / "colour.jpg", quality=20)
    Image.fromarray(clean[..., 1]).save(tmp_path / "gray.jpg", quality=20)
    outputs = {}
    for option, passes in (("", "2 passes on colour photos, 1 on gray ones"), ("--self-ensemble", "8 passes")):
        out = tmp_path / f"out{option}"
        photos = [str(tmp_path / "colour.jpg"), str(tmp_path / "gray.jpg")]
        result = enhance(*photos, "-o", str(out), "--precision", "fp32", *option.split(), cwd=ROOT)
        assert result.returncode == 0 and f", fp32, {passes}, tiles of 512)" in result.stdout, result.stdout
        outputs[option] = {name: pixels(out / f"{name}.png").astype(np.uint8) for name in ("colour", "gray")}
    with Image.open(tmp_path / "colour.jpg") as jpeg, Image.open(tmp_path / "gray.jpg") as gray:
        colour_in, gray_in = np.asarray(jpeg.convert("RGB")), np.asarray(gray)
        strength = compression_strength(luma_qtable(jpeg))
    shipped = load_model(ROOT / "models" / "pretrained" / "restorer-colour.pt")[0]
    one, two = (restore_rgb(shipped, colour_in, strength=strength, passes=passes) for passes in (1, 2))
    assert np.array_equal(outputs[""]["colour"], two)

    def colour_gain(restored: np.ndarray) -> float:
        return psnr(clean, restored) - psnr(clean, colour_in)

    def gray_gain(restored: np.ndarray) -> float:  # the gray PNG, read as R = G = B
        return psnr(clean[..., 1], restored[..., 0]) - psnr(clean[..., 1], gray_in)

    assert 0.5 < colour_gain(one) < colour_gain(two) < colour_gain(outputs["--self-ensemble"]["colour"])
    assert 0.5 < gray_gain(outputs[""]["gray"]) < gray_gain(outputs["--self-ensemble"]["gray"])
    refused = enhance(str(tmp_path / "colour.jpg"), "-o", str(tmp_path / "no"), "--passes", "3", cwd=ROOT)
    assert refused.returncode == 2 and "--passes: invalid choice: 3" in refused.stderr, refused.stderr


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
    result = enhance(
        str(tmp_path / "gray.png"), "-o", str(tmp_path / "gray_restored.jpg"), "--model", str(model), cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    with Image.open(tmp_path / "gray_restored.jpg") as output:
        assert output.format == "JPEG" and output.mode == "L" and output.size == (60, 80)


def test_enhance_skips_bad_files_and_keeps_existing_outputs(tmp_path):
    model = write_model(tmp_path / "model.pt")
    Image.fromarray(synthetic_photo(3, 32, 32)).save(tmp_path / "good.png")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    out = tmp_path / "out"
    first = enhance(
        str(tmp_path / "broken.jpg"),
        str(tmp_path / "good.png"),
        str(tmp_path / "missing.png"),
        "-o",
        str(out),
        "--model",
        str(model),
        cwd=ROOT,
    )
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


def exact_int8(quantized, block: torch.Tensor, strength: float | None = None) -> tuple[torch.Tensor, float]:
    """What an int8 copy of SRCNN computes when every sum of products is exact (integers in float64,
    exact far beyond these sums), each layer requantized as PyTorch defines it (round, clamp to 8
    bits); and the step of its output."""
    from srcnn.quantized import INPUT_ZERO_POINT

    centred = block.float() - SRCNN.input_offset
    if quantized.conditioned:
        assert strength is not None, "a conditioned model is given a strength"
        centred = torch.cat([centred, torch.full_like(centred, strength - SRCNN.strength_offset)], dim=1)
    scale, zero = 1.0 / 255.0, INPUT_ZERO_POINT
    levels = torch.quantize_per_tensor(centred, scale, zero, torch.quint8).int_repr().double() - zero
    for layer, relu in ((quantized.extract, True), (quantized.map, True), (quantized.reconstruct, False)):
        weight = layer.weight()
        sums = torch.nn.functional.conv2d(levels, weight.int_repr().double(), padding=layer.padding)
        values = sums * (scale * weight.q_per_channel_scales().double()).view(1, -1, 1, 1) + layer.bias().double().view(
            1, -1, 1, 1
        )
        scale, zero = layer.scale, layer.zero_point
        levels = (torch.round((values.clamp_min(0) if relu else values) / scale) + zero).clamp(0, 255) - zero
    return block.double() + levels * scale, scale


def assert_int8_is_exact(quantized, block: torch.Tensor, strength: float | None = None) -> None:
    """The kernel's guarantee: exact integer sums. The kernel rescales them in float32, so a value on
    a rounding boundary may round the other way: one step, in its layer and, through the next
    layers, in the outputs around it. A sum that saturated is further off."""
    with torch.inference_mode():
        reference, step = exact_int8(quantized, block, strength)
        steps_off = (quantized(block, strength).double() - reference).abs() / step
    assert steps_off.max() < 1.5, (
        f"int8 output {steps_off.max():.0f} steps from exact arithmetic at worst, "
        f"{(steps_off > 0.5).double().mean():.2%} of the pixels off"
    )


@pytest.mark.parametrize("conditioned, strength", [(False, None), (True, 0.0), (True, 0.5), (True, 1.0)])
def test_int8_is_exact_integer_arithmetic_on_this_cpu(conditioned, strength):
    """Without VNNI a kernel adds pairs of 8-bit products in 16 bits with saturation: the int8 copy
    must use ranges that cannot saturate there, and full ranges only where the kernel is exact."""
    from srcnn.quantized import engine, quantize

    if engine() is None:
        pytest.skip("this PyTorch has no quantized CPU backend")
    model = busy_model(conditioned=conditioned)
    block = torch.from_numpy(synthetic_photo(8, 64, 80)[..., 0] / 255.0).float()[None, None]
    quantized = quantize(model, [block], strength)
    assert_int8_is_exact(quantized, block, strength)
    from srcnn.quantized import QuantizedSRCNN, full_range_is_exact

    assert quantized.full_range == full_range_is_exact(engine())
    reduced = QuantizedSRCNN(
        model,
        (quantized.extract.scale * 255, quantized.map.scale * 255, quantized.reconstruct.scale * 127),
        full_range=False,
    ).eval()
    assert_int8_is_exact(reduced, block, strength)  # exact on every kernel, VNNI or not


def int8_agreement_db(model: SRCNN, luma: np.ndarray, strength: float | None = None) -> float:
    """PSNR of the int8 restoration against fp32, refusing the bf16 fallback (a warning)."""
    import warnings

    from srcnn.inference import INT8
    from srcnn.metrics import psnr

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        int8 = restore_luma(model, luma, dtype=INT8, strength=strength)
    return psnr(restore_luma(model, luma, strength=strength), int8)


def test_int8_tiles_equal_a_whole_pass_and_stay_close_to_fp32():
    from srcnn.inference import INT8
    from srcnn.quantized import AGREEMENT_DB, engine

    if engine() is None:
        pytest.skip("this PyTorch has no quantized CPU backend")
    model = busy_model()
    rgb = synthetic_photo(8, 64, 80)
    tiled, whole = restore_rgb(model, rgb, dtype=INT8, tile=24), restore_rgb(model, rgb, dtype=INT8, tile=4096)
    assert np.array_equal(tiled, whole)
    # quantize guarantees this on its calibration blocks, which here cover the whole photo
    assert int8_agreement_db(model, rgb_to_ycbcr(rgb)[..., 0]) >= AGREEMENT_DB


def test_enhance_precision_choices(tmp_path):
    model = write_model(tmp_path / "model.pt")
    Image.fromarray(synthetic_photo(9, 32, 40)).save(tmp_path / "p.png")
    from srcnn.inference import INT8

    rgb = np.asarray(Image.open(tmp_path / "p.png"))
    for precision, dtype in (("fp32", None), ("bf16", torch.bfloat16), ("int8", INT8)):
        result = enhance(
            str(tmp_path / "p.png"),
            "-o",
            str(tmp_path / f"{precision}.png"),
            "--model",
            str(model),
            "--precision",
            precision,
            cwd=ROOT,
        )
        assert result.returncode == 0 and f", {precision}," in result.stdout, result.stdout + result.stderr
        assert np.array_equal(pixels(tmp_path / f"{precision}.png"), restore_rgb(busy_model(), rgb, dtype=dtype))


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


def conditioned_model(seed: int = 0) -> SRCNN:
    """A busy conditioned SRCNN: its output depends clearly on the strength it is given."""
    return busy_model(seed, conditioned=True)


def test_a_conditioned_model_tiles_like_a_whole_pass_for_its_strength():
    model = conditioned_model()
    luma = synthetic_photo(5, 70, 90)[..., 1].astype(np.float64)
    for strength in (0.0, 0.3, 1.0):
        with torch.no_grad():
            whole = model(torch.from_numpy(luma / 255.0).float()[None, None], torch.tensor([strength]))
        tiled = restore_luma(model, luma, tile=23, strength=strength) / 255.0
        assert np.abs(tiled - whole[0, 0].clamp(0, 1).double().numpy()).max() <= 1e-5
    assert np.abs(restore_luma(model, luma, strength=0.0) - restore_luma(model, luma, strength=1.0)).mean() > 1.0
    with pytest.raises(ValueError, match="strength"):
        restore_luma(model, luma)


def test_int8_runs_a_conditioned_model_and_refuses_a_strength_it_cannot_hold():
    from srcnn.inference import INT8
    from srcnn.quantized import engine

    if engine() is None:
        pytest.skip("this PyTorch has no quantized CPU backend")
    from srcnn.quantized import AGREEMENT_DB

    model = conditioned_model()
    rgb = synthetic_photo(8, 64, 80)
    for strength in (0.0, 0.5, 1.0):
        tiled = restore_rgb(model, rgb, dtype=INT8, tile=24, strength=strength)
        assert np.array_equal(tiled, restore_rgb(model, rgb, dtype=INT8, tile=4096, strength=strength))
        assert int8_agreement_db(model, rgb_to_ycbcr(rgb)[..., 0], strength) >= AGREEMENT_DB
    with pytest.warns(UserWarning, match="outside what the int8 input holds"):
        fallback = restore_rgb(model, rgb, dtype=INT8, strength=1.11)  # quality 1: stronger than int8 holds
    assert np.abs(fallback.astype(int) - restore_rgb(model, rgb, strength=1.11).astype(int)).mean() < 1.0


def test_trained_qualities_from_the_checkpoint_params():
    from srcnn.inference import trained_qualities

    assert trained_qualities({"params": {"jpeg_quality": 20}}) == (20, 20)
    assert trained_qualities({"params": {"jpeg_quality": [10, 95]}}) == (10, 95)
    assert trained_qualities({"params": {"jpeg_quality": (10, 95)}}) == (10, 95)
    assert trained_qualities({"params": {"jpeg_quality": None}}) is None
    assert trained_qualities({"params": {"scale": 2}}) is None and trained_qualities({}) is None


def write_conditioned(path: Path, jpeg_quality, gentle: float = 1.0) -> Path:
    """A conditioned model's checkpoint; ``gentle`` < 1 scales its correction down (a model whose
    output stays near its input, as enhance's output check requires of a working one)."""
    model = conditioned_model()
    with torch.no_grad():
        last = [module for module in model.modules() if isinstance(module, torch.nn.Conv2d)][-1]
        last.weight.mul_(gentle)
        assert last.bias is not None
        last.bias.mul_(gentle)
    save_model(path, model, info={"params": {"scale": 1, "jpeg_quality": jpeg_quality}})
    return path


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB")).astype(int)


def test_a_png_is_left_unchanged_unless_quality_is_given(tmp_path):
    model = write_conditioned(tmp_path / "model.pt", [10, 95])
    rgb = synthetic_photo(11, 40, 56)
    Image.fromarray(rgb).save(tmp_path / "photo.png")
    result = enhance(str(tmp_path / "photo.png"), "-o", str(tmp_path / "same"), "--model", str(model), cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "photo.png: no JPEG history (not a JPEG); left unchanged (pass --quality Q" in result.stdout
    assert "0 restored, 1 unchanged" in result.stdout
    assert np.array_equal(pixels(tmp_path / "same" / "photo.png"), rgb)

    result = enhance(
        str(tmp_path / "photo.png"),
        "-o",
        str(tmp_path / "q30"),
        "--model",
        str(model),
        "--quality",
        "30",
        "--precision",
        "fp32",
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert "photo.png: JPEG quality 30 (from --quality)" in result.stdout and "1 restored" in result.stdout
    from srcnn.jpeg import strength_for_quality

    expected = restore_rgb(conditioned_model(), rgb, strength=strength_for_quality(30))
    assert np.array_equal(pixels(tmp_path / "q30" / "photo.png"), expected)
    assert np.abs(expected.astype(int) - rgb).mean() > 1.0  # really restored

    bad = enhance(
        str(tmp_path / "photo.png"), "-o", str(tmp_path / "bad"), "--model", str(model), "--quality", "0", cwd=ROOT
    )
    assert bad.returncode == 2 and "--quality 0" in bad.stderr


def test_a_png_saved_from_a_jpeg_is_restored_as_that_jpeg_unless_quality_says_otherwise(tmp_path):
    model = write_conditioned(tmp_path / "model.pt", [10, 95])
    buffer = io.BytesIO()
    Image.fromarray(synthetic_photo(14, 48, 64)).save(buffer, "JPEG", quality=35)
    decoded = np.asarray(Image.open(buffer).convert("RGB"))
    Image.fromarray(decoded).save(tmp_path / "export.png")  # a screenshot or export of a JPEG
    result = enhance(
        str(tmp_path / "export.png"),
        "-o",
        str(tmp_path / "out"),
        "--model",
        str(model),
        "--precision",
        "fp32",
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert "export.png: JPEG quality ~35 (not a JPEG file, but its pixels are a decoded JPEG" in result.stdout
    from srcnn.jpeg import strength_for_quality

    assert np.array_equal(
        pixels(tmp_path / "out" / "export.png"),
        restore_rgb(conditioned_model(), decoded, strength=strength_for_quality(35)),
    )

    result = enhance(
        str(tmp_path / "export.png"),
        "-o",
        str(tmp_path / "q60"),
        "--model",
        str(model),
        "--quality",
        "60",
        "--precision",
        "fp32",
        cwd=ROOT,
    )
    assert "export.png: JPEG quality 60 (from --quality)" in result.stdout
    assert np.array_equal(
        pixels(tmp_path / "q60" / "export.png"),
        restore_rgb(conditioned_model(), decoded, strength=strength_for_quality(60)),
    )


def test_a_jpeg_outside_the_trained_qualities_is_left_unchanged_unless_forced(tmp_path):
    model = write_conditioned(tmp_path / "model.pt", 20, gentle=0.3)
    Image.fromarray(synthetic_photo(12, 40, 56)).save(tmp_path / "camera.jpg", quality=90)
    Image.fromarray(synthetic_photo(13, 40, 56)).save(tmp_path / "web.jpg", quality=21)
    decoded = pixels(tmp_path / "camera.jpg")
    result = enhance(
        str(tmp_path / "camera.jpg"),
        str(tmp_path / "web.jpg"),
        "-o",
        str(tmp_path / "out"),
        "--model",
        str(model),
        "--precision",
        "fp32",
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert (
        "camera.jpg: JPEG quality ~90 (from its quantization table), outside the qualities the model was "
        "trained on (20); left unchanged (pass --force to restore it anyway)"
    ) in result.stdout
    assert "web.jpg: JPEG quality ~21 (from its quantization table)\n" in result.stdout  # within the margin of 2
    assert "1 restored, 1 unchanged" in result.stdout
    assert np.array_equal(pixels(tmp_path / "out" / "camera.png"), decoded)

    forced = enhance(
        str(tmp_path / "camera.jpg"),
        "-o",
        str(tmp_path / "forced"),
        "--model",
        str(model),
        "--force",
        "--precision",
        "fp32",
        cwd=ROOT,
    )
    assert forced.returncode == 0 and "restored anyway (--force)" in forced.stdout
    assert np.abs(pixels(tmp_path / "forced" / "camera.png") - decoded).mean() > 1.0


def test_a_jpeg_with_custom_tables_is_restored_for_what_its_table_does_unless_it_is_flat(tmp_path):
    from srcnn.jpeg import compression_strength, estimate_quality, standard_qtable, steepness

    model = write_conditioned(tmp_path / "model.pt", [10, 95])
    rgb = synthetic_photo(14, 40, 56)
    # a camera's own table: the standard shape, not a standard scaling of it
    camera = [max(1, round(step * 0.7) + (index % 3 == 0)) for index, step in enumerate(standard_qtable(50))]
    flat = [12] * 64  # one step for every frequency: it keeps the fine detail the model would smooth
    assert steepness(camera) > 0.9 and steepness(flat) == 0.0
    Image.fromarray(rgb).save(tmp_path / "camera.jpg", qtables=[camera, camera])
    Image.fromarray(rgb).save(tmp_path / "flat.jpg", qtables=[flat, [20] * 64])
    result = enhance(
        str(tmp_path / "camera.jpg"),
        str(tmp_path / "flat.jpg"),
        "-o",
        str(tmp_path / "out"),
        "--model",
        str(model),
        "--precision",
        "fp32",
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    quality = math.floor(estimate_quality(camera) + 0.5)
    assert f"camera.jpg: JPEG quality ~{quality} (from its quantization table)\n" in result.stdout
    expected = restore_rgb(
        conditioned_model(), pixels(tmp_path / "camera.jpg").astype(np.uint8), strength=compression_strength(camera)
    )
    assert np.array_equal(pixels(tmp_path / "out" / "camera.png"), expected)
    assert (
        "flat.jpg: JPEG quality ~" in result.stdout
        and "its quantization table is flatter than the ones the model was trained on" in result.stdout
        and "(steepness 0.00; standard tables 1.00, restored from 0.7); "
        "left unchanged (pass --force to restore it anyway)"
        in result.stdout
    ), result.stdout
    assert np.array_equal(pixels(tmp_path / "out" / "flat.png"), pixels(tmp_path / "flat.jpg"))
    forced = enhance(
        str(tmp_path / "flat.jpg"),
        "-o",
        str(tmp_path / "forced"),
        "--model",
        str(model),
        "--precision",
        "fp32",
        "--force",
        cwd=ROOT,
    )
    assert "restored anyway (--force)" in forced.stdout, forced.stdout
    expected = restore_rgb(
        conditioned_model(), pixels(tmp_path / "flat.jpg").astype(np.uint8), strength=compression_strength(flat)
    )
    assert np.array_equal(pixels(tmp_path / "forced" / "flat.png"), expected)


def test_an_old_unconditioned_model_still_checks_the_range(tmp_path):
    model = tmp_path / "old.pt"
    save_model(model, busy_model(), info={"params": {"scale": 1, "jpeg_quality": 20}})
    Image.fromarray(synthetic_photo(15, 40, 56)).save(tmp_path / "q20.jpg", quality=20)
    Image.fromarray(synthetic_photo(16, 40, 56)).save(tmp_path / "q80.jpg", quality=80)
    result = enhance(
        str(tmp_path / "q20.jpg"),
        str(tmp_path / "q80.jpg"),
        "-o",
        str(tmp_path / "out"),
        "--model",
        str(model),
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert "q20.jpg: JPEG quality ~20 (from its quantization table)\n" in result.stdout
    assert "q80.jpg: JPEG quality ~80" in result.stdout and "1 restored, 1 unchanged" in result.stdout


def test_enhance_follows_the_gate_the_evaluate_stage_wrote_for_that_very_model(tmp_path):
    from srcnn.files import file_sha256
    from srcnn.gate import Gate, gate_path, write_gate

    model_path = tmp_path / "model.pt"
    save_model(
        model_path,
        SRCNN(5, 1, 3, 4, 4, residual=True, conditioned=True),
        info={"params": {"scale": 1, "jpeg_quality": [10, 90]}},
    )
    for quality in (20, 85):
        Image.fromarray(synthetic_photo(quality, 40, 56)).save(tmp_path / f"q{quality}.jpg", quality=quality)
    photos = [str(tmp_path / "q20.jpg"), str(tmp_path / "q85.jpg")]

    def enhance_both(*extra: str):
        return enhance(
            *photos,
            "-o",
            str(tmp_path / "out"),
            "--overwrite",
            "--model",
            str(model_path),
            *extra,
            cwd=ROOT,
            check=True,
        )

    result = enhance_both()  # no evaluation: the trained range alone, and a note that says so
    assert result.returncode == 0 and "2 restored, 0 unchanged" in result.stdout
    assert "model.ladder.json is missing: this model's evaluation is unknown" in result.stderr
    write_gate(gate_path(model_path), Gate((10, 90), {20: True, 80: True, 90: False}, file_sha256(model_path), 7))
    result = enhance_both()
    assert result.returncode == 0 and "1 restored, 1 unchanged" in result.stdout and "note" not in result.stderr
    assert (
        "q85.jpg: JPEG quality ~85 (from its quantization table), where the model's evaluation did not find it "
        "safe (quality 90); left unchanged (pass --force to restore it anyway)"
    ) in result.stdout
    assert "2 restored" in enhance_both("--force").stdout
    torch.manual_seed(1)  # retrained on the same qualities, not evaluated: the old verdicts say nothing about it
    save_model(
        model_path,
        SRCNN(5, 1, 3, 4, 4, residual=True, conditioned=True),
        info={"params": {"scale": 1, "jpeg_quality": [10, 90]}},
    )
    result = enhance_both()
    assert "was written for another model" in result.stderr and "2 restored, 0 unchanged" in result.stdout


def test_enhance_never_writes_over_any_of_its_input_photos(tmp_path):
    model = write_model(tmp_path / "model.pt")
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(synthetic_photo(20, 32, 40)).save(photos / "b.jpg", quality=60)  # restored into b.png ...
    Image.fromarray(synthetic_photo(21, 32, 40)).save(photos / "b.png")  # ... which is the user's own photo
    Image.fromarray(synthetic_photo(22, 32, 40)).save(photos / "c.jpg", quality=60)
    before = {path.name: path.read_bytes() for path in photos.iterdir()}
    for inputs in ([photos / "b.jpg", photos / "b.png"], [photos]):  # named one by one, or as a folder
        result = enhance(*map(str, inputs), "-o", str(photos), "--model", str(model), "--overwrite", cwd=ROOT)
        assert {path.name: path.read_bytes() for path in photos.iterdir() if path.name in before} == before
        assert result.returncode == 1, result.stdout + result.stderr
        assert (
            f"{photos / 'b.jpg'}: its output {photos / 'b.png'} is the input photo {photos / 'b.png'}" in result.stderr
        )
    assert (photos / "c.png").is_file() and "1 restored" in result.stdout  # the other photos are still done


def test_two_photos_with_the_same_output_name_are_both_refused(tmp_path):
    model = write_model(tmp_path / "model.pt")
    for folder, seed in (("x", 23), ("y", 24)):
        (tmp_path / folder).mkdir()
        Image.fromarray(synthetic_photo(seed, 32, 40)).save(tmp_path / folder / "p.png")
    out = tmp_path / "out"
    result = enhance(
        str(tmp_path / "x" / "p.png"),
        str(tmp_path / "y" / "p.png"),
        "-o",
        str(out),
        "--model",
        str(model),
        "--overwrite",
        cwd=ROOT,
    )
    assert result.returncode == 1
    for folder in ("x", "y"):
        assert f"{tmp_path / folder / 'p.png'}: its output {out / 'p.png'} would also be the output of" in result.stderr
    assert not out.exists() or not list(out.iterdir())


def test_enhance_refuses_a_device_it_does_not_have_with_a_message(tmp_path, monkeypatch):
    model = write_model(tmp_path / "model.pt")
    Image.fromarray(synthetic_photo(25, 32, 40)).save(tmp_path / "p.png")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # a machine with no GPU
    result = enhance(
        str(tmp_path / "p.png"), "-o", str(tmp_path / "out"), "--model", str(model), "--device", "cuda", cwd=ROOT
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "enhance: --device cuda: no CUDA GPU is visible" in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_photo_the_model_fails_on_is_named_and_the_others_are_still_done(tmp_path, monkeypatch, capsys):
    import srcnn.inference
    from srcnn.__main__ import main

    model = write_model(tmp_path / "model.pt")
    Image.fromarray(synthetic_photo(26, 300, 400)).save(tmp_path / "big.jpg", quality=50)
    Image.fromarray(synthetic_photo(27, 32, 40)).save(tmp_path / "small.jpg", quality=50)
    forward_luma = srcnn.inference.forward_luma

    def out_of_memory_on_big_tiles(model, luma, *args, **kwargs):  # what a GPU with little memory does
        if luma.numel() > 100_000:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return forward_luma(model, luma, *args, **kwargs)

    monkeypatch.setattr(srcnn.inference, "forward_luma", out_of_memory_on_big_tiles)
    status = main(
        [
            "enhance",
            str(tmp_path / "big.jpg"),
            str(tmp_path / "small.jpg"),
            "-o",
            str(tmp_path / "out"),
            "--model",
            str(model),
            "--precision",
            "fp32",
        ]
    )
    printed = capsys.readouterr()
    assert status == 1
    assert (
        f"enhance: skipped {tmp_path / 'big.jpg'}: out of memory (CUDA out of memory. Tried to allocate 2.00 GiB); "
        f"a smaller --tile (now 512) needs less"
    ) in printed.err
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["small.png"]
    assert "1 restored, 0 unchanged, 0 kept, 1 skipped" in printed.out


@pytest.mark.parametrize(
    "damage", [{"rungs": {"twenty": True}}, {"rungs": [20, 90]}, {"trained": 10}, {"trained": [10, "ninety"]}]
)
def test_a_damaged_gate_file_is_a_clear_error_naming_it(tmp_path, damage):
    import json

    from srcnn.files import file_sha256
    from srcnn.gate import Gate, gate_path, write_gate

    model = write_conditioned(tmp_path / "model.pt", [10, 90])
    Image.fromarray(synthetic_photo(28, 32, 40)).save(tmp_path / "p.jpg", quality=50)
    gate = gate_path(model)
    write_gate(gate, Gate((10, 90), {20: True, 90: False}, file_sha256(model), 7))
    gate.write_text(json.dumps({**json.loads(gate.read_text()), **damage}))
    result = enhance(str(tmp_path / "p.jpg"), "-o", str(tmp_path / "out"), "--model", str(model), cwd=ROOT)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert f"enhance: {gate}: a damaged gate file" in result.stderr and "dvc repro evaluate" in result.stderr
    assert not (tmp_path / "out").exists()


def test_webp_outputs_are_lossless_unless_an_output_quality_is_given(tmp_path):
    model = write_conditioned(tmp_path / "model.pt", [10, 90])
    rgb = synthetic_photo(29, 40, 56)
    Image.fromarray(rgb).save(tmp_path / "photo.png")
    common = ("--model", str(model), "--format", "webp", "--quality", "30", "--precision", "fp32")
    result = enhance(str(tmp_path / "photo.png"), "-o", str(tmp_path / "out"), *common, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    from srcnn.jpeg import strength_for_quality

    expected = restore_rgb(conditioned_model(), rgb, strength=strength_for_quality(30))
    assert np.array_equal(pixels(tmp_path / "out" / "photo.webp"), expected)
    result = enhance(
        str(tmp_path / "photo.png"), "-o", str(tmp_path / "small"), *common, "--output-quality", "80", cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert not np.array_equal(pixels(tmp_path / "small" / "photo.webp"), expected)  # lossy, as asked
    assert (tmp_path / "small" / "photo.webp").stat().st_size < (tmp_path / "out" / "photo.webp").stat().st_size


def test_a_photo_written_unchanged_keeps_its_alpha_and_its_pixels(tmp_path):
    model = write_conditioned(tmp_path / "model.pt", [10, 90])
    rgba = np.dstack([synthetic_photo(30, 40, 56), np.linspace(0, 255, 40 * 56).reshape(40, 56).astype(np.uint8)])
    Image.fromarray(rgba).save(tmp_path / "logo.png")
    Image.fromarray(rgba[..., [0, 3]]).save(tmp_path / "gray.png")  # grey with alpha
    for format in ("png", "webp", "tif"):
        out = tmp_path / format
        result = enhance(
            str(tmp_path / "logo.png"),
            str(tmp_path / "gray.png"),
            "-o",
            str(out),
            "--model",
            str(model),
            "--format",
            format,
            cwd=ROOT,
        )
        assert result.returncode == 0 and "0 restored, 2 unchanged" in result.stdout, result.stdout + result.stderr
        with Image.open(out / f"logo.{format}") as logo, Image.open(out / f"gray.{format}") as gray:
            assert logo.mode == "RGBA" and np.array_equal(np.asarray(logo), rgba)
            assert np.array_equal(np.asarray(gray.convert("LA")), rgba[..., [0, 3]])  # WebP holds it as RGBA
    assert (tmp_path / "png" / "logo.png").read_bytes() == (tmp_path / "logo.png").read_bytes()  # the very bytes


def test_auto_precision_runs_int8_on_large_photos_only(tmp_path):
    """int8 calibrates on each photo: that pays off from 2 megapixels on; smaller photos run in the
    faster of the others, bf16 where the CPU has it natively, else fp32."""
    from srcnn.device import pick_precision
    from srcnn.quantized import engine

    if engine() is None:
        pytest.skip("this PyTorch has no quantized CPU backend")
    model = write_model(tmp_path / "model.pt")
    small = synthetic_photo(32, 32, 40)
    Image.fromarray(small).save(tmp_path / "small.png")
    Image.fromarray(synthetic_photo(33, 1200, 1700)).save(tmp_path / "large.png")  # 2.04 megapixels
    result = enhance(
        str(tmp_path / "small.png"),
        str(tmp_path / "large.png"),
        "-o",
        str(tmp_path / "out"),
        "--model",
        str(model),
        "--device",
        "cpu",
        cwd=ROOT,
    )
    others = pick_precision("auto", torch.device("cpu"))
    assert result.returncode == 0, result.stderr
    others_name = "bf16" if others == torch.bfloat16 else "fp32"
    assert (
        f"2 restored, 0 unchanged, 0 kept, 0 skipped (model {model}, scale 1, {others_name} for 1 photo and "
        f"int8 for 1 photo, 1 pass, tiles of 512)" in result.stdout
    )
    assert np.array_equal(pixels(tmp_path / "out" / "small.png"), restore_rgb(busy_model(), small, dtype=others))


AVX2_ONLY = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "FBGEMM_ENABLE_INSTRUCTIONS": "AVX2"}


def test_auto_precision_is_fp32_for_a_small_photo_where_bf16_is_emulated(tmp_path, monkeypatch):
    """As on an AMD Zen 3 (AVX2 only, which PyTorch's libraries can be told to use on any x86 CPU):
    bf16 is emulated there, many times slower than fp32."""
    import platform

    if platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip("AVX2 is an x86 instruction set")
    model = write_model(tmp_path / "model.pt")
    Image.fromarray(synthetic_photo(31, 32, 40)).save(tmp_path / "p.png")
    for name, value in AVX2_ONLY.items():
        monkeypatch.setenv(name, value)
    result = enhance(str(tmp_path / "p.png"), "-o", str(tmp_path / "out"), "--model", str(model), cwd=ROOT)
    assert result.returncode == 0 and ", fp32, 1 pass, tiles of 512)" in result.stdout, result.stdout + result.stderr


def test_a_jpeg_re_saved_or_cropped_and_re_saved_is_restored_at_the_strength_its_pixels_show(tmp_path):
    clean = skimage.data.astronaut()[:200, 120:352]
    once = np.asarray(Image.open(io.BytesIO(jpeg_bytes(clean, 30))).convert("RGB"))
    references = {"resaved.jpg": clean, "cropped.jpg": clean[3:, 3:]}
    (tmp_path / "resaved.jpg").write_bytes(jpeg_bytes(once, 90))
    (tmp_path / "cropped.jpg").write_bytes(jpeg_bytes(np.ascontiguousarray(once[3:, 3:]), 90))
    shrink = Journey("resized", (30, 90), resize=0.75, resampling="bicubic")
    references["shrunk.jpg"], shrunk = travelled_file(clean, shrink)
    (tmp_path / "shrunk.jpg").write_bytes(shrunk)
    (tmp_path / "once.jpg").write_bytes(jpeg_bytes(clean, 90))
    Image.fromarray(clean).save(tmp_path / "clean.png")
    result = enhance(
        *(str(tmp_path / name) for name in ("resaved.jpg", "cropped.jpg", "shrunk.jpg", "once.jpg", "clean.png")),
        "-o",
        str(tmp_path / "out"),
        "--model",
        "models/pretrained/restorer-colour.pt",
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    for name in ("resaved.jpg", "cropped.jpg"):
        assert f"{name}: JPEG quality ~30 (its pixels show a compression stronger than its table's ~90" in result.stdout
    # shrunk after its save at 30: its old grid, enlarged back, is found; restored as a lighter save than 30
    assert "shrunk.jpg: JPEG quality ~53 (its pixels show a save at ~30, then a shrink to 75.0% " in result.stdout
    assert "once.jpg: JPEG quality ~90 (from its quantization table)" in result.stdout, result.stdout
    for name, reference in references.items():
        before, after = pixels(tmp_path / name), pixels(tmp_path / "out" / name.replace(".jpg", ".png"))
        assert psnr(reference, after) > psnr(reference, before) + 0.5, name
    assert (tmp_path / "out" / "clean.png").read_bytes() == (tmp_path / "clean.png").read_bytes()


def jpeg_bytes(rgb: np.ndarray, quality: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def test_quality_sets_the_strength_of_jpeg_files_too_and_a_quality_over_100_is_refused(tmp_path):
    model = write_conditioned(tmp_path / "model.pt", [10, 95])
    (tmp_path / "photo.jpg").write_bytes(jpeg_bytes(synthetic_photo(14, 48, 64), 50))
    decoded = pixels(tmp_path / "photo.jpg").astype(np.uint8)
    from srcnn.jpeg import strength_for_quality

    for quality in ("20", "60"):  # more smoothing, more detail than its table's 50
        out = tmp_path / f"q{quality}"
        result = enhance(
            str(tmp_path / "photo.jpg"), "-o", str(out), "--model", str(model), "--quality", quality, "--precision",
            "fp32", cwd=ROOT,
        )  # fmt: skip
        assert f"photo.jpg: JPEG quality {quality} (from --quality)" in result.stdout, result.stdout
        expected = restore_rgb(conditioned_model(), decoded, strength=strength_for_quality(int(quality)))
        assert np.array_equal(pixels(out / "photo.png"), expected)
    bad = enhance(
        str(tmp_path / "photo.jpg"), "-o", str(tmp_path / "bad"), "--model", str(model), "--quality", "101", cwd=ROOT
    )
    assert bad.returncode == 2 and "--quality 101" in bad.stderr and not (tmp_path / "bad").exists()


def test_a_photo_too_small_for_the_pixel_check_is_left_unchanged_and_says_why(tmp_path):
    model = write_conditioned(tmp_path / "model.pt", [10, 95])
    tiny = np.asarray(Image.open(io.BytesIO(jpeg_bytes(synthetic_photo(15, 48, 40)[:12], 30))).convert("RGB"))
    Image.fromarray(tiny).save(tmp_path / "tiny.png")
    result = enhance(str(tmp_path / "tiny.png"), "-o", str(tmp_path / "out"), "--model", str(model), cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "tiny.png: no JPEG history (not a JPEG, too small for the pixel check: under 16 px); left unchanged" in (
        result.stdout
    )
    assert (tmp_path / "out" / "tiny.png").read_bytes() == (tmp_path / "tiny.png").read_bytes()
