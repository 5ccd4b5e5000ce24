"""`python -m srcnn enhance` keeps photos whole: alpha, 16 bits, EXIF, ICC, XMP and file times;
animations and unknown output names are refused, never cut or turned into folders."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import imagecodecs
import numpy as np
import pytest
import torch
from conftest import ROOT, run, synthetic_photo
from PIL import Image, ImageCms

from srcnn.archs import SRCNN
from srcnn.inference import save_model

XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="4"/></rdf:RDF></x:xmpmeta>'
)
TIMES = (1_500_000_000, 1_400_000_000)  # access, modification: 2017 and 2014


def write_model(path: Path) -> Path:
    """A small model that changes photos, trained on qualities 10–90 (so PNGs need --quality)."""
    torch.manual_seed(0)
    model = SRCNN(kernel1=5, kernel2=3, kernel3=3, filters1=8, filters2=4, residual=True).eval()
    torch.nn.init.normal_(model.reconstruct.weight, std=0.05)
    save_model(path, model, info={"params": {"scale": 1, "jpeg_quality": [10, 90]}})
    return path


def enhance(*args: str):
    return run([sys.executable, "-m", "srcnn", "enhance", *args], cwd=ROOT, check=False)


def test_rgba_and_la_keep_their_alpha_when_restored(tmp_path):
    model = write_model(tmp_path / "model.pt")
    rgba = np.dstack([synthetic_photo(1, 40, 56), np.linspace(0, 255, 40 * 56).reshape(40, 56).astype(np.uint8)])
    Image.fromarray(rgba).save(tmp_path / "logo.png")
    Image.fromarray(rgba[..., [0, 3]]).save(tmp_path / "gray.png")
    result = enhance(
        str(tmp_path / "logo.png"), str(tmp_path / "gray.png"), "-o", str(tmp_path / "out"), "--model", str(model),
        "--quality", "30",
    )  # fmt: skip
    assert result.returncode == 0 and "2 restored" in result.stdout, result.stdout + result.stderr
    with Image.open(tmp_path / "out" / "logo.png") as logo, Image.open(tmp_path / "out" / "gray.png") as gray:
        assert logo.mode == "RGBA" and np.array_equal(np.asarray(logo)[..., 3], rgba[..., 3])
        assert np.abs(np.asarray(logo)[..., :3].astype(int) - rgba[..., :3]).mean() > 0.5  # restored
        assert gray.mode == "LA" and np.array_equal(np.asarray(gray)[..., 1], rgba[..., 3])


@pytest.mark.parametrize("kind", ["WEBP", "PNG", "TIFF"])
def test_an_animation_is_refused_naming_it_never_cut_to_its_first_frame(tmp_path, kind):
    model = write_model(tmp_path / "model.pt")
    frames = [Image.fromarray(synthetic_photo(seed, 32, 32)) for seed in range(3)]
    photo = tmp_path / f"anim.{kind.lower()}"
    frames[0].save(photo, kind, save_all=True, append_images=frames[1:])
    result = enhance(str(photo), "-o", str(tmp_path / "out"), "--model", str(model), "--quality", "30")
    assert result.returncode == 1 and f"{photo}: 3 frames" in result.stderr, result.stdout + result.stderr
    assert not (tmp_path / "out" / "anim.png").exists()


def deep_photo(seed: int, height: int = 40, width: int = 56) -> np.ndarray:
    """A 16-bit colour photo whose low bytes matter."""
    return (
        (synthetic_photo(seed, height, width).astype(np.float64) * 257 + np.arange(width)[:, None] * 7)
        .clip(0, 65535)
        .astype(np.uint16)
    )


def test_a_16_bit_png_comes_out_16_bit_restored_in_float(tmp_path):
    model = write_model(tmp_path / "model.pt")
    deep = deep_photo(2)
    (tmp_path / "deep.png").write_bytes(imagecodecs.png_encode(deep))
    result = enhance(str(tmp_path / "deep.png"), "-o", str(tmp_path / "out"), "--model", str(model), "--quality", "30",
                     "--precision", "fp32")  # fmt: skip
    assert result.returncode == 0 and "1 restored" in result.stdout, result.stdout + result.stderr
    restored = imagecodecs.png_decode((tmp_path / "out" / "deep.png").read_bytes())
    assert restored.dtype == np.uint16 and restored.shape == deep.shape
    assert len(np.unique(restored % 257)) > 100  # not 8-bit levels scaled up
    assert np.abs(restored.astype(float) - deep).mean() > 100  # really restored
    # the same photo as JPEG: 8 bits, and said so on its line
    result = enhance(str(tmp_path / "deep.png"), "-o", str(tmp_path / "deep.jpg"), "--model", str(model),
                     "--quality", "30")  # fmt: skip
    assert (
        result.returncode == 0 and "deep.png: " in result.stdout and "8 bits per channel, not its 16" in result.stdout
    )


def test_a_16_bit_tiff_left_unchanged_is_a_16_bit_png_with_true_exif(tmp_path):
    model = write_model(tmp_path / "model.pt")
    deep = deep_photo(3)
    exif = Image.Exif()
    exif[0x010F] = "TestCam"
    import tifffile

    tifffile.imwrite(tmp_path / "scan.tif", deep, photometric="rgb", extratags=[(271, "s", 0, "TestCam", True)])
    result = enhance(str(tmp_path / "scan.tif"), "-o", str(tmp_path / "out"), "--model", str(model))
    assert result.returncode == 0 and "1 unchanged" in result.stdout, result.stdout + result.stderr
    assert np.array_equal(imagecodecs.png_decode((tmp_path / "out" / "scan.png").read_bytes()), deep)
    with Image.open(tmp_path / "out" / "scan.png") as output:
        written = output.getexif()
        assert written.get(0x010F) == "TestCam" and 0x0102 not in written and 0x0100 not in written


def metadata_photo(path: Path) -> tuple[bytes, bytes]:
    """A JPEG of quality 30 with EXIF (Make, orientation 6), an sRGB profile and XMP, dated 2014."""
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x010F], exif[0x0112] = "TestCam", 6
    Image.fromarray(synthetic_photo(4, 40, 56)).save(path, quality=30, exif=exif.tobytes(), icc_profile=icc, xmp=XMP)
    os.utime(path, TIMES)
    return icc, XMP


@pytest.mark.parametrize("suffix", ["png", "jpg", "webp", "tif"])
def test_exif_icc_xmp_and_file_times_survive_enhance(tmp_path, suffix):
    model = write_model(tmp_path / "model.pt")
    icc, xmp = metadata_photo(tmp_path / "photo.jpg")
    for restored in (True, False):  # restored, and written unchanged (--quality outside the trained range)
        out = tmp_path / f"{restored}.{suffix}"
        result = enhance(str(tmp_path / "photo.jpg"), "-o", str(out), "--model", str(model),
                         *([] if restored else ["--output-quality", "90"]))  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        with Image.open(out) as output:
            exif = output.getexif()
            assert exif.get(0x010F) == "TestCam" and exif.get(0x0112, 1) == 1 and output.size == (40, 56)
            assert output.info.get("icc_profile") == icc
            assert b'xmp:Rating="4"' in (output.info.get("xmp") or b"")
        assert int(out.stat().st_mtime) == TIMES[1]  # (reading the photo may set its access time)
    result = enhance(str(tmp_path / "photo.jpg"), "-o", str(tmp_path / f"now.{suffix}"), "--model", str(model),
                     "--no-keep-times")  # fmt: skip
    assert result.returncode == 0 and (tmp_path / f"now.{suffix}").stat().st_mtime > TIMES[1] + 1e8


def test_an_output_name_with_an_unknown_suffix_is_refused(tmp_path):
    model = write_model(tmp_path / "model.pt")
    Image.fromarray(synthetic_photo(5, 32, 32)).save(tmp_path / "photo.png")
    result = enhance(str(tmp_path / "photo.png"), "-o", str(tmp_path / "x.gif"), "--model", str(model))
    assert result.returncode == 2 and f"-o {tmp_path / 'x.gif'}: '.gif' is not an output format" in result.stderr
    assert not (tmp_path / "x.gif").exists()
    result = enhance(str(tmp_path / "photo.png"), "-o", str(tmp_path / "v1.5"), "--model", str(model))
    assert result.returncode == 0 and (tmp_path / "v1.5" / "photo.png").is_file()  # a folder, as before
