import numpy as np

from conftest import synthetic_photo
from srcnn.color import rgb_to_y
from srcnn.degrade import bicubic_down_up, crop_to_multiple, degrade, fit_long_side
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
