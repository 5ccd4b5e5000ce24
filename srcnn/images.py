"""The one image loader and writer: photos in, RGB or luma arrays out, PNGs written atomically.

``load_rgb`` opens a JPEG, PNG, TIFF, WebP or BMP file (by content, whatever its extension says),
refuses decompression bombs before decoding anything, refuses truncated or corrupt files rather
than returning half a picture (Pillow's errors, plus a walk of a JPEG's markers, which libjpeg
would only warn about), applies the EXIF orientation (1–8) and returns 8-bit RGB:

- alpha (RGBA, grey+alpha, palette with transparency) is composited onto neutral grey 128;
- grey, 16-bit grey and 16-bit colour are scaled to 8 bits (16-bit by 257, so 65535 → 255);
- CMYK (Adobe-inverted in JPEGs, as Photoshop writes them) goes through Pillow's CMYK → RGB formula,
  ignoring any ICC profile, as it does for RGB photos.

``load_pixels`` reads a photo the same way but keeps what it is: 8-bit grey, grey+alpha, RGB or RGBA
(a photo passed on unchanged keeps its alpha); ``load_deep`` keeps the 16 bits of a 16-bit photo
(``bit_depth``), colour ones through imagecodecs, as Pillow holds colour in 8 bits only.

Given ``max_side``, a JPEG is decoded straight at 1/2, 1/4 or 1/8 of its size (the codec's DCT
scaling) when that still leaves the long side at least ``max_side``: a 12 MP photo wanted at
1024 px decodes several times faster and in a quarter of the memory.
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile

from .files import atomic_path

PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".tif", ".tiff", ".webp", ".bmp"})
PHOTO_FORMATS = ("JPEG", "PNG", "TIFF", "WEBP", "BMP")  # JPEG includes MPO, the multi-picture JPEGs of some cameras
MAX_PIXELS = 100_000_000  # larger than any camera photo; more is refused as a decompression bomb
ALPHA_BACKGROUND = (128, 128, 128)
ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated file is an error, never a half-grey picture


class ImageError(ValueError):
    """A file that cannot be used as a photo; the message names the file and the reason."""


class TooManyPixelsError(ImageError):
    """A file whose header announces more pixels than the limit; refused without decoding."""


def is_photo_name(path: Path) -> bool:
    return path.suffix.lower() in PHOTO_SUFFIXES


def _to_rgb(image: Image.Image) -> Image.Image:
    image = _to_8bit(image)
    if image.mode in ("RGBA", "LA"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, ALPHA_BACKGROUND + (255,))
        image = Image.alpha_composite(background, rgba)
    return image if image.mode == "RGB" else image.convert("RGB")


def _to_8bit(image: Image.Image) -> Image.Image:
    """The image as 8-bit L, LA, RGB or RGBA (premultiplied alpha undone, a palette expanded)."""
    if image.mode.startswith("I;16"):
        array = np.asarray(image).astype(np.float32)
        image = Image.fromarray(np.round(array / 257.0).astype(np.uint8), "L")
    elif image.mode in ("I", "F"):  # 32-bit grey: 16-bit data in an int, or floats in 0–1 or 0–255
        array = np.asarray(image, dtype=np.float64)
        peak = array.max(initial=0)
        full = 65535.0 if peak > 255 else 255.0 if image.mode == "I" or peak > 1 else 1.0
        image = Image.fromarray(np.round(array.clip(0, full) * (255.0 / full)).astype(np.uint8), "L")
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("L", "LA", "RGB", "RGBA"):
        return image
    if image.mode == "La":
        return image.convert("LA")
    if image.mode == "1":
        return image.convert("L")
    return image.convert("RGBA" if image.mode in ("PA", "RGBa") else "RGB")  # CMYK, YCbCr, LAB, ...


def _orient(image: Image.Image) -> Image.Image:
    """The image as it should be displayed, by its EXIF orientation (unreadable EXIF: as stored)."""
    try:
        orientation = image.getexif().get(0x0112, 1)
    except Exception:  # a broken EXIF block does not make the pixels unusable
        return image
    method = ORIENTATION.get(orientation) if isinstance(orientation, int) else None
    return image.transpose(method) if method is not None else image


_SCAN_MARKER = re.compile(rb"\xff[^\x00]")  # in entropy-coded data: a marker (or fill), not a stuffed 0xFF
_AFTER_SCAN = frozenset({0xC4, 0xDA, 0xDB, 0xDC, 0xDD, 0xD9, 0xFE, *range(0xE0, 0xF0)})


def _scan_problem(data: bytes, position: int, restart_interval: int) -> tuple[str | None, int]:
    """What is wrong with the entropy-coded data of a scan starting at ``position``, or None and the
    position of the next marker that is not a restart."""
    expected = 0
    while True:
        found = _SCAN_MARKER.search(data, position)
        if found is None:
            return "truncated: the picture data ends before its end-of-image marker", position
        code = data[found.end() - 1]
        if code == 0xFF:  # fill bytes before a marker
            position = found.start() + 1
            continue
        if 0xD0 <= code <= 0xD7:
            if not restart_interval or code != 0xD0 + expected % 8:
                return f"corrupt: restart marker 0xFF{code:02X} out of sequence at offset {found.start()}", position
            expected, position = expected + 1, found.end()
            continue
        if code not in _AFTER_SCAN:
            return f"corrupt: invalid marker 0xFF{code:02X} inside the picture data at offset {found.start()}", position
        return None, found.start()


def jpeg_problem(data: bytes) -> str | None:
    """What is wrong with the structure of a JPEG file, or None if its markers are all in order.

    libjpeg decodes a damaged stream without an error (it greys out what it could not read and
    only warns, and Pillow drops the warning), so the markers are walked here: a file that ends
    before its end-of-image marker, stray bytes where a marker belongs, a marker that cannot occur
    inside the picture data, or restart markers out of sequence make it unusable. Data after the
    end-of-image marker (camera trailers, the second picture of an MPO) is allowed.
    """
    size, position, restart_interval = len(data), 2, 0
    if data[:2] != b"\xff\xd8":
        return "not a JPEG stream (no start-of-image marker)"
    while True:
        if position >= size:
            return "truncated: the file ends before its end-of-image marker"
        if data[position] != 0xFF:
            return f"corrupt: stray bytes at offset {position} where a JPEG marker belongs"
        while position < size and data[position] == 0xFF:
            position += 1
        if position + 1 > size:
            return "truncated: the file ends before its end-of-image marker"
        marker, position = data[position], position + 1
        if marker == 0xD9:
            return None
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            continue
        if 0x02 <= marker <= 0xBF or position + 2 > size:
            return (
                f"corrupt: invalid JPEG marker 0xFF{marker:02X} at offset {position - 2}"
                if position + 2 <= size
                else "truncated: the file ends inside a JPEG header"
            )
        length = int.from_bytes(data[position : position + 2], "big")
        if length < 2 or position + length > size:
            return (
                f"truncated or corrupt: JPEG segment 0xFF{marker:02X} at offset {position - 2} "
                f"{'has an impossible length' if length < 2 else 'runs past the end of the file'}"
            )
        if marker == 0xDD and length >= 4:
            restart_interval = int.from_bytes(data[position + 2 : position + 4], "big")
        position += length
        if marker != 0xDA:
            continue
        problem, position = _scan_problem(data, position, restart_interval)
        if problem is not None:
            return problem


def load_rgb(path: str | Path, max_pixels: int = MAX_PIXELS, max_side: int | None = None) -> np.ndarray:
    """Read a photo as an H×W×3 uint8 RGB array, EXIF orientation applied.

    With ``max_side``, a JPEG may come back smaller than stored, never with a long side below
    ``max_side`` (nor below its stored size if that is smaller). Raises ImageError naming the file
    for anything that is not a readable photo, TooManyPixelsError for a decompression bomb.
    """
    return _load(path, lambda image: np.array(_to_rgb(_orient(image)), dtype=np.uint8), max_pixels, max_side)


def load_pixels(path: str | Path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read a photo as it is, EXIF orientation applied: uint8 H×W (grey), H×W×2 (grey and alpha),
    H×W×3 (RGB) or H×W×4 (RGBA); 16-bit scaled to 8. Errors as ``load_rgb``."""
    return _load(path, lambda image: np.array(_to_8bit(_orient(image)), dtype=np.uint8), max_pixels)


def bit_depth(image: Image.Image) -> int:
    """16 for a photo stored with 16 bits per channel (Pillow decodes a colour one to 8), else 8."""
    if image.mode.startswith("I;16"):
        return 16
    tiles = getattr(image, "tile", None)  # an opened file's (ImageFile), not a new image's
    args = tiles[0].args if tiles else None
    rawmode = args if isinstance(args, str) else args[0] if isinstance(args, tuple) and args else ""
    return 16 if isinstance(rawmode, str) and ";16" in rawmode else 8


def load_deep(path: str | Path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read a 16-bit photo (``bit_depth`` 16) with its 16 bits, EXIF orientation applied: uint16
    H×W (grey), H×W×2 (grey and alpha), H×W×3 (RGB) or H×W×4 (RGBA). Errors as ``load_rgb``."""

    def decode(image: Image.Image) -> np.ndarray:
        if image.mode.startswith("I;16"):
            array = np.asarray(image).astype(np.uint16)
        else:  # Pillow holds colour in 8 bits: imagecodecs (libpng, libtiff) reads all 16
            import imagecodecs

            array = np.asarray(imagecodecs.imread(Path(path)))
        if array.dtype != np.uint16 or array.ndim not in (2, 3) or array.shape[:2] != image.size[::-1]:
            raise ImageError(f"{path}: not a 16-bit photo this reader understands ({array.dtype}, {array.shape})")
        try:
            orientation = image.getexif().get(0x0112, 1)
        except Exception:
            orientation = 1
        return orient_array(array, orientation)

    return _load(path, decode, max_pixels)


def orient_array(array: np.ndarray, orientation: object) -> np.ndarray:
    """``array`` (H×W or H×W×C) as ``_orient`` turns a picture of EXIF orientation ``orientation``."""
    turns = {2: (0, True), 3: (2, False), 4: (2, True), 5: (1, True), 6: (3, False), 7: (3, True), 8: (1, False)}
    if not isinstance(orientation, int) or orientation not in turns:
        return array
    quarter_turns, mirror = turns[orientation]  # anticlockwise quarter turns, after a left-right mirror
    return np.ascontiguousarray(np.rot90(array[:, ::-1] if mirror else array, quarter_turns))


def _load(
    path: str | Path, convert: Callable[[Image.Image], np.ndarray], max_pixels: int, max_side: int | None = None
) -> np.ndarray:
    path = Path(path)
    try:
        with warnings.catch_warnings():  # Pillow warns from 89 MP on; the limit here is max_pixels
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path, formats=PHOTO_FORMATS)
        with image:
            width, height = image.size
            if width * height > max_pixels:
                raise TooManyPixelsError(
                    f"{path}: {width}×{height} = {width * height:,} pixels is more than the limit of "
                    f"{max_pixels:,} (a decompression bomb?); refused, not decoded"
                )
            if image.format in ("JPEG", "MPO"):
                problem = jpeg_problem(path.read_bytes())
                if problem:
                    raise ImageError(f"{path}: not a readable image ({problem})")
                if max_side is not None:
                    image.draft(None, (max_side, max_side))
            image.load()
            return convert(image)
    except ImageError:
        raise
    except Image.DecompressionBombError as error:  # Pillow's own, larger limit, hit before ours
        raise TooManyPixelsError(
            f"{path}: more pixels than the limit of {max_pixels:,} (a decompression "
            f"bomb?); refused, not decoded ({error})"
        ) from None
    except FileNotFoundError:
        raise ImageError(f"{path}: file not found") from None
    except Image.UnidentifiedImageError:
        raise ImageError(f"{path}: not a JPEG, PNG, TIFF, WebP or BMP image (unrecognised content)") from None
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
    data = encode_png(array)
    with atomic_path(path) as temp:
        temp.write_bytes(data)


def encode_png(array: np.ndarray) -> bytes:
    """A uint8 H×W or H×W×3 array as PNG bytes (fast compression, the same bytes on every run)."""
    if array.dtype != np.uint8:
        raise TypeError(f"encode_png expects uint8, got {array.dtype}")
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def decode_png(data: bytes, name: str = "image") -> np.ndarray:
    """PNG bytes (from a shard) as a uint8 array, H×W for grey, H×W×3 for RGB; ImageError naming ``name``."""
    try:
        with Image.open(io.BytesIO(data), formats=("PNG",)) as image:
            return np.asarray(image if image.mode in ("L", "RGB") else image.convert("RGB"), dtype=np.uint8).copy()
    except Exception as error:
        raise ImageError(f"{name}: not a readable PNG ({type(error).__name__}: {error})") from None
