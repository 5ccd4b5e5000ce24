"""degradation: travelled: each training photo's journey (re-saved, shifted, resized), its targets
aligned, and the strength it records being the one enhance tells for it; single as before."""

import hashlib
import json
from collections import Counter

import numpy as np
import pytest
import skimage.data
import torch
from conftest import synthetic_photo, write_photos
from PIL import Image

from srcnn.color import to_luma_u8
from srcnn.degrade import JOURNEYS, Journey, draw_journey, jpeg_roundtrip, travel
from srcnn.enhance import Settings, decide
from srcnn.history import pixel_trace
from srcnn.images import decode_png
from srcnn.jpeg import resized_quality, standard_qtable, strength_for_quality
from srcnn.metrics import psnr
from srcnn.photos import Photo, prepare_photo
from srcnn.tiling import split_pair, tile_photo


def test_every_journey_is_drawn_seeded_per_photo_with_qualities_on_both_sides():
    journeys = [draw_journey(f"{number:064x}", 0, (10, 90)) for number in range(200)]
    assert Counter(journey.kind for journey in journeys).keys() == set(JOURNEYS)
    assert journeys == [draw_journey(f"{number:064x}", 0, (10, 90)) for number in range(200)]  # deterministic
    assert journeys != [draw_journey(f"{number:064x}", 1, (10, 90)) for number in range(200)]  # by the seed
    doubles = [journey for journey in journeys if journey.kind != "single"]
    assert all(10 <= quality <= 90 for journey in journeys for quality in journey.qualities)
    assert any(first < second for first, second in (j.qualities for j in doubles))
    assert any(first > second for first, second in (j.qualities for j in doubles))
    shifts = [journey.shift for journey in journeys if journey.kind == "double_shifted"]
    assert all(1 <= dy <= 7 and 1 <= dx <= 7 for dy, dx in shifts)
    factors = [journey.resize for journey in journeys if journey.kind == "resized"]
    assert all(0.5 <= factor <= 0.9 for factor in factors)


def test_each_journey_keeps_its_clean_target_aligned():
    clean = synthetic_photo(3)
    for journey in (
        Journey("single", (30,)),
        Journey("double_aligned", (60, 30)),
        Journey("double_shifted", (30, 80), shift=(3, 5)),
        Journey("resized", (30, 80), resize=0.7, resampling="lanczos"),
    ):
        target, degraded = travel(clean, journey)
        assert target.shape == degraded.shape and degraded.dtype == np.uint8, journey
        assert psnr(target.astype(float), degraded.astype(float)) > 25, journey
    target, degraded = travel(clean, Journey("double_shifted", (30, 80), shift=(3, 5)))
    assert target.shape == (147, 195, 3) and np.array_equal(target, clean[3:, 5:])
    # against the clean photo uncropped, the same pixels are misaligned: far lower
    unshifted = clean[: target.shape[0], : target.shape[1]].astype(float)
    assert psnr(target.astype(float), degraded.astype(float)) > psnr(unshifted, degraded.astype(float)) + 5
    # the first save was on the uncropped grid, the second on the cropped one: not one save at 80
    assert not np.array_equal(degraded, jpeg_roundtrip(np.ascontiguousarray(target), 80))
    target, degraded = travel(clean, Journey("resized", (30, 80), resize=0.7, resampling="bicubic"))
    assert target.shape == (105, 140, 3)


def photo_of(folder, number: int = 0) -> Photo:
    (path,) = write_photos(folder, number + 1)[number:]
    return Photo(path, path.name, hashlib.sha256(path.read_bytes()).hexdigest())


def told_by_enhance(degraded: np.ndarray, last_quality: int) -> float | None:
    """The strength enhance tells the model for a JPEG file of ``last_quality`` holding ``degraded``: its
    table, and its pixels looked at below the table's quality, as ``Restorers.choose`` does."""
    table = standard_qtable(last_quality)
    settings = Settings(torch.device("cpu"), None, 512, 1)
    return decide(table, settings, pixel_trace(degraded, table)).strength


@pytest.mark.parametrize(
    "journey",
    [Journey("double_shifted", (20, 80), shift=(3, 5)), Journey("resized", (20, 80), resize=0.7, resampling="lanczos")],
    ids=["shifted", "resized"],
)
def test_a_travelled_pair_records_the_strength_enhance_tells(tmp_path, monkeypatch, journey):
    monkeypatch.setattr("srcnn.photos.draw_journey", lambda digest, seed, qualities: journey)
    (sample,), report = prepare_photo(photo_of(tmp_path), "train", 192, 1, (10, 90), 0, "travelled")
    clean, degraded = decode_png(sample["clean.png"]), decode_png(sample["degraded.png"])
    assert clean.shape == degraded.shape and (report["height"], report["width"]) == clean.shape[:2]
    told = told_by_enhance(degraded, 80)
    assert report["strength"] == told and strength_for_quality(report["jpeg_quality"]) == told
    assert report["degradation"]["qualities"] == [20, 80]
    if journey.kind == "double_shifted":  # the pixels show the first save: told as that, not the file's 80
        assert report["jpeg_quality"] == 20 and report["trace"]["offset"] == [5, 3]
    # tiles are cut from the prepared pair and carry its quality, whatever the range
    tiles, _ = tile_photo(sample, 32, 32, [10, 90], 0, degradation="travelled")
    assert {json.loads(tile["json"])["jpeg_quality"] for tile in tiles} == {report["jpeg_quality"]}
    clean_half, degraded_half = split_pair(decode_png(tiles[0]["png"]))
    assert np.array_equal(clean_half, to_luma_u8(clean)[:32, :32])
    assert np.array_equal(degraded_half, to_luma_u8(degraded)[:32, :32])


def test_a_pair_shrunk_after_its_first_save_records_the_lighter_strength_enhance_finds(tmp_path, monkeypatch):
    journey = Journey("resized", (20, 85), resize=0.7, resampling="bicubic")
    monkeypatch.setattr("srcnn.photos.draw_journey", lambda digest, seed, qualities: journey)
    path = tmp_path / "astronaut.png"
    Image.fromarray(skimage.data.astronaut()).save(path)
    photo = Photo(path, path.name, hashlib.sha256(path.read_bytes()).hexdigest())
    (sample,), report = prepare_photo(photo, "train", 256, 1, (10, 90), 0, "travelled")
    assert report["trace"]["quality"] == 20 and report["trace"]["resize"] == pytest.approx(0.7, abs=0.002)
    assert report["jpeg_quality"] == resized_quality(20, report["trace"]["resize"]) < 85
    assert report["strength"] == told_by_enhance(decode_png(sample["degraded.png"]), 85)


def test_travelled_pairs_from_the_draw_each_record_what_enhance_tells(tmp_path):
    kinds = set()
    for number in range(4):
        photo = photo_of(tmp_path, number)
        (sample,), report = prepare_photo(photo, "train", 192, 1, (10, 90), 7, "travelled")
        kinds.add(report["degradation"]["kind"])
        degraded = decode_png(sample["degraded.png"])
        assert report["strength"] == told_by_enhance(degraded, report["degradation"]["qualities"][-1])
    assert len(kinds) >= 2


# main's prepare_photo on write_photos' photos (max_side 192, scale 1, seed 0): sha256 of the clean and
# degraded pixels and the report's bytes, before degradation existed
MAIN_PAIRS = {
    ("photo_0.png", (10, 90)): "8e24481ef61f72f7ec67dd27cdbc4fa5ea90c9acdf38e034e9aec4399d02197b",
    ("photo_0.png", 20): "9dfd3a55f3ba23544589881abca221bf13a13dfe6454e513919f5055e6878922",
    ("photo_1.png", (10, 90)): "1541b98cd0ac145c59e4db2a47ae3de169da577ce9c615efe652156123481436",
    ("photo_1.png", 20): "b8dfe108afc8b4fc89d93dd518f044e23bc0d713d5eaff7669301f64d891bddc",
}


@pytest.mark.parametrize("name, jpeg_quality", list(MAIN_PAIRS))
def test_single_prepares_the_very_pairs_it_did_before(tmp_path, name, jpeg_quality):
    photo = photo_of(tmp_path, int(name[6]))
    (sample,), _ = prepare_photo(photo, "train", 192, 1, jpeg_quality, 0, "single")
    digest = hashlib.sha256()
    for key in ("clean.png", "degraded.png"):
        digest.update(decode_png(sample[key]).tobytes())
    digest.update(sample["json"])
    assert digest.hexdigest() == MAIN_PAIRS[(name, jpeg_quality)]


def test_the_travelled_benchmark_scores_a_gray_photo_on_its_own_levels():
    from benchmarks.travelled import gain

    reference = to_luma_u8(synthetic_photo(5))
    noisy, closer = (np.clip(reference + noise, 0, 255).astype(np.uint8) for noise in (6, 2))
    as_read = [np.repeat(each[..., None], 3, axis=2) for each in (noisy, closer)]  # a gray file reads as R = G = B
    levels = [psnr(reference.astype(np.float64), each.astype(np.float64)) for each in (noisy, closer)]
    assert gain(reference, *as_read) == pytest.approx(levels[1] - levels[0], abs=1e-9)


def test_the_resize_search_reads_the_bottom_left_corner_under_a_sky_and_nothing_too_flat_or_small():
    from srcnn.color import jpeg_luma
    from srcnn.resize_trace import resize_trace, why_not

    skyline = skimage.data.astronaut().copy()
    skyline[:160] = (150, 190, 230)  # a sky over the top left corner: the search looks at the bottom left
    journey = Journey("resized", (30, 90), resize=0.75, resampling="bicubic")
    found = resize_trace(jpeg_luma(travel(skyline, journey)[1]))
    assert found is not None and (found.quality, found.scale) == (30, 0.75)
    assert resize_trace(jpeg_luma(travel(skyline, Journey("single", (90,)))[1])) is None
    flat = np.full((160, 160), 200, dtype=np.uint8)
    assert "too flat" in why_not(flat) and resize_trace(flat) is None
    photo = to_luma_u8(synthetic_photo(9, 160, 160))
    assert "too small" in why_not(photo[:100]) and resize_trace(photo[:100]) is None
