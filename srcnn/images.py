"""The one image loader and writer: photos in, RGB or luma arrays out, PNGs written atomically.

``load_rgb`` opens any photo Pillow reads (JPEG, PNG, TIFF, WebP, BMP, …), refuses decompression
bombs before decoding, applies the EXIF orientation and returns 8-bit RGB. Alpha is composited onto
a neutral grey background; 16-bit and palette images are converted; CMYK goes through Pillow.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from .files import atomic_path

PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp"})
MAX_PIXELS = 100_000_000  # larger than any camera photo; more is refused as a decompression bomb
ALPHA_BACKGROUND = (128, 128, 128)


class ImageError(ValueError):
    """A file that cannot be used as a photo; the message names the file and the reason."""


def is_photo_name(path: Path) -> bool:
    return path.suffix.lower() in PHOTO_SUFFIXES


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if array.max(initial=0) > 255 else 255.0
        image = Image.fromarray(np.round(array * (255.0 / peak)).clip(0, 255).astype(np.uint8), "L")
    if image.mode == "F":
        array = np.asarray(image, dtype=np.float64)
        image = Image.fromarray(np.round(array.clip(0, 1) * 255).astype(np.uint8), "L")
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, ALPHA_BACKGROUND + (255,))
        image = Image.alpha_composite(background, rgba)
    return image.convert("RGB")


def load_rgb(path: str | Path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read a photo as an H×W×3 uint8 RGB array, EXIF orientation applied.

    Raises ImageError naming the file for anything that is not a readable photo.
    """
    path = Path(path)
    try:
        with Image.open(path) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise ImageError(f"{path}: {width}×{height} = {width * height:,} pixels is more than "
                                 f"the limit of {max_pixels:,} (decompression bomb?); not decoded")
            image.load()
            image = ImageOps.exif_transpose(image)
            return np.asarray(_to_rgb(image), dtype=np.uint8).copy()
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageError(f"{path}: refused as a decompression bomb ({error})") from None
    except FileNotFoundError:
        raise ImageError(f"{path}: file not found") from None
    except Exception as error:  # Pillow raises many types for broken files
        raise ImageError(f"{path}: not a readable image ({type(error).__name__}: {error})") from None


def load_gray(path: str | Path) -> np.ndarray:
    """Read an 8-bit single-channel image (a tile or a luma plane) as an H×W uint8 array."""
    path = Path(path)
    try:
        with Image.open(path) as image:
            if image.mode != "L":
                from .color import rgb_to_y
                return np.round(rgb_to_y(load_rgb(path))).clip(0, 255).astype(np.uint8)
            return np.asarray(image, dtype=np.uint8).copy()
    except ImageError:
        raise
    except Exception as error:
        raise ImageError(f"{path}: not a readable image ({type(error).__name__}: {error})") from None


def save_png(path: str | Path, array: np.ndarray) -> None:
    """Write a uint8 H×W or H×W×3 array as PNG, atomically."""
    if array.dtype != np.uint8:
        raise TypeError(f"save_png expects uint8, got {array.dtype}")
    with atomic_path(path) as temp:
        Image.fromarray(array).save(temp, format="PNG", compress_level=1)
