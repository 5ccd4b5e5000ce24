"""Image quality metrics on luma (PSNR on RGB too), in float64, computed the way the restoration
literature does.

- ``psnr``: 10·log10(255² / MSE); identical images give ``PSNR_CAP`` instead of infinity so JSON
  stays finite.
- ``ssim``: Wang et al. 2004 with an 11-tap Gaussian window (σ = 1.5), K1 = 0.01, K2 = 0.03,
  matching scikit-image's ``structural_similarity(..., gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False)``.
- ``psnr_b``: PSNR-B of Yim & Bovik 2011, PSNR with a blocking-effect factor for 8×8 block codecs.

All take two same-shape 2-D arrays in [0, 255] (reference first; ``psnr`` also H×W×3, for PSNR on
RGB: the MSE over every channel) and a ``border`` cropped at each edge (the super-resolution
convention: ``scale`` pixels). Average them over photos, one value per photo: never the PSNR of a
mean MSE over a batch.
"""

from __future__ import annotations

import math

import numpy as np

PEAK = 255.0
PSNR_CAP = 100.0  # dB reported for identical images (MSE = 0)


def _crop(reference: np.ndarray, test: np.ndarray, border: int, rgb: bool = False) -> tuple[np.ndarray, np.ndarray]:
    reference = np.asarray(reference, dtype=np.float64)
    test = np.asarray(test, dtype=np.float64)
    allowed = reference.ndim == 2 or (rgb and reference.ndim == 3 and reference.shape[2] == 3)
    if reference.shape != test.shape or not allowed:
        wanted = "2-D or H×W×3" if rgb else "2-D"
        raise ValueError(f"metrics need two same-shape {wanted} images, got {reference.shape} and {test.shape}")
    if border:
        reference, test = reference[border:-border, border:-border], test[border:-border, border:-border]
    if reference.size == 0:
        raise ValueError(f"border {border} leaves no pixels")
    return reference, test


def psnr_from_mse(mse: float) -> float:
    return PSNR_CAP if mse <= 0 else min(PSNR_CAP, 10.0 * math.log10(PEAK**2 / mse))


def psnr(reference: np.ndarray, test: np.ndarray, border: int = 0) -> float:
    reference, test = _crop(reference, test, border, rgb=True)
    return psnr_from_mse(float(np.mean((reference - test) ** 2)))


def ssim(reference: np.ndarray, test: np.ndarray, border: int = 0) -> float:
    reference, test = _crop(reference, test, border)
    if min(reference.shape) < 11:
        raise ValueError(f"SSIM needs at least 11×11 pixels after the border, got {reference.shape}")
    sigma, truncate = 1.5, 3.5  # radius int(3.5·1.5 + 0.5) = 5: the 11×11 window
    c1, c2 = (0.01 * PEAK) ** 2, (0.03 * PEAK) ** 2

    from scipy.ndimage import gaussian_filter  # here: `srcnn enhance` and most stages need PSNR alone (0.3 s a start)

    def blur(image: np.ndarray) -> np.ndarray:
        return gaussian_filter(image, sigma=sigma, truncate=truncate, mode="reflect")

    mu_x, mu_y = blur(reference), blur(test)
    var_x = blur(reference * reference) - mu_x * mu_x
    var_y = blur(test * test) - mu_y * mu_y
    cov = blur(reference * test) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    pad = 5  # the window's radius: values nearer the edge see the reflected padding
    return float(ssim_map[pad:-pad, pad:-pad].mean())


def blocking_effect_factor(image: np.ndarray, block: int = 8, offset: int = 0) -> float:
    """BEF of Yim & Bovik: how much stronger differences are across block edges than inside blocks.

    ``offset``: pixels cut from the top and left before (a border), so that the block grid stays
    where the codec put it.
    """
    image = np.asarray(image, dtype=np.float64)
    height, width = image.shape
    col_diff = (image[:, :-1] - image[:, 1:]) ** 2  # pair (j, j+1), j = 0 … width-2
    row_diff = (image[:-1, :] - image[1:, :]) ** 2
    col_edge = ((np.arange(width - 1) + offset) % block) == block - 1
    row_edge = ((np.arange(height - 1) + offset) % block) == block - 1
    edge_sum = col_diff[:, col_edge].sum() + row_diff[row_edge, :].sum()
    inner_sum = col_diff[:, ~col_edge].sum() + row_diff[~row_edge, :].sum()
    edge_count = height * col_edge.sum() + width * row_edge.sum()
    inner_count = height * (~col_edge).sum() + width * (~row_edge).sum()
    if edge_count == 0 or inner_count == 0:
        return 0.0
    d_edge, d_inner = edge_sum / edge_count, inner_sum / inner_count
    if d_edge <= d_inner:
        return 0.0
    eta = math.log2(block) / math.log2(min(height, width))
    return float(eta * (d_edge - d_inner))


def psnr_b(reference: np.ndarray, test: np.ndarray, border: int = 0) -> float:
    """PSNR-B: 10·log10(255² / (MSE + BEF(test))), the 8×8 grid anchored at the uncropped corner."""
    reference, test = _crop(reference, test, border)
    mse = float(np.mean((reference - test) ** 2))
    return psnr_from_mse(mse + blocking_effect_factor(test, offset=border))
