"""A JPEG's compression read from its quantization table, or from the pixels of a photo saved from
a JPEG; the quality a training photo gets."""

from __future__ import annotations

import hashlib
import io
import itertools

import numpy as np
import pytest
import skimage.data
from conftest import synthetic_photo
from PIL import Image
from PIL.JpegImagePlugin import JpegImageFile

from srcnn.degrade import jpeg_roundtrip
from srcnn.history import LOW_AC, jpeg_history, jpeg_trace, quantization_steps, trace_below
from srcnn.jpeg import (
    compression_strength,
    estimate_quality,
    luma_qtable,
    photo_quality,
    standard_qtable,
    steepness,
    strength_for_quality,
)


def jpeg_bytes(**options) -> io.BytesIO:
    buffer = io.BytesIO()
    Image.fromarray(synthetic_photo(0, 48, 64)).save(buffer, format="JPEG", **options)
    buffer.seek(0)
    return buffer


def test_every_quality_of_the_encoder_reads_back_exactly(tmp_path):
    path = tmp_path / "photo.jpg"
    for quality in range(1, 101):
        path.write_bytes(jpeg_bytes(quality=quality).getvalue())  # Pillow's encoder, libjpeg's tables
        with Image.open(path) as image:
            assert isinstance(image, JpegImageFile)
            written = [int(step) for step in image.quantization[0]]  # table 0: the luma table Pillow writes
            assert luma_qtable(image) == written, quality  # an open image works too
        assert luma_qtable(path) == written, quality
        assert standard_qtable(quality) == written, quality  # natural order both ways
        assert estimate_quality(written) == quality, quality


def test_tables_are_in_natural_row_major_order():
    assert standard_qtable(50)[:8] == [16, 11, 10, 16, 24, 40, 51, 61]  # first row of the standard table
    assert standard_qtable(50)[8] == 12  # zigzag order would put 12 at index 2
    ramp = list(range(1, 65))
    assert luma_qtable(jpeg_bytes(qtables=[ramp])) == ramp


def test_strength_is_monotone_in_quality_and_normalised():
    strengths = [strength_for_quality(quality) for quality in range(1, 101)]
    assert all(a >= b for a, b in itertools.pairwise(strengths))
    assert strengths[0] > strengths[9] > strengths[49] > strengths[89] > strengths[99]
    assert strength_for_quality(5) == pytest.approx(1.0) and strength_for_quality(100) == 0.0
    assert strength_for_quality(None) == 0.0 and compression_strength(None) == 0.0
    assert all(0.0 <= value <= 1.2 for value in strengths)


def test_a_custom_table_is_placed_among_the_standard_ones():
    table = luma_qtable(jpeg_bytes(qtables=[[12] * 64]))
    assert table == [12] * 64
    quality = estimate_quality(table)
    assert 1 <= quality <= 100 and 40 < quality < 80
    strength = compression_strength(table)
    nearest = round(quality)
    assert strength_for_quality(nearest - 2) >= strength >= strength_for_quality(nearest + 2)
    coarser = compression_strength([24] * 64)
    assert coarser > strength  # bigger steps, stronger compression


def test_non_jpegs_have_no_table(tmp_path):
    for name in ("photo.png", "photo.tif", "photo.bmp"):
        Image.fromarray(synthetic_photo(1, 32, 32)).save(tmp_path / name)
        assert luma_qtable(tmp_path / name) is None
    Image.fromarray(synthetic_photo(1, 32, 32)).save(tmp_path / "photo.webp", lossless=True)
    assert luma_qtable(tmp_path / "photo.webp") is None


def test_bad_tables_and_qualities_are_refused():
    with pytest.raises(ValueError):
        estimate_quality([10] * 63)
    with pytest.raises(ValueError):
        compression_strength([0] * 64)
    with pytest.raises(ValueError):
        standard_qtable(0)


def drawn_quality(digest: str) -> int:
    """The quality ``photo_quality`` draws from [10, 95] for a photo, at seed 0."""
    quality = photo_quality(digest, 0, [10, 95])
    assert quality is not None
    return quality


def test_photo_quality_is_deterministic_covers_the_range_and_keeps_an_int():
    digests = [hashlib.sha256(str(number).encode()).hexdigest() for number in range(2000)]
    drawn = [drawn_quality(digest) for digest in digests]
    assert drawn == [photo_quality(digest, 0, [10, 95]) for digest in digests]
    assert set(drawn) == set(range(10, 96))  # every quality of the range, and nothing outside it
    counts = np.bincount(drawn)[10:]
    assert counts.min() > 5 and counts.max() < 50  # about uniform (2000 / 86 ≈ 23 each)
    assert [photo_quality(digest, 1, [10, 95]) for digest in digests] != drawn  # the seed matters
    assert photo_quality(digests[0], 0, 20) == 20 and photo_quality(digests[0], 0, None) is None
    assert photo_quality(digests[0], 0, [30, 30]) == 30
    assert isinstance(photo_quality(digests[0], 0, [10, 95]), int)


def test_photo_quality_is_independent_of_the_split_hash():
    # the split hashes f"{seed}:{digest}" (srcnn/photos.py): photos in val must not all get low qualities
    digests = [hashlib.sha256(str(number).encode()).hexdigest() for number in range(2000)]
    split = [int(hashlib.sha256(f"0:{digest}".encode()).hexdigest()[:15], 16) / 16**15 < 0.2 for digest in digests]
    val = [drawn_quality(digest) for digest, is_val in zip(digests, split, strict=True) if is_val]
    train = [drawn_quality(digest) for digest, is_val in zip(digests, split, strict=True) if not is_val]
    assert abs(np.mean(val) - np.mean(train)) < 5 and min(val) < 20 and max(val) > 85


def test_pixels_saved_from_a_jpeg_show_its_quality_and_a_fresh_photo_shows_none():
    photo = synthetic_photo(3, 256, 256)
    assert jpeg_history(photo) is None
    for quality in (10, 40, 75, 90):
        assert jpeg_history(jpeg_roundtrip(photo, quality)) == quality
    cropped = jpeg_trace(jpeg_roundtrip(photo, 75)[3:, 5:])  # its old blocks now start 5 rows, 3 columns in
    assert (cropped.quality, cropped.offset) == (75, (5, 3))
    resaved = jpeg_trace(jpeg_roundtrip(jpeg_roundtrip(photo, 30)[3:, 3:], 90), below=88)  # cropped, re-saved at 90
    assert (resaved.quality, resaved.offset) == (30, (5, 5))
    assert jpeg_trace(photo[:12, :200]).note.startswith("too small")


def test_a_jpeg_file_shows_an_older_save_on_a_shifted_grid_and_one_saved_once_shows_none():
    photo = skimage.data.astronaut()  # a photo (the drawn ones are smoother than any)
    below = trace_below(standard_qtable(50))
    shifted = jpeg_trace(jpeg_roundtrip(np.ascontiguousarray(jpeg_roundtrip(photo, 30)[4:, 4:]), 50), below)
    assert (shifted.quality, shifted.offset) == (30, (4, 4)) and shifted.lift_db < 2.5  # under the lift of others
    for quality in (40, 50, 60, 70, 80):
        assert jpeg_trace(jpeg_roundtrip(photo, quality), trace_below(standard_qtable(quality))).quality is None


def test_dct_coefficients_on_a_jpegs_steps_show_them_and_a_fresh_photo_shows_none():
    photo = synthetic_photo(3, 256, 320)
    assert quantization_steps(photo) is None
    for quality in (60, 75, 90):  # below 60 too few of its noisy coefficients are outside the zero bin
        table = standard_qtable(quality)
        assert quantization_steps(jpeg_roundtrip(photo, quality)) == tuple(table[8 * v + u] for v, u in LOW_AC)
    assert quantization_steps(jpeg_roundtrip(photo, 75)[3:, 5:]) is None  # off the grid
    # a frame of a video codec: one step for every frequency, not a JPEG's table (jpeg_history misses it)
    buffer = io.BytesIO()
    Image.fromarray(photo).save(buffer, format="JPEG", qtables=[[7] * 64, [7] * 64], subsampling=2)
    frame = np.asarray(Image.open(buffer).convert("RGB"))
    assert quantization_steps(frame) == (7,) * len(LOW_AC) and jpeg_history(frame) is None
    assert quantization_steps(photo[:32, :32]) is None  # too few blocks to tell


def test_steepness_is_one_for_the_standard_tables_zero_for_a_flat_one_and_follows_a_blend():
    assert all(steepness(standard_qtable(quality)) == 1.0 for quality in range(1, 101))
    assert steepness([12] * 64) == 0.0 and steepness([1] * 64) == 1.0  # all ones: as the standard q100
    base = np.asarray(standard_qtable(60), dtype=np.float64)
    for alpha in (0.25, 0.5, 0.75):  # the standard table blended towards a flat one: 1 - alpha
        blended = np.round(base ** (1 - alpha) * 9.0**alpha).astype(int)
        assert steepness(blended.tolist()) == pytest.approx(1 - alpha, abs=0.05)
    assert steepness(np.clip(np.round(base**1.3 / 3), 1, 255).astype(int).tolist()) > 1.2  # steeper
