"""The degradation a photo goes through: resize to a working size, optional super-resolution loss
(bicubic down and up by ``scale``), then JPEG compression at ``jpeg_quality``, decoded back; or, for
``degradation: travelled``, one of the journeys photos take on their way to people (``draw_journey``,
``travel``): one JPEG, two on the same grid, two with a crop between them, two with a resize between
them.

    degraded = degrade(clean, scale=1, jpeg_quality=20)
    journey = draw_journey(sha256, seed=0, jpeg_quality=[10, 90])   # Journey("double_shifted", (12, 40), (3, 5))
    clean_target, degraded = travel(clean, journey)                  # aligned: cropped or resized alike
    clean_target, jpeg_file = travelled_file(clean, journey)          # the last save as the file's bytes
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from .jpeg import is_range


def fit_long_side(rgb: np.ndarray, max_side: int) -> np.ndarray:
    """Shrink (antialiased, never enlarge) so that the long side is at most ``max_side``."""
    height, width = rgb.shape[:2]
    if max(height, width) <= max_side:
        return rgb
    factor = max_side / max(height, width)
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0))


def crop_to_multiple(rgb: np.ndarray, scale: int) -> np.ndarray:
    """Crop the bottom/right so both sides divide by ``scale`` (the literature's "modcrop")."""
    height, width = rgb.shape[:2]
    return rgb[: height - height % scale, : width - width % scale]


def bicubic_down_up(rgb: np.ndarray, scale: int) -> np.ndarray:
    """Lose detail as a low-resolution camera would: bicubic down by ``scale``, bicubic back up."""
    if scale == 1:
        return rgb
    height, width = rgb.shape[:2]
    if height % scale or width % scale:
        raise ValueError(f"image {width}×{height} does not divide by scale {scale}; crop_to_multiple first")
    image = Image.fromarray(rgb)
    small = image.resize((width // scale, height // scale), Image.Resampling.BICUBIC)
    return np.asarray(small.resize((width, height), Image.Resampling.BICUBIC))


def jpeg_bytes(rgb: np.ndarray, quality: int) -> bytes:
    """The JPEG file of ``rgb`` (H×W×3 or H×W uint8) at ``quality``: baseline, 4:2:0, as cameras and the seed did."""
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=quality, subsampling=2, optimize=False)
    return buffer.getvalue()


def decode_jpeg(data: bytes, like: np.ndarray) -> np.ndarray:
    """The pixels of JPEG ``data``, gray or RGB as ``like`` is."""
    with Image.open(io.BytesIO(data)) as decoded:
        return np.asarray(decoded.convert(Image.fromarray(like).mode))


def jpeg_roundtrip(rgb: np.ndarray, quality: int) -> np.ndarray:
    """``rgb`` saved as a JPEG at ``quality`` (``jpeg_bytes``) and decoded back."""
    return decode_jpeg(jpeg_bytes(rgb, quality), rgb)


def degrade(clean: np.ndarray, scale: int = 1, jpeg_quality: int | None = 20) -> np.ndarray:
    """The degraded version of a clean photo (whose sides divide by ``scale``), at one JPEG quality
    (or none). For a ``jpeg_quality`` range in params, draw each photo's quality with
    ``srcnn.jpeg.photo_quality`` first."""
    if is_range(jpeg_quality):
        raise TypeError(
            f"degrade takes one JPEG quality (a whole number) or None, got {jpeg_quality!r}; "
            f"for a range, draw the photo's quality with srcnn.jpeg.photo_quality"
        )
    degraded = bicubic_down_up(clean, scale)
    if jpeg_quality is not None:
        degraded = jpeg_roundtrip(degraded, jpeg_quality)
    return degraded


# ``degradation: travelled``: how photos reach people (FBCNN, Jiang et al. 2021), one journey a photo
JOURNEYS = ("single", "double_aligned", "double_shifted", "resized")
RESIZE_FACTORS = (0.5, 0.9)  # the share of each side kept by a resize between the two saves
RESAMPLING = {"bicubic": Image.Resampling.BICUBIC, "lanczos": Image.Resampling.LANCZOS}


@dataclass(frozen=True)
class Journey:
    """How one photo travelled: its JPEG saves in order (the last is the file's table), the crop
    between the first two (rows, columns cut at the top and left) and the resize (share of each
    side kept, and the filter)."""

    kind: str
    qualities: tuple[int, ...]
    shift: tuple[int, int] = (0, 0)
    resize: float = 1.0
    resampling: str = ""

    def record(self) -> dict[str, Any]:
        """What a prepared pair's report says of it: the kind, the saves, and the shift or resize if any."""
        record: dict[str, Any] = {"kind": self.kind, "qualities": list(self.qualities)}
        if self.kind == "double_shifted":
            record["shift"] = list(self.shift)
        if self.kind == "resized":
            record.update(resize=self.resize, resampling=self.resampling)
        return record


def draw_journey(digest: str, seed: int, jpeg_quality: Sequence[int]) -> Journey:
    """The journey of the photo with sha256 ``digest``: its kind (one of ``JOURNEYS``, equally
    likely), two qualities drawn from the ``[low, high]`` range (so the second is above or below
    the first), a shift of 1 to 7 px on each axis, a resize in ``RESIZE_FACTORS``; a function of the
    photo and ``seed`` alone, salted apart from the split's and the quality's hashes."""
    low, high = (int(value) for value in jpeg_quality)
    mixed = hashlib.sha256(f"travel:{seed}:{digest}".encode()).digest()
    draw = np.random.default_rng(int.from_bytes(mixed[:8], "big"))
    kind = JOURNEYS[int(draw.integers(len(JOURNEYS)))]
    first, second = (int(quality) for quality in draw.integers(low, high + 1, size=2))
    if kind == "single":
        return Journey(kind, (first,))
    if kind == "double_shifted":
        dy, dx = (int(offset) for offset in draw.integers(1, 8, size=2))
        return Journey(kind, (first, second), shift=(dy, dx))
    if kind == "resized":
        factor = round(float(draw.uniform(*RESIZE_FACTORS)), 3)
        return Journey(kind, (first, second), resize=factor, resampling=sorted(RESAMPLING)[int(draw.integers(2))])
    return Journey(kind, (first, second))


def _resized(rgb: np.ndarray, factor: float, resampling: str) -> np.ndarray:
    height, width = rgb.shape[:2]
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return np.asarray(Image.fromarray(rgb).resize(size, RESAMPLING[resampling]))


def travelled_file(clean: np.ndarray, journey: Journey) -> tuple[np.ndarray, bytes]:
    """The clean target of ``journey`` and the JPEG file the photo ends as (every save 4:2:0, as
    cameras write it: ``jpeg_bytes``). A crop or a resize between the saves is applied to the clean
    photo too, so the two stay aligned pixel for pixel (FBCNN's protocol for shifted double JPEGs)."""
    first, *later = journey.qualities
    if not later:  # saved once
        return np.ascontiguousarray(clean), jpeg_bytes(np.ascontiguousarray(clean), first)
    degraded = jpeg_roundtrip(clean, first)
    if journey.kind == "double_shifted":
        dy, dx = journey.shift
        clean, degraded = clean[dy:, dx:], degraded[dy:, dx:]
    elif journey.kind == "resized":
        clean = _resized(clean, journey.resize, journey.resampling)
        degraded = _resized(degraded, journey.resize, journey.resampling)
    for quality in later[:-1]:
        degraded = jpeg_roundtrip(np.ascontiguousarray(degraded), quality)
    return np.ascontiguousarray(clean), jpeg_bytes(np.ascontiguousarray(degraded), later[-1])


def travel(clean: np.ndarray, journey: Journey) -> tuple[np.ndarray, np.ndarray]:
    """The clean target and the degraded photo of ``journey``: ``travelled_file``'s JPEG, decoded."""
    target, data = travelled_file(clean, journey)
    return target, decode_jpeg(data, clean)


def double_jpeg(
    clean: np.ndarray, first: int, second: int, shift: tuple[int, int] = (4, 4)
) -> tuple[np.ndarray, np.ndarray]:
    """The clean target and the photo saved at ``first``, cropped by ``shift`` and saved at ``second``:
    the ladder's double-JPEG rungs (FBCNN's non-aligned protocol at (4, 4))."""
    kind = "double_shifted" if shift != (0, 0) else "double_aligned"
    return travel(clean, Journey(kind, (first, second), shift=shift))
