"""raw_dir as a list of folders: every folder read, names unique across them, DVC rerunning prepare when
any of them changes; a single folder keeps the names it always had; bad lists stopped naming the folder."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
import yaml
from conftest import dvc, run, synthetic_photo, write_photos
from PIL import Image

from srcnn.photos import folder_labels


def set_raw_dir(project: Path, raw_dir) -> None:
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["raw_dir"] = raw_dir
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def prepared(project: Path) -> dict:
    return json.loads((project / "data/prepared/report.json").read_text())


def test_two_folders_with_the_same_file_names_and_a_photo_added_to_the_second(make_project, tmp_path):
    project = make_project()  # photos/photo_0.png … photo_3.png
    roll = tmp_path / "Camera Roll"  # outside the project, with a space
    roll.mkdir()
    for number in (0, 1):  # the same file names as in photos/, other pictures
        Image.fromarray(synthetic_photo(20 + number)).save(roll / f"photo_{number}.png")
    shutil.copy(project / "photos/photo_2.png", roll / "copy of photo_2.png")  # the same bytes in both folders
    set_raw_dir(project, ["photos", str(roll)])

    dvc("repro", "prepare", cwd=project)
    report = prepared(project)
    names = {photo["name"]: photo for photo in report["photos"]}
    assert set(names) == {f"photos__photo_{number}.png" for number in range(4)} | {
        "Camera Roll__photo_0.png",
        "Camera Roll__photo_1.png",
        "Camera Roll__copy of photo_2.png",
    }
    assert names["photos__photo_0.png"]["sha256"] != names["Camera Roll__photo_0.png"]["sha256"]
    assert report["raw_dir"] == ["photos", str(roll)] and report["photos_used"] == 7
    assert names["photos__photo_2.png"]["split"] == names["Camera Roll__copy of photo_2.png"]["split"]
    assert [sorted(files) for files in report["duplicates"]] == [
        sorted(["photos/photo_2.png", str(roll / "copy of photo_2.png")])
    ]

    Image.fromarray(synthetic_photo(30)).save(roll / "new.png")
    again = dvc("repro", "prepare", cwd=project)
    assert "Running stage 'prepare'" in again.stdout, again.stdout
    assert "Camera Roll__new.png" in {photo["name"] for photo in prepared(project)["photos"]}
    assert "Running stage 'prepare'" not in dvc("repro", "prepare", cwd=project).stdout


def test_a_single_folder_keeps_its_names_as_a_string_or_a_list_of_one(make_project):
    project = make_project()
    dvc("repro", "prepare", cwd=project)
    names = {photo["name"] for photo in prepared(project)["photos"]}
    assert names == {f"photo_{number}.png" for number in range(4)}

    set_raw_dir(project, ["photos"])
    again = dvc("repro", "prepare", cwd=project)
    assert "(0 photos computed, 0 reused, 0 shards written" in again.stdout, again.stdout  # the same names: shards kept
    assert {photo["name"] for photo in prepared(project)["photos"]} == names


def test_folders_of_the_same_name_are_told_apart_by_their_parents(tmp_path):
    folders = [tmp_path / "2023/photos", tmp_path / "2024/photos", tmp_path / "trips"]
    assert folder_labels(folders) == ["2023__photos", "2024__photos", "trips"]
    assert folder_labels(folders[::-1]) == ["trips", "2024__photos", "2023__photos"]  # not a matter of order


def test_dvc_repro_with_a_missing_folder_in_the_list_names_it(make_project, tmp_path):
    project = make_project()
    missing = tmp_path / "no such folder"
    set_raw_dir(project, ["photos", str(missing)])
    result = dvc("repro", "prepare", cwd=project, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and f"raw_dir: {missing}, one of its folders, does not exist" in output, output
    assert not (project / "data/prepared").exists()


@pytest.mark.parametrize(
    "raw_dir, message",
    [
        ([], "raw_dir must be a folder (a non-empty path), or a non-empty list of them"),
        (["photos", ""], "raw_dir must be a folder (a non-empty path), or a non-empty list of them"),
        (["photos", "./photos/"], "each folder once: 'photos' and './photos/' are the same folder"),
        (["photos/trips", "photos"], "none inside another: 'photos/trips' is inside 'photos'"),
        (["photos", "missing"], "raw_dir: missing, one of its folders, does not exist"),
        (["photos", "empty"], "raw_dir: empty, one of its folders, holds no photos"),
    ],
)
def test_bad_lists_stop_the_stages_naming_the_folder(make_project, raw_dir, message):
    project = make_project()
    write_photos(project / "photos/trips", 1)
    (project / "empty").mkdir()
    (project / "empty/notes.txt").write_text("photos go here\n")
    set_raw_dir(project, raw_dir)
    for stage in ("scan", "prepare"):
        result = run([sys.executable, "-m", f"stages.{stage}"], cwd=project, check=False)
        assert result.returncode != 0 and message in result.stderr, (stage, result.stderr)
        assert "Traceback" not in result.stderr
    assert sorted(path.name for path in (project / "data").iterdir()) == [".gitignore"]  # nothing written


def test_the_digest_cache_reads_again_only_files_that_changed(tmp_path, monkeypatch):
    from srcnn.photos import DigestCache, find_photos

    monkeypatch.setattr(DigestCache, "RECENT_NS", 0)  # remember files just written (else they are read next time too)
    photos = write_photos(tmp_path / "photos", 3)
    state = tmp_path / ".raw_files.state.json"
    cache = DigestCache(state)
    first = {photo.name: photo.digest for photo in find_photos(tmp_path / "photos", cache.digest)[0]}
    cache.save()
    assert cache.read == 3

    data = bytearray(photos[0].read_bytes())
    data[-20] ^= 0xFF  # the same size, other bytes
    photos[0].write_bytes(bytes(data))
    cache = DigestCache(state)
    again = {photo.name: photo.digest for photo in find_photos(tmp_path / "photos", cache.digest)[0]}
    assert cache.read == 1 and again["photo_0.png"] != first["photo_0.png"]
    assert {name: again[name] for name in ("photo_1.png", "photo_2.png")} == {
        name: first[name] for name in ("photo_1.png", "photo_2.png")
    }
