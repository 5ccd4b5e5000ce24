import math

import numpy as np

from srcnn.metrics import PSNR_CAP, psnr


def test_psnr_matches_the_formula():
    reference = np.full((8, 8), 100.0)
    test = reference + 5.0  # MSE 25
    assert psnr(reference, test) == 10 * math.log10(255**2 / 25)


def test_psnr_of_identical_images_is_finite():
    image = np.random.default_rng(0).uniform(0, 255, (16, 16))
    assert psnr(image, image) == PSNR_CAP
