import numpy as np
import pytest
from PIL import Image

from srcnn.dataset import load_pairs, random_batch
from srcnn.images import save_png
from srcnn.tiling import join_pair, split_pair, tile_origins, write_tiles

import torch


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


def test_write_tiles_pairs_aligned_windows(tmp_path):
    rng = np.random.default_rng(1)
    clean = rng.integers(0, 256, (70, 100, 3), dtype=np.uint8)
    degraded = 255 - clean
    save_png(tmp_path / "clean.png", clean)
    save_png(tmp_path / "degraded.png", degraded)
    result = write_tiles(tmp_path / "clean.png", tmp_path / "degraded.png", tmp_path / "tiles", 32, 32)
    assert result["tiles"] == 3 * 4
    pairs = load_pairs(tmp_path / "tiles")
    # luma of an inverted image: Y(255 - rgb) = 16 + 235 - Y(rgb), so the halves mirror each other
    total = pairs[:, 0].int() + pairs[:, 1].int()
    assert total.min() >= 250 and total.max() <= 252


def test_random_batch_crops_match_between_clean_and_degraded():
    pairs = torch.randint(0, 256, (5, 2, 16, 16), dtype=torch.uint8)
    pairs[:, 1] = pairs[:, 0] // 2
    degraded, clean = random_batch(pairs, 64, 8, torch.Generator().manual_seed(0))
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
