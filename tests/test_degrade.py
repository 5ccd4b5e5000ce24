import io

import numpy as np
from conftest import synthetic_photo
from PIL import Image
from PIL.JpegImagePlugin import JpegImageFile

from srcnn.color import rgb_to_y
from srcnn.degrade import bicubic_down_up, crop_to_multiple, degrade, fit_long_side, jpeg_roundtrip
from srcnn.jpeg import standard_qtable
from srcnn.metrics import psnr


def test_fit_long_side_shrinks_but_never_enlarges():
    photo = synthetic_photo(0, 150, 200)
    assert fit_long_side(photo, 100).shape == (75, 100, 3)
    assert fit_long_side(photo, 400) is photo


def test_jpeg_20_damages_the_photo_but_keeps_it_recognisable():
    clean = synthetic_photo(1)
    degraded = degrade(clean, scale=1, jpeg_quality=20)
    assert degraded.shape == clean.shape and degraded.dtype == np.uint8
    quality = psnr(rgb_to_y(clean), rgb_to_y(degraded))
    assert 22 < quality < 40
    assert psnr(rgb_to_y(clean), rgb_to_y(degrade(clean, 1, 90))) > quality


def test_super_resolution_loss_keeps_the_size_and_blurs():
    clean = crop_to_multiple(synthetic_photo(2, 151, 202), 3)
    assert clean.shape == (150, 201, 3)
    blurred = bicubic_down_up(clean, 3)
    assert blurred.shape == clean.shape
    assert np.abs(np.diff(blurred.astype(float), axis=1)).mean() < np.abs(np.diff(clean.astype(float), axis=1)).mean()
    assert degrade(clean, 3, None).shape == clean.shape


# JPEG standard, Annex K.2: the chroma table at quality 50, natural order (libjpeg's std_chrominance_quant_tbl)
BASE_CHROMA = (
    17,
    18,
    24,
    47,
    99,
    99,
    99,
    99,
    18,
    21,
    26,
    66,
    99,
    99,
    99,
    99,
    24,
    26,
    56,
    99,
    99,
    99,
    99,
    99,
    47,
    66,
    99,
    99,
    99,
    99,
    99,
    99,
    *[99] * 32,
)


def test_the_jpeg_step_is_a_cameras_baseline_jpeg_420_with_the_standard_luma_and_chroma_tables():
    clean = synthetic_photo(3, 64, 80)
    for quality in (10, 20, 50, 90):
        scale = 5000 // quality if quality < 50 else 200 - 2 * quality
        chroma = [min(max((base * scale + 50) // 100, 1), 255) for base in BASE_CHROMA]
        buffer = io.BytesIO()
        Image.fromarray(clean).save(
            buffer, format="JPEG", qtables=[standard_qtable(quality), chroma], subsampling="4:2:0"
        )
        with Image.open(buffer) as written:
            assert isinstance(written, JpegImageFile)
            assert written.layer[1][1:3] == (1, 1) and written.layer[0][1:3] == (2, 2)  # chroma at half size
            expected = np.asarray(written.convert("RGB"))
        assert np.array_equal(jpeg_roundtrip(clean, quality), expected), quality
        assert np.array_equal(degrade(clean, 1, quality), expected)
