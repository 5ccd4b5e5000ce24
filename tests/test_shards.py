"""Tar shards: reproducible bytes, incremental updates equal to a run from scratch, streaming that
gives each rank and loader worker its own shards, and the prepare/tile stages updating in place."""

from __future__ import annotations

import json
import shutil
import sys

import numpy as np
import pytest
import torch
import webdataset
from conftest import dvc, run, synthetic_photo
from PIL import Image

from srcnn.dataset import ShardTiles, read_tiles, share_of_samples, spread_tiles
from srcnn.images import encode_png
from srcnn.shards import MANIFEST, Entry, fingerprint, load_manifest, place, read_shard, shard_paths, update_shards


def tile_sample(key: str, value: int) -> dict:
    """A 2·8×8 paired tile whose every pixel is ``value``: where it came from can be read back."""
    return {"__key__": key, "png": encode_png(np.full((8, 16), value, dtype=np.uint8)), "json": b"{}"}


def entries(names: dict[str, int], shards: int = 3) -> list[Entry]:
    return [Entry(f"train-{value % shards:04d}.tar", name, fingerprint(name, value)) for name, value in names.items()]


class Builder:
    """Builds each photo's samples (3 tiles of its value) and remembers which it had to build."""

    def __init__(self, names: dict[str, int]) -> None:
        self.names = names
        self.built: list[str] = []

    def __call__(self, needed: list[Entry]):
        for entry in needed:
            self.built.append(entry.name)
            value = self.names[entry.name]
            yield [tile_sample(f"{entry.name}_{index}", value) for index in range(3)], {"name": entry.name}


def files(folder) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_updates_rebuild_only_what_changed_and_equal_a_run_from_scratch(tmp_path):
    photos = {f"p{number}": number for number in range(12)}
    first = Builder(photos)
    update_shards(tmp_path / "inc", entries(photos), first)
    assert sorted(first.built) == sorted(photos)

    photos_now = {**{name: value for name, value in photos.items() if name != "p4"}, "p20": 20}
    again = Builder(photos_now)
    result = update_shards(tmp_path / "inc", entries(photos_now), again)
    assert again.built == ["p20"]  # p4 removed, p20 added: nothing else computed again
    assert (result["written"], result["kept"]) == (2, 1)  # the shards of p4 and p20 rewritten, the third kept
    scratch = Builder(photos_now)
    update_shards(tmp_path / "scratch", entries(photos_now), scratch)
    assert files(tmp_path / "inc") == files(tmp_path / "scratch")  # byte for byte
    keys = [sample["__key__"] for shard in sorted((tmp_path / "inc").glob("*.tar")) for sample in read_shard(shard)]
    assert sorted(keys) == sorted(f"{name}_{index}" for name in photos_now for index in range(3))

    nothing = Builder(photos_now)
    assert update_shards(tmp_path / "inc", entries(photos_now), nothing)["written"] == 0 and nothing.built == []


def test_photos_go_in_name_order_runs_so_photos_named_after_the_others_touch_only_the_last_shard():
    names = [f"2026/IMG_{number:05d}.jpg.png" for number in range(2000)]
    placed = place({name: "train" for name in names}, 50)
    assert place({name: "train" for name in reversed(names)}, 50) == placed  # a function of the set of names alone
    in_order = [placed[name] for name in sorted(names)]
    shards = list(dict.fromkeys(in_order))
    assert len(shards) == len(set(in_order)) and 20 <= len(shards) <= 80  # contiguous runs of about 50
    assert all(shard.startswith("train-") and shard.endswith(".tar") for shard in shards)

    added = [f"2026/IMG_{number:05d}.jpg.png" for number in range(2000, 2020)]  # 1 % more, named after the others
    after = place({name: "train" for name in names + added}, 50)
    assert all(after[name] == placed[name] for name in names)  # no photo moves
    assert {after[name] for name in added} - {shards[-1]} == set(after.values()) - set(
        shards
    )  # the last run, or new ones

    between = "2026/IMG_00999_edit.jpg.png"  # one photo that sorts in the middle: only its run changes
    inserted = place({name: "train" for name in names + [between]}, 50)
    moved = {placed[name] for name in names if inserted[name] != placed[name]}
    assert moved <= {placed["2026/IMG_00999.jpg.png"]}
    assert len(set(place({name: "val" for name in names[:10]}, 1).values())) == 10  # photos_per_shard 1: a shard each
    both = place({name: "val" if number % 4 == 0 else "train" for number, name in enumerate(names)}, 50)
    assert all(both[name].startswith("val-" if number % 4 == 0 else "train-") for number, name in enumerate(names))


def test_photos_that_move_to_another_shard_are_copied_not_built_again(tmp_path):
    """A photo added where a run starts cuts the run in two: the photos after it move to the new
    shard, copied from the old one's bytes (which must still be there when they are copied)."""
    photos = {f"p{number}": number for number in range(6)}

    def placed(cut: bool) -> list[Entry]:
        return [
            Entry("train-a.tar" if not cut or name < "p3" else "train-b.tar", name, fingerprint(name, value))
            for name, value in photos.items()
        ]

    update_shards(tmp_path / "inc", placed(cut=False), Builder(photos))
    moved = Builder(photos)
    result = update_shards(tmp_path / "inc", placed(cut=True), moved)
    assert moved.built == [] and (result["written"], result["reused"]) == (2, 6)
    update_shards(tmp_path / "scratch", placed(cut=True), Builder(photos))
    assert files(tmp_path / "inc") == files(tmp_path / "scratch")


def test_a_shard_changed_behind_its_back_is_rebuilt(tmp_path):
    photos = {f"p{number}": number for number in range(6)}
    update_shards(tmp_path / "tiles", entries(photos), Builder(photos))
    reference = files(tmp_path / "tiles")
    shard = tmp_path / "tiles" / "train-0001.tar"
    data = bytearray(shard.read_bytes())
    data[600] ^= 0xFF  # same size, different bytes, e.g. an edit by hand or a bad disk
    shard.write_bytes(bytes(data))
    rebuilt = Builder(photos)
    update_shards(tmp_path / "tiles", entries(photos), rebuilt)
    assert sorted(rebuilt.built) == ["p1", "p4"] and files(tmp_path / "tiles") == reference


def test_each_rank_and_worker_streams_its_own_shards(tmp_path):
    photos = {f"p{number}": number for number in range(8)}
    update_shards(tmp_path, entries(photos, shards=8), Builder(photos))
    shards = sorted(tmp_path.glob("*.tar"))
    seen = {}
    for rank in (0, 1):
        stream = ShardTiles(shards, seed=0, shuffle_buffer=4, workers=2)
        batches = stream.batches(epoch=0, batch_size=4, rank=rank, world=2)
        values = torch.cat([next(batches)[0] for _ in range(12)])[:, 0, 0, 0]
        seen[rank] = set(values.tolist())
        batches.close()
    assert seen[0] and seen[1] and not seen[0] & seen[1]  # no tile read by both ranks
    assert seen[0] | seen[1] == set(photos.values())
    again = ShardTiles(shards, seed=0, shuffle_buffer=4, workers=2).batches(0, 4, 0, 2)
    first = ShardTiles(shards, seed=0, shuffle_buffer=4, workers=2).batches(0, 4, 0, 2)
    assert all(torch.equal(next(again)[0], next(first)[0]) for _ in range(6))  # a pure function of the seed
    other = ShardTiles(shards, seed=1, shuffle_buffer=4, workers=2).batches(0, 4, 0, 2)
    assert not all(torch.equal(next(other)[0], next(first)[0]) for _ in range(6))  # another seed, another order


def test_loader_workers_share_the_samples_of_fewer_shards_than_there_are_workers(tmp_path):
    photos = {f"p{number}": number for number in range(6)}
    update_shards(tmp_path, entries(photos, shards=1), Builder(photos))
    batches = ShardTiles(sorted(tmp_path.glob("*.tar")), seed=0, shuffle_buffer=4, workers=3).batches(0, 4)
    values = torch.cat([next(batches)[0] for _ in range(30)])[:, 0, 0, 0].tolist()
    batches.close()
    assert set(values) == set(photos.values())  # every tile, from three workers on one shard
    assert len(values) == 120 and max(values.count(value) for value in set(values)) <= 2 * min(
        values.count(value) for value in set(values)
    )  # evenly: no worker hands out the whole shard again


def test_a_workers_share_of_a_shard_is_read_by_seeking_and_is_the_samples_webdataset_would_give(tmp_path):
    photos = {f"p{number}": number for number in range(7)}
    update_shards(tmp_path, entries(photos, shards=2), Builder(photos))
    shards = sorted(str(path) for path in tmp_path.glob("*.tar"))

    def urls():  # two passes, the shards in another order the second time
        return iter([{"url": url} for url in shards + shards[::-1]])

    everything = list(webdataset.DataPipeline(urls, webdataset.tarfile_to_samples()))
    for worker in range(3):
        share = list(share_of_samples(urls(), worker, 3))
        expected = everything[worker::3]
        assert [sample["__key__"] for sample in share] == [sample["__key__"] for sample in expected]
        assert all(
            mine[suffix] == theirs[suffix]
            for mine, theirs in zip(share, expected, strict=True)
            for suffix in ("png", "json")
        )
        assert all(mine["__url__"] == theirs["__url__"] for mine, theirs in zip(share, expected, strict=True))


@pytest.mark.parametrize("workers", [0, 2])
def test_one_stream_for_the_whole_run_gives_each_epoch_the_batches_of_a_resumed_run(tmp_path, workers):
    """fit reads one stream for the whole run (its loader workers start once and never refill);
    batch j of epoch e must not depend on where the run started, or a resumed run would train on
    other batches."""
    photos = {f"p{number}": number for number in range(8)}
    update_shards(tmp_path, entries(photos, shards=8), Builder(photos))
    stream = ShardTiles(sorted(tmp_path.glob("*.tar")), seed=0, shuffle_buffer=4, workers=workers)

    def take(batches, count):
        taken = [next(batches)[0][:, 0, 0, 0].tolist() for _ in range(count)]
        batches.close()
        return taken

    whole_run = take(stream.batches(0, 4, steps_per_epoch=3), 9)  # epochs 0, 1, 2; 3 steps do not divide by 2 workers
    assert take(stream.batches(1, 4, steps_per_epoch=3), 6) == whole_run[3:]
    assert take(stream.batches(2, 4, steps_per_epoch=3), 3) == whole_run[6:]
    assert whole_run[:3] != whole_run[3:6]
    with pytest.raises(ValueError, match="steps_per_epoch"):
        next(stream.batches(1, 4))


def test_the_curve_tiles_are_read_from_their_photos_spans_alone(tmp_path):
    """spread_tiles picks count tiles evenly over a split, reading only the photos that hold them:
    the same tiles as picking them from the whole split read in order."""
    photos = {f"p{number}": number for number in range(9)}

    def build(needed):
        for entry in needed:
            value = 10 * photos[entry.name]
            yield [tile_sample(f"{entry.name}_{index}", value + index) for index in range(1 + value % 4)], {}

    update_shards(tmp_path, entries(photos), build)
    manifest = load_manifest(tmp_path)
    everything, _ = read_tiles(shard_paths(tmp_path, manifest, "train"))
    for count in (1, 5, 7, len(everything), 100):
        picked, strengths = spread_tiles(tmp_path, manifest, "train", count)
        indices = np.linspace(0, len(everything) - 1, min(count, len(everything))).round().astype(int)
        assert torch.equal(picked, everything[indices]) and len(strengths) == len(picked)


def test_too_few_shards_for_the_processes_is_a_clear_error(tmp_path):
    photos = {"p0": 0}
    update_shards(tmp_path, entries(photos), Builder(photos))
    with pytest.raises(ValueError, match="lower params photos_per_shard"):
        next(ShardTiles(sorted(tmp_path.glob("*.tar")), seed=0).batches(0, 4, rank=1, world=2))


def test_adding_photos_reruns_prepare_and_tile_on_them_only_and_equals_a_fresh_run(make_project):
    project = make_project(photos_per_shard=2)
    for number in range(4, 8):
        Image.fromarray(synthetic_photo(number)).save(project / f"photos/photo_{number}.png")
    dvc("repro", "tile", cwd=project)
    Image.fromarray(synthetic_photo(30)).save(project / "photos/photo_30.png")
    again = dvc("repro", "tile", cwd=project)
    assert "1 photos computed" in again.stdout and "1 photos tiled" in again.stdout, again.stdout
    assert "up to date" in dvc("status", "tile", cwd=project).stdout

    fresh = project.parent / "fresh"
    shutil.copytree(project, fresh, ignore=shutil.ignore_patterns("data", "dvc.lock", ".dvc"))
    run(["git", "init", "-q"], cwd=fresh)
    run([sys.executable, "-m", "dvc", "init", "-q", "--force"], cwd=fresh)
    dvc("repro", "tile", cwd=fresh)
    for folder in ("data/prepared", "data/tiles"):
        assert files(project / folder) == files(fresh / folder), folder
    manifest = json.loads((project / "data/tiles" / MANIFEST).read_text())
    assert 2 <= len(manifest["shards"]) <= 9  # runs of about 2 of the 9 photos, in each split
