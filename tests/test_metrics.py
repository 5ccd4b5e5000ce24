"""PSNR, SSIM and PSNR-B against scikit-image and against cases worked out by hand."""

import math

import numpy as np
import pytest
from skimage import data
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from srcnn.color import rgb_to_y
from srcnn.degrade import jpeg_roundtrip
from srcnn.metrics import PSNR_CAP, blocking_effect_factor, psnr, psnr_b, ssim


def skimage_ssim(reference: np.ndarray, test: np.ndarray) -> float:
    return structural_similarity(
        reference, test, data_range=255, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )


def pairs():
    """(name, reference, test): random images and real photos with real JPEG damage, float64 luma."""
    rng = np.random.default_rng(1)
    noisy = rng.uniform(0, 255, (40, 53))
    yield "random", noisy, (noisy + rng.normal(0, 12, noisy.shape)).clip(0, 255)
    yield "random_far", rng.uniform(0, 255, (31, 29)), rng.uniform(0, 255, (31, 29))
    camera = data.camera()[::2, ::2]
    yield "camera_jpeg", camera.astype(np.float64), jpeg_roundtrip(camera, 15).astype(np.float64)
    astronaut = data.astronaut()[100:300, 150:400]
    yield "astronaut_luma_jpeg", rgb_to_y(astronaut), rgb_to_y(jpeg_roundtrip(astronaut, 30))


@pytest.mark.parametrize("border", [0, 3])
@pytest.mark.parametrize("name, reference, test", list(pairs()))
def test_psnr_and_ssim_match_scikit_image(name, reference, test, border):
    inner = (slice(border, -border), slice(border, -border)) if border else (slice(None), slice(None))
    expected_psnr = peak_signal_noise_ratio(reference[inner], test[inner], data_range=255)
    expected_ssim = skimage_ssim(reference[inner], test[inner])
    assert abs(psnr(reference, test, border) - expected_psnr) < 1e-6
    assert abs(ssim(reference, test, border) - expected_ssim) < 1e-4
    assert abs(ssim(reference, test, border) - expected_ssim) < 1e-9  # in fact the same computation


def test_psnr_matches_the_formula():
    reference = np.full((8, 8), 100.0)
    test = reference + 5.0  # MSE 25
    assert psnr(reference, test) == 10 * math.log10(255**2 / 25)


def test_psnr_of_identical_images_is_finite():
    image = np.random.default_rng(0).uniform(0, 255, (16, 16))
    assert psnr(image, image) == PSNR_CAP
    assert psnr_b(image, image) <= PSNR_CAP


def test_border_ignores_the_edge_pixels():
    reference = np.full((20, 20), 50.0)
    test = reference.copy()
    test[:2, :] = 0.0  # damage only in the top two rows
    assert psnr(reference, test, border=2) == PSNR_CAP
    assert psnr(reference, test, border=1) < 30
    with pytest.raises(ValueError, match="border 10 leaves no pixels"):
        psnr(reference, test, border=10)


def test_ssim_of_two_flat_images_by_hand():
    # no variance: SSIM is the luminance term alone, (2·μx·μy + C1) / (μx² + μy² + C1)
    c1 = (0.01 * 255) ** 2
    expected = (2 * 100 * 110 + c1) / (100**2 + 110**2 + c1)
    assert abs(ssim(np.full((16, 16), 100.0), np.full((16, 16), 110.0)) - expected) < 1e-12
    image = np.random.default_rng(2).uniform(0, 255, (16, 16))
    assert ssim(image, image) == pytest.approx(1.0, abs=1e-12)


def test_ssim_refuses_images_smaller_than_its_window():
    with pytest.raises(ValueError, match="11×11"):
        ssim(np.zeros((12, 12)), np.zeros((12, 12)), border=1)


def test_metrics_refuse_different_shapes():
    with pytest.raises(ValueError, match="same-shape"):
        psnr(np.zeros((8, 8)), np.zeros((8, 9)))


def blocky(values: tuple[float, float, float, float]) -> np.ndarray:
    """16×16: four flat 8×8 blocks a b / c d."""
    a, b, c, d = values
    return np.block([[np.full((8, 8), a), np.full((8, 8), b)], [np.full((8, 8), c), np.full((8, 8), d)]])


def test_psnr_b_of_flat_blocks_by_hand():
    a, b, c, d = 10.0, 20.0, 40.0, 30.0
    image = blocky((a, b, c, d))
    # differences inside blocks are 0; across the vertical edge (after column 7): 8 rows (a-b)² and
    # 8 rows (c-d)²; across the horizontal edge: 8 columns (a-c)² and 8 columns (b-d)²; 32 edge pairs
    edge_mean = (8 * (a - b) ** 2 + 8 * (c - d) ** 2 + 8 * (a - c) ** 2 + 8 * (b - d) ** 2) / 32
    eta = math.log2(8) / math.log2(16)
    assert blocking_effect_factor(image) == pytest.approx(eta * edge_mean, rel=1e-12)
    # the reference equals the test: MSE 0, so PSNR-B is 10·log10(255² / BEF)
    assert psnr_b(image, image) == pytest.approx(10 * math.log10(255**2 / (eta * edge_mean)), rel=1e-12)
    # a constant offset adds its square to the MSE
    assert psnr_b(image + 2.0, image) == pytest.approx(10 * math.log10(255**2 / (4 + eta * edge_mean)), rel=1e-12)


def test_psnr_b_equals_psnr_without_blocking():
    ramp = np.add.outer(np.arange(24.0), np.arange(24.0)) * 3  # every neighbour differs by 3
    other = ramp + np.random.default_rng(3).normal(0, 2, ramp.shape)
    assert blocking_effect_factor(ramp) == 0.0
    assert psnr_b(other, ramp) == psnr(other, ramp)


def test_psnr_b_keeps_the_block_grid_under_a_border():
    image = np.pad(blocky((10.0, 20.0, 40.0, 30.0)), 8, mode="edge")  # 32×32, one edge: 15|16
    assert blocking_effect_factor(image[2:-2, 2:-2], offset=2) > 0
    assert blocking_effect_factor(image[2:-2, 2:-2], offset=0) == 0.0  # a shifted grid misses the edges


def test_psnr_b_penalises_real_jpeg_blocking_more_than_psnr():
    camera = data.camera()[:256, :256]
    damaged = jpeg_roundtrip(camera, 10).astype(np.float64)
    assert blocking_effect_factor(damaged) > 0
    assert psnr_b(camera, damaged) < psnr(camera, damaged)
