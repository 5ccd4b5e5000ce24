"""Nothing lost, ever: a shard folder is written only where it holds nothing else, by one process at
a time, from bytes checked against its manifest; and a writer killed at any point leaves a folder
that the next stage refuses until it is written again."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import ROOT, run
from PIL import Image

from benchmarks import stop_at
from srcnn.shards import MANIFEST, check_complete


def tree(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``folder``: bytes and modification time."""
    return {
        str(path.relative_to(folder)): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def contents(folder: Path) -> dict[str, bytes]:
    return {name: data for name, (data, _) in tree(folder).items()}


def stage(name: str, project: Path) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", f"stages.{name}"], cwd=project, check=False)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def prepared_project(make_project) -> Path:
    project = make_project(workers=1, photos_per_shard=2)
    assert stage("prepare", project).returncode == 0
    return project


def change_photo(project: Path, number: int = 2) -> None:
    """One pixel of a photo changed: a few bytes of its tiles change, and its tile shard keeps its
    size (a tar is whole 10,240-byte records), as most small changes do."""
    path = project / f"photos/photo_{number}.png"
    photo = np.asarray(Image.open(path)).copy()
    photo[40, 40] = 255 - photo[40, 40]
    Image.fromarray(photo).save(path)


def test_pack_tiles_refuses_a_folder_of_files_it_did_not_write(tmp_path):
    (tmp_path / "seed").mkdir()
    rng = np.random.default_rng(0)
    for number in range(3):
        Image.fromarray(rng.integers(0, 256, (8, 16), dtype=np.uint8), "L").save(tmp_path / f"seed/tile_{number}.png")
    backups = tmp_path / "backups"
    backups.mkdir()
    (backups / "photos-2023.tar").write_bytes(b"the user's archive")
    (backups / "notes.txt").write_text("keep")
    before = tree(tmp_path)
    result = run(
        [sys.executable, "-m", "srcnn", "pack-tiles", str(tmp_path / "seed"), "-o", str(backups)], cwd=ROOT, check=False
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"{backups} holds files this project did not write" in result.stderr and "photos-2023.tar" in result.stderr
    assert tree(tmp_path) == before  # not a file written, changed or deleted, beside the folder either


def test_the_data_stages_refuse_output_folders_holding_files_they_did_not_write(make_project):
    project = make_project(workers=1)
    mine = project / "data/prepared/mine.tar"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"not a shard")
    refused = stage("prepare", project)
    assert (
        refused.returncode != 0 and "data/prepared holds files this project did not write: mine.tar" in refused.stderr
    )
    assert [path.name for path in mine.parent.iterdir()] == ["mine.tar"] and mine.read_bytes() == b"not a shard"

    mine.unlink()
    assert stage("prepare", project).returncode == 0 and stage("tile", project).returncode == 0
    assert stage("prepare", project).returncode == 0  # its own report.json beside the shards is no stranger
    (project / "data/tiles/mine.tar").write_bytes(b"not a shard")
    params = yaml.safe_load((project / "params.yaml").read_text())
    (project / "params.yaml").write_text(yaml.safe_dump({**params, "stride": 16}))  # every tile shard to rewrite
    before = tree(project / "data")
    refused = stage("tile", project)
    assert refused.returncode != 0 and "data/tiles holds files this project did not write: mine.tar" in refused.stderr
    assert tree(project / "data") == before


def test_a_second_writer_stops_naming_the_first_and_a_killed_writer_frees_the_folder(make_project):
    project = prepared_project(make_project)
    tiles = project / "data/tiles"
    first = subprocess.Popen(
        stop_at.command(tiles, 1, "pause", "stages.tile"),
        cwd=project,
        env=stop_at.environment(project),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert (
            first.stdout is not None and first.stdout.readline() == "paused\n"
        )  # half-way through writing its first shard
        before = tree(project / "data")
        second = stage("tile", project)
        assert second.returncode != 0, "a second tile stage wrote data/tiles while the first was writing it"
        assert f"data/tiles is being written by pid {first.pid}" in second.stderr, second.stderr
        assert tree(project / "data") == before
    finally:
        first.kill()
        first.wait()
    third = stage("tile", project)  # the OS released the lock of the killed one
    assert third.returncode == 0, third.stderr
    manifest = check_complete(tiles)
    assert all(sha256(tiles / shard) == info["sha256"] for shard, info in manifest["shards"].items())


def test_bytes_copied_from_an_old_shard_are_checked_against_its_manifest(make_project):
    """A shard whose bytes changed under the same size and mtime (another writer, a bad disk) is
    trusted as a whole, but the photos copied out of it are checked one by one."""
    project = prepared_project(make_project)
    assert stage("tile", project).returncode == 0
    tiles = project / "data/tiles"
    for shard, info in json.loads((tiles / MANIFEST).read_text())["shards"].items():
        path, stat = tiles / shard, (tiles / shard).stat()
        data = bytearray(path.read_bytes())
        for photo in info["photos"]:
            data[photo[4] + 600] ^= 0xFF  # inside the first tile's PNG of every photo
        path.write_bytes(bytes(data))
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    change_photo(project)
    assert stage("prepare", project).returncode == 0
    refused = stage("tile", project)
    assert refused.returncode != 0 and "differ from" in refused.stderr, refused.stdout + refused.stderr
    assert "Traceback" not in refused.stderr, refused.stderr
    assert stage("tile", project).returncode == 0  # the next run checks every shard and rebuilds what changed
    updated = contents(tiles)
    shutil.rmtree(tiles)
    (project / "data/.tiles.state.json").unlink()
    assert stage("tile", project).returncode == 0
    assert contents(tiles) == updated


def test_a_tile_stage_killed_at_any_point_leaves_nothing_that_looks_complete(make_project):
    """Killed before each rename or deletion of a shard or the manifest, the folder either passes
    check_complete (what train checks first) with every shard as its manifest says, or is refused."""
    project = prepared_project(make_project)
    assert stage("tile", project).returncode == 0
    change_photo(project)
    assert stage("prepare", project).returncode == 0
    data, tiles = project / "data", project / "data/tiles"
    shutil.copytree(data, project / "before")
    refused = None
    for point in range(1, 20):
        shutil.rmtree(data)
        shutil.copytree(project / "before", data)
        killed = subprocess.run(
            stop_at.command(tiles, point, "kill", "stages.tile", pattern="[!.]*"),
            cwd=project,
            env=stop_at.environment(project),
            capture_output=True,
            text=True,
        )
        if killed.returncode == 0:
            break
        assert killed.returncode == -9, killed.stderr
        try:
            manifest = check_complete(tiles)
        except FileNotFoundError:
            refused = point
            shutil.rmtree(project / "refused", ignore_errors=True)
            shutil.copytree(data, project / "refused")
            continue
        stale = [shard for shard, info in manifest["shards"].items() if sha256(tiles / shard) != info["sha256"]]
        assert not stale, f"killed before change {point}: {stale} differ from a manifest that check_complete passed"
    else:
        pytest.fail("the tile stage never finished")
    assert refused, "never killed half-way"
    finished = contents(tiles)
    shutil.rmtree(data)
    shutil.copytree(project / "refused", data)  # as the last kill that was refused left it
    train = stage("train", project)
    assert train.returncode != 0 and "run the tile stage first" in train.stderr, train.stderr
    assert stage("tile", project).returncode == 0
    assert contents(tiles) == finished


def test_a_data_stage_whose_main_process_alone_is_killed_leaves_no_worker_holding_the_folder(make_project):
    """The OOM killer kills one process, not its workers: they must neither keep the folder locked
    (the next run would stop naming a dead process) nor live on, waiting for work forever."""
    project = make_project(workers=2, photos_per_shard=1)
    prepared = project / "data/prepared"
    killed = subprocess.Popen(
        stop_at.command(prepared, 1, "kill", "stages.prepare", pattern="*.partial"),
        cwd=project,
        env=stop_at.environment(project),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        assert killed.wait() == -9  # its first shard written, its workers busy with the next photos
        again = stage("prepare", project)
        assert again.returncode == 0, again.stderr
        left = [pid for pid in map(int, filter(str.isdigit, os.listdir("/proc"))) if session_of(pid) == killed.pid]
        deadline = time.monotonic() + 60  # not a speed target: workers notice within a second or two
        while left and time.monotonic() < deadline:
            time.sleep(0.2)
            left = [pid for pid in left if session_of(pid) == killed.pid]
        assert not left, f"the killed stage's workers {left} are still running"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(killed.pid, signal.SIGKILL)


def session_of(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[3])
    except (OSError, IndexError, ValueError):
        return None


def test_a_tile_stage_reading_data_prepared_while_a_prepare_rewrites_it_stops_writing_nothing(make_project):
    """Two terminals (dvc repro runs one stage at a time): tile reads each photo's samples where the
    manifest said when it started; a prepare that rewrites that shard meanwhile moves them. Tile must
    notice (each span has its sha256), not crash or tile the wrong bytes under the photo's name."""
    project = prepared_project(make_project)
    prepared = project / "data/prepared"
    shards = sorted(json.loads((prepared / MANIFEST).read_text())["shards"].items())
    before, (shard, _) = next(
        (sum(len(other["photos"]) for _, other in shards[:index]), shards[index])
        for index in range(len(shards))
        if len(shards[index][1]["photos"]) >= 2
    )
    paused = subprocess.Popen(
        stop_at.command(prepared, before + 2, "pause", "stages.tile", pattern="*.tar", on=["open"]),
        cwd=project,
        env=stop_at.environment(project),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert (
            paused.stdout is not None and paused.stdout.readline() == "paused\n"
        )  # about to read the second photo of that shard
        params = yaml.safe_load((project / "params.yaml").read_text())
        (project / "params.yaml").write_text(yaml.safe_dump({**params, "max_side": 128}))
        assert stage("prepare", project).returncode == 0  # every photo smaller: all but the first of a shard move
        out, err = paused.communicate("")
    finally:
        paused.kill()
    assert paused.returncode == 1 and "Traceback" not in err, err
    assert f"data/prepared/{shard}" in err and "was rewritten while" in err, err
    with pytest.raises(FileNotFoundError):
        check_complete(project / "data/tiles")
    assert stage("tile", project).returncode == 0
    manifest = check_complete(project / "data/tiles")
    assert all(sha256(project / "data/tiles" / name) == entry["sha256"] for name, entry in manifest["shards"].items())
