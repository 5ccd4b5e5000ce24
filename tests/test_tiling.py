import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import synthetic_photo
from PIL import Image

from srcnn.color import to_luma_u8
from srcnn.dataset import load_pairs, random_crops
from srcnn.degrade import jpeg_roundtrip
from srcnn.images import decode_png, encode_png
from srcnn.jpeg import tile_quality
from srcnn.shards import read_shard, write_shard
from srcnn.tiling import join_pair, split_pair, tile_origins, tile_photo


def test_tile_origins_cover_the_side_with_the_last_tile_flush():
    assert tile_origins(300, 128, 128) == [0, 128, 172]
    assert tile_origins(256, 128, 64) == [0, 64, 128]
    assert tile_origins(100, 128, 64) == []


def test_pair_round_trip():
    clean = np.arange(64, dtype=np.uint8).reshape(8, 8)
    degraded = clean[::-1].copy()
    pair = join_pair(clean, degraded)
    assert pair.shape == (8, 16)
    back_clean, back_degraded = split_pair(pair)
    assert np.array_equal(back_clean, clean) and np.array_equal(back_degraded, degraded)
    with pytest.raises(ValueError, match="twice as wide"):
        split_pair(np.zeros((8, 8), np.uint8))


def test_seed_format_tiles_load_unchanged(tmp_path):
    # the seed's dataset: grayscale 256×128 images, clean left, degraded right
    rng = np.random.default_rng(0)
    seed_tiles = rng.integers(0, 256, (3, 128, 256), dtype=np.uint8)
    for number, tile in enumerate(seed_tiles):
        Image.fromarray(tile, "L").save(tmp_path / f"tile_{number}.png")
    pairs = load_pairs(tmp_path)
    assert pairs.shape == (3, 2, 128, 128) and pairs.dtype == torch.uint8
    assert np.array_equal(pairs[1, 0].numpy(), seed_tiles[1][:, :128])
    assert np.array_equal(pairs[1, 1].numpy(), seed_tiles[1][:, 128:])


def prepared_sample(clean: np.ndarray, degraded: np.ndarray) -> dict:
    """A photo as the prepare stage stores it in a shard."""
    report = {"name": "street.jpg.png", "split": "train", "sha256": "ab" * 32, "jpeg_quality": 20}
    return {
        "__key__": "street_jpg-abababab",
        "clean.png": encode_png(clean),
        "degraded.png": encode_png(degraded),
        "json": json.dumps(report).encode(),
    }


def test_tile_photo_pairs_aligned_windows_and_a_shard_untars_to_the_seed_format(tmp_path):
    rng = np.random.default_rng(1)
    clean = rng.integers(0, 256, (70, 100, 3), dtype=np.uint8)
    samples, report = tile_photo(prepared_sample(clean, 255 - clean), 32, 32)
    assert report == {"name": "street.jpg.png", "split": "train", "tiles": 3 * 4} and len(samples) == 12
    assert json.loads(samples[5]["json"]) == {
        "name": "street.jpg.png",
        "sha256": "ab" * 32,
        "jpeg_quality": 20,
        "y": 32,
        "x": 32,
    }
    write_shard(tmp_path / "train-0000.tar", [samples])
    assert [sample["__key__"] for sample in read_shard(tmp_path / "train-0000.tar")] == [s["__key__"] for s in samples]
    # `tar -xf` of a shard gives the seed's folder of paired images, which load_pairs reads
    (tmp_path / "seed").mkdir()
    subprocess.run(["tar", "-xf", str(tmp_path / "train-0000.tar"), "-C", str(tmp_path / "seed")], check=True)
    pairs = load_pairs(tmp_path / "seed")
    assert pairs.shape == (12, 2, 32, 32) and decode_png(samples[0]["png"]).shape == (32, 64)
    # luma of an inverted image: Y(255 - rgb) = 16 + 235 - Y(rgb), so the halves mirror each other
    total = pairs[:, 0].int() + pairs[:, 1].int()
    assert total.min() >= 250 and total.max() <= 252


def test_with_a_quality_range_each_tile_is_a_jpeg_of_its_own_at_a_quality_drawn_for_it():
    clean = synthetic_photo(5, 96, 160)
    sample = prepared_sample(clean, clean)
    samples, report = tile_photo(sample, 32, 32, jpeg_quality=[10, 90], seed=3)
    assert report["tiles"] == 3 * 5
    qualities = []
    for tile in samples:
        meta = json.loads(tile["json"])
        top, left, quality = meta["y"], meta["x"], meta["jpeg_quality"]
        assert quality == tile_quality("ab" * 32, top, left, 3, [10, 90]) and 10 <= quality <= 90
        crop = np.ascontiguousarray(clean[top : top + 32, left : left + 32])
        pair = decode_png(tile["png"])
        assert np.array_equal(pair[:, :32], to_luma_u8(crop))
        assert np.array_equal(pair[:, 32:], to_luma_u8(jpeg_roundtrip(crop, quality)))
        qualities.append(quality)
    assert len(set(qualities)) > 5  # one photo's tiles spread over the range
    assert tile_photo(sample, 32, 32, jpeg_quality=[10, 90], seed=3) == (samples, report)  # deterministic
    other_seed = [json.loads(tile["json"])["jpeg_quality"] for tile in tile_photo(sample, 32, 32, [10, 90], seed=4)[0]]
    assert other_seed != qualities


def test_a_photo_smaller_than_a_tile_gives_no_tiles_and_says_why():
    small = np.zeros((20, 30, 3), dtype=np.uint8)
    samples, report = tile_photo(prepared_sample(small, small), 32, 32)
    assert samples == [] and report["tiles"] == 0 and "smaller than one 32 px tile" in report["reason"]


def test_random_crops_match_between_clean_and_degraded():
    pairs = torch.randint(0, 256, (64, 2, 16, 16), dtype=torch.uint8)
    pairs[:, 1] = pairs[:, 0] // 2
    degraded, clean = random_crops(pairs, 8, torch.Generator().manual_seed(0))
    assert degraded.shape == clean.shape == (64, 1, 8, 8)
    assert torch.allclose(degraded * 255, torch.floor(clean * 255 / 2), atol=1e-3)


def test_atomic_dir_replaces_whole_and_clears_what_a_killed_run_left(tmp_path):
    from srcnn.files import atomic_dir

    stale = tmp_path / ".tiles.abc123.tmp"
    stale.mkdir()
    (stale / "half.png").write_bytes(b"x")
    (tmp_path / "tiles").mkdir()
    (tmp_path / "tiles" / "old.png").write_bytes(b"old")
    with atomic_dir(tmp_path / "tiles") as temp:
        (temp / "new.png").write_bytes(b"new")
        assert (tmp_path / "tiles" / "old.png").exists()  # the old output stays until the new one is whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiles"]
    assert [p.name for p in (tmp_path / "tiles").iterdir()] == ["new.png"]
    assert (tmp_path / "tiles").stat().st_mode & 0o777 == 0o755


@pytest.mark.slow  # runs the train stage
def test_the_seeds_own_tile_folder_packs_into_shards_the_train_stage_reads(tmp_path):
    from conftest import ROOT, run

    rng = np.random.default_rng(2)
    (tmp_path / "seed" / "batch2").mkdir(parents=True)
    for number in range(12):
        folder = tmp_path / "seed" / ("batch2" if number % 3 == 0 else "")
        Image.fromarray(rng.integers(0, 256, (32, 64), dtype=np.uint8), "L").save(folder / f"tile_{number}.png")
    Image.fromarray(np.zeros((32, 32), np.uint8), "L").save(tmp_path / "square.png")
    result = run(
        [
            sys.executable,
            "-m",
            "srcnn",
            "pack-tiles",
            str(tmp_path / "seed"),
            "-o",
            str(tmp_path / "tiles"),
            "--tiles-per-shard",
            "3",
            "--jpeg-quality",
            "20",
        ],
        cwd=ROOT,
    )
    assert "train and" in result.stdout and (tmp_path / "tiles" / "manifest.json").is_file()
    from srcnn.dataset import read_tiles
    from srcnn.shards import load_manifest, shard_paths

    manifest = load_manifest(tmp_path / "tiles")
    pairs, strengths = read_tiles(
        shard_paths(tmp_path / "tiles", manifest, "train") + shard_paths(tmp_path / "tiles", manifest, "val")
    )
    assert pairs.shape == (12, 2, 32, 32) and (strengths > 0).all()
    assert len(manifest["shards"]) > 2  # about 3 tiles a shard
    originals = {Image.open(path).tobytes() for path in (tmp_path / "seed").rglob("*.png")}
    assert {torch.cat([pair[0], pair[1]], dim=1).numpy().tobytes() for pair in pairs} == originals
    (tmp_path / "seed2").mkdir()
    Image.fromarray(np.zeros((32, 32), np.uint8), "L").save(tmp_path / "seed2" / "square.png")
    bad = run(
        [sys.executable, "-m", "srcnn", "pack-tiles", str(tmp_path / "seed2"), "-o", str(tmp_path / "t2")],
        cwd=ROOT,
        check=False,
    )
    assert bad.returncode == 2 and "square.png: not a seed-format paired tile" in bad.stderr
