"""Every input kind a user's photo folder may hold, and every bad one, generated here and run through
the real stage commands (``python -m stages.prepare``, ``python -m stages.tile``, ``dvc repro``).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import ALWAYS_RUN, dvc, run, stages_run, synthetic_photo
from PIL import Image

from srcnn.photos import read_prepared

JPEG_ERROR = 5.0  # mean |error| of a quality-95 JPEG of a noisy synthetic photo is about 3
HEIGHT, WIDTH = 48, 64  # smaller than max_side (192): prepared "clean" PNGs are the decoded photos as they are
TRUTH = synthetic_photo(7, HEIGHT, WIDTH)

# stored pixels for each EXIF orientation, written independently of Pillow: a viewer that applies the
# orientation (6: turn 90° clockwise, 8: counter-clockwise, 5/7: transpose/transverse, ...) shows TRUTH
STORED = {
    1: lambda a: a,
    2: np.fliplr,
    3: lambda a: np.rot90(a, 2),
    4: np.flipud,
    5: lambda a: a.swapaxes(0, 1),
    6: lambda a: np.rot90(a, 1),
    7: lambda a: np.rot90(a, 2).swapaxes(0, 1),
    8: lambda a: np.rot90(a, -1),
}


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_png(path: Path, width: int, height: int, depth: int, color: int, idat: bytes) -> None:
    """A PNG written byte by byte (Pillow cannot write 16-bit colour, nor lie about a size)."""
    header = struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")
    )


def write_png16(path: Path, array: np.ndarray) -> None:
    """A 16-bit PNG: grey (H×W) or RGB (H×W×3) uint16."""
    height, width = array.shape[:2]
    rows = array.astype(">u2").reshape(height, -1).view(np.uint8)
    raw = np.concatenate([np.zeros((height, 1), np.uint8), rows], axis=1).tobytes()  # filter 0 per row
    write_png(path, width, height, 16, 2 if array.ndim == 3 else 0, zlib.compress(raw))


def save(path: Path, array: np.ndarray, mode: str | None = None, **options) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(array)
    (image.convert(mode) if mode else image).save(path, **options)
    return path


def alpha_pattern() -> np.ndarray:
    """Transparent left half, opaque right half."""
    alpha = np.full((HEIGHT, WIDTH), 255, np.uint8)
    alpha[:, : WIDTH // 2] = 0
    return alpha


def build_corpus(folder: Path) -> dict[str, dict]:
    """Write every kind of input into ``folder``; returns file (relative) → what the stages must do with it.

    Good files: {"kind": "used", "expect": array or None, "tolerance": mean |error|}.
    Bad files: {"kind": skip kind}.
    """
    corpus: dict[str, dict] = {}

    def good(name: str, expect: np.ndarray | None, tolerance: float = 0.0) -> None:
        corpus[name] = {"kind": "used", "expect": expect, "tolerance": tolerance}

    save(folder / "baseline.jpg", TRUTH, quality=95, subsampling=0)
    good("baseline.jpg", TRUTH, JPEG_ERROR)
    save(folder / "progressive.jpg", TRUTH, quality=95, subsampling=0, progressive=True)
    good("progressive.jpg", TRUTH, JPEG_ERROR)
    for orientation, stored in STORED.items():
        exif = Image.Exif()
        exif[0x0112] = orientation
        save(
            folder / f"orientation_{orientation}.jpg",
            np.ascontiguousarray(stored(TRUTH)),
            quality=95,
            subsampling=0,
            exif=exif.tobytes(),
        )
        good(f"orientation_{orientation}.jpg", TRUTH, JPEG_ERROR)
    save(folder / "rgb8.png", TRUTH)
    good("rgb8.png", TRUTH)
    wide = TRUTH.astype(np.uint16) * 257  # 16-bit colour, full range (65535 is white)
    write_png16(folder / "rgb16.png", wide)
    good("rgb16.png", TRUTH, 0.0)
    grey = TRUTH[..., 1]
    save(folder / "grey.png", grey)
    good("grey.png", np.repeat(grey[..., None], 3, axis=2))
    write_png16(folder / "grey16.png", grey.astype(np.uint16) * 257)
    good("grey16.png", np.repeat(grey[..., None], 3, axis=2))
    left, expect_alpha = alpha_pattern(), TRUTH.copy()
    expect_alpha[:, : WIDTH // 2] = 128  # transparent → the neutral grey background
    save(folder / "rgba.png", np.dstack([TRUTH, left]))
    good("rgba.png", expect_alpha)
    expect_grey_alpha = np.repeat(grey[..., None], 3, axis=2)
    expect_grey_alpha[:, : WIDTH // 2] = 128
    save(folder / "grey_alpha.png", np.dstack([grey, left]), "LA")
    good("grey_alpha.png", expect_grey_alpha)
    palette = Image.fromarray(TRUTH).quantize(64)
    palette.save(folder / "palette.png")
    good("palette.png", np.asarray(palette.convert("RGB")))
    save(folder / "cmyk.jpg", TRUTH, "CMYK", quality=95)  # Pillow writes Adobe-inverted CMYK, like Photoshop
    good("cmyk.jpg", TRUTH, JPEG_ERROR + 1)
    save(folder / "photo.tif", TRUTH)
    good("photo.tif", TRUTH)
    save(folder / "photo.webp", TRUTH, lossless=True)
    good("photo.webp", TRUTH)
    save(folder / "photo.bmp", TRUTH)
    good("photo.bmp", TRUTH)
    save(folder / "UPPER.JPG", synthetic_photo(8, HEIGHT, WIDTH), quality=90)
    good("UPPER.JPG", None)
    save(folder / "Mixed.Png", synthetic_photo(9, HEIGHT, WIDTH))
    good("Mixed.Png", None)
    save(folder / "trips" / "2024" / "nested.jpeg", synthetic_photo(10, HEIGHT, WIDTH), quality=90)
    good("trips/2024/nested.jpeg", None)
    shutil.copy(folder / "baseline.jpg", folder / "trips" / "copy of baseline.jpg")  # same bytes, two names
    good("trips/copy of baseline.jpg", TRUTH, JPEG_ERROR)
    save(folder / "small.png", synthetic_photo(11, 30, 40)[5:25, :28])  # usable, but smaller than one tile (32)
    corpus["small.png"] = {"kind": "too_small_for_tile"}

    save(folder / "tiny.png", synthetic_photo(12, 30, 40)[:5, :6])  # too small to make a pair at all
    corpus["tiny.png"] = {"kind": "too_small"}
    (folder / "notes.txt").write_text("shot list\n")
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1" + bytes(64))
    (folder / "clip.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + np.random.default_rng(0).bytes(2000))
    save(folder / ".thumbnails" / "hidden.jpg", TRUTH)
    for name in ("notes.txt", ".DS_Store", "clip.mp4", ".thumbnails/"):
        corpus[name] = {"kind": "not_a_photo"}
    whole = (folder / "baseline.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    png = (folder / "rgb8.png").read_bytes()
    (folder / "truncated.png").write_bytes(png[: len(png) * 2 // 3])
    corrupt = bytearray(whole)
    garbage = bytearray(np.random.default_rng(1).bytes(400).replace(b"\xff", b"\xfe"))  # another file's bytes,
    garbage[200:202] = b"\xff\x3a"  # with a byte pair that no JPEG stream holds: libjpeg would only warn
    corrupt[len(corrupt) // 2 : len(corrupt) // 2 + 400] = garbage  # in the picture data (the headers are 1 kB)
    (folder / "corrupt.jpg").write_bytes(bytes(corrupt))
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "text_named.png").write_text("not an image at all\n")
    for name in ("truncated.jpg", "truncated.png", "corrupt.jpg", "empty.jpg", "text_named.png"):
        corpus[name] = {"kind": "unreadable"}
    # decompression bombs: headers announcing too many pixels, and data that would fail if it were decoded
    write_png(folder / "bomb.png", 11_000, 10_000, 8, 2, b"garbage, never decoded")  # over our limit
    write_png(folder / "huge_bomb.png", 30_000, 30_000, 8, 2, b"garbage, never decoded")  # over Pillow's too
    corpus["bomb.png"] = corpus["huge_bomb.png"] = {"kind": "too_many_pixels"}
    return corpus


def snapshot(folder: Path) -> dict[str, tuple]:
    """Every file's bytes, modification time and mode."""
    files = sorted(path for path in folder.rglob("*") if path.is_file())
    return {
        str(path.relative_to(folder)): (
            hashlib.sha256(path.read_bytes()).hexdigest(),
            path.stat().st_mtime_ns,
            path.stat().st_mode,
        )
        for path in files
    }


def set_params(project: Path, **values) -> Path:
    """Change params.yaml of a make_project copy (make_project itself fixes raw_dir to photos/)."""
    params = yaml.safe_load((project / "params.yaml").read_text())
    params.update(values)
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return project


def stage(name: str, project: Path, check: bool = False):
    return run([sys.executable, "-m", f"stages.{name}"], cwd=project, check=check)


def report(project: Path) -> dict:
    return json.loads((project / "data/prepared/report.json").read_text())


def test_every_input_kind_through_prepare_and_tile(make_project, tmp_path):
    corpus_dir = tmp_path / "My Photos"  # outside the project, with a space, as a user's folder may be
    corpus = build_corpus(corpus_dir)
    before = snapshot(corpus_dir)
    project = set_params(make_project(workers=2), raw_dir=str(corpus_dir))

    prepared = stage("prepare", project)
    assert prepared.returncode == 0, prepared.stderr
    facts = report(project)
    used = {str(Path(item["file"]).relative_to(corpus_dir)): item for item in facts["photos"]}
    skipped = {
        str(Path(item["file"]).relative_to(corpus_dir)) + ("/" if item["file"].endswith("/") else ""): item
        for item in facts["skipped_files"]
    }
    for name, what in corpus.items():
        if what["kind"] in ("used", "too_small_for_tile"):
            assert name in used, (name, skipped.get(name))
        else:
            assert name in skipped and skipped[name]["kind"] == what["kind"], (name, skipped.get(name))
            assert f"skipped {corpus_dir / name.rstrip('/')}" in prepared.stderr, name  # named in a warning
    assert len(used) + len(skipped) == len(corpus) == facts["files_found"]
    assert "limit of 100,000,000" in skipped["bomb.png"]["reason"]
    assert "limit of 100,000,000" in skipped["huge_bomb.png"]["reason"]
    assert "truncated" in skipped["truncated.jpg"]["reason"]
    assert "corrupt: invalid marker 0xFF3A inside the picture data" in skipped["corrupt.jpg"]["reason"]

    for name, what in corpus.items():  # the pixels each kind must give
        if what.get("expect") is None:
            continue
        item = used[name]
        [(_, clean, _)] = read_prepared(project / "data/prepared", item["split"], {item["name"]})
        assert clean.shape == what["expect"].shape, name
        error = np.abs(clean.astype(int) - what["expect"]).mean()
        assert error <= what["tolerance"], (name, error)
    for orientation in (2, 3, 4):  # a wrong turn would be far off: the check above can tell
        assert np.abs(STORED[orientation](TRUTH).astype(int) - TRUTH).mean() > 4 * JPEG_ERROR
    assert used["baseline.jpg"]["split"] == used["trips/copy of baseline.jpg"]["split"]
    assert facts["duplicates"] == [[str(corpus_dir / "baseline.jpg"), str(corpus_dir / "trips/copy of baseline.jpg")]]

    tiled = stage("tile", project)
    assert tiled.returncode == 0, tiled.stderr
    assert f"skipped {corpus_dir / 'small.png'}: 28×20 is smaller than one 32 px tile" in tiled.stderr
    data = json.loads((project / "metrics/data.json").read_text())
    kinds = [what["kind"] for what in corpus.values()]
    assert data["files_found"] == len(corpus)
    assert data["photos_used"] == kinds.count("used")
    assert data["photos_train"] + data["photos_val"] == data["photos_used"]
    assert data["skipped_not_a_photo"] == kinds.count("not_a_photo")
    assert data["skipped_unreadable"] == kinds.count("unreadable")
    assert data["skipped_too_many_pixels"] == 2
    assert data["skipped_too_small"] == 2  # tiny.png in prepare, small.png in tile
    assert data["tiles_train"] > 0 and data["tiles_val"] > 0
    assert snapshot(corpus_dir) == before  # the raw folder is never modified


def test_strict_fails_naming_the_broken_photo(make_project):
    project = make_project(strict=True)
    whole = (project / "photos/photo_0.png").read_bytes()
    (project / "photos/cut.png").write_bytes(whole[: len(whole) // 2])
    result = stage("prepare", project)
    assert result.returncode != 0
    assert "photos/cut.png" in result.stderr and "strict" in result.stderr
    assert not (project / "data/prepared/report.json").exists()  # nothing that looks complete
    tiled = stage("tile", project)
    assert tiled.returncode != 0 and "run the prepare stage first" in tiled.stderr


@pytest.mark.parametrize("content", ["missing", "empty", "no photos"])
def test_missing_or_empty_raw_dir_is_a_clear_error(make_project, content):
    project = set_params(make_project(), raw_dir="my_photos")
    if content != "missing":
        (project / "my_photos").mkdir()
    if content == "no photos":
        (project / "my_photos/readme.txt").write_text("photos go here\n")
    result = stage("prepare", project)
    assert result.returncode != 0
    assert "raw_dir my_photos" in result.stderr and "dvc exp run -S raw_dir=" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert not (project / "data/prepared").exists() and not any((project / "data").glob(".prepared*"))


@pytest.mark.parametrize(
    "key, value, allowed",
    [
        ("jpeg_quality", 0, "from 1 to 100"),
        ("tile", -1, "from 8 to 4096"),
        ("val_fraction", 1.5, "less than 1.0"),
        ("lr", "fast", "a number"),
        ("workers", "all", "a whole number"),
        ("strict", "yes", "true or false"),
        ("colour", "vivid", "known keys are"),
    ],
)
def test_bad_params_stop_before_any_work(make_project, key, value, allowed):
    project = make_project(**{key: value})
    for name in ("prepare", "tile"):
        result = stage(name, project)
        assert result.returncode != 0
        assert key in result.stderr and allowed in result.stderr, result.stderr
        assert key == "colour" or str(value) in result.stderr, result.stderr  # an unknown key has no rule
        assert "Traceback" not in result.stderr
    assert not any((project / "data").glob("*/")) and not (project / "metrics/data.json").exists()


def tree(folder: Path) -> dict[str, bytes]:
    """Every file of the outputs under ``folder`` (not the stages' state files beside them)."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.name.endswith(".state.json")
    }


def test_outputs_identical_whatever_the_workers_and_split_stable(make_project):
    project = make_project(workers=1, val_fraction=0.3)
    for number in range(4, 10):
        Image.fromarray(synthetic_photo(number)).save(project / f"photos/photo_{number}.jpg", quality=90)
    outputs = {}
    for workers in (1, 2):
        set_params(project, workers=workers)
        assert stage("prepare", project).returncode == 0 and stage("tile", project).returncode == 0
        outputs[workers] = tree(project / "data") | {"data.json": (project / "metrics/data.json").read_bytes()}
    assert outputs[1] == outputs[2]
    assert any(name.startswith("tiles/val-") for name in outputs[1])

    splits = {item["name"]: item["split"] for item in report(project)["photos"]}
    Image.fromarray(synthetic_photo(99)).save(project / "photos/new_arrival.png")
    assert stage("prepare", project).returncode == 0
    after = {item["name"]: item["split"] for item in report(project)["photos"]}
    assert "new_arrival.png" in after and {name: after[name] for name in splits} == splits


def test_killed_prepare_leaves_nothing_that_looks_complete(make_project):
    import subprocess
    import time

    project = make_project(workers=1, max_side=600)
    for number in range(40):
        Image.fromarray(synthetic_photo(number, 450, 600)).save(project / f"photos/big_{number}.png")
    process = subprocess.Popen(
        [sys.executable, "-m", "stages.prepare"], cwd=project, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while not any((project / "data/prepared").glob("*.tar*")) and time.monotonic() < deadline:
        time.sleep(0.002)
    process.kill()
    process.wait()
    assert process.returncode != 0, "prepare finished before it could be killed"
    assert not (project / "data/prepared/report.json").exists()
    tiled = stage("tile", project)
    assert tiled.returncode != 0 and "run the prepare stage first" in tiled.stderr
    assert stage("prepare", project).returncode == 0
    assert report(project)["photos_used"] == 44


def test_dvc_repro_on_a_folder_outside_the_project(make_project, tmp_path):
    photos = tmp_path / "Pictures" / "skylines"
    corpus = build_corpus(photos)
    project = set_params(make_project(), raw_dir=str(photos))
    dvc("repro", "tile", cwd=project)
    data = json.loads((project / "metrics/data.json").read_text())
    assert data["photos_used"] == [what["kind"] for what in corpus.values()].count("used")
    assert data["tiles_train"] > 0 and data["tiles_val"] > 0
    assert stages_run(dvc("repro", "tile", cwd=project).stdout) == ALWAYS_RUN
    Image.fromarray(synthetic_photo(50)).save(photos / "one_more.png")
    again = dvc("repro", "tile", cwd=project)
    assert "Running stage 'prepare'" in again.stdout, again.stdout
    assert json.loads((project / "metrics/data.json").read_text())["photos_used"] == data["photos_used"] + 1


def test_dvc_repro_with_a_missing_or_empty_raw_dir_fails_naming_it(make_project, tmp_path):
    missing = tmp_path / "no such folder"
    project = set_params(make_project(), raw_dir=str(missing))
    result = dvc("repro", "prepare", cwd=project, check=False)
    assert result.returncode != 0 and f"raw_dir {missing} does not exist" in result.stdout + result.stderr
    missing.mkdir()
    result = dvc("repro", "prepare", cwd=project, check=False)
    assert result.returncode != 0 and f"raw_dir {missing} holds no photos" in result.stdout + result.stderr
    assert not (project / "data/prepared").exists() and not (project / "data/raw_files.json").exists()
    locked = yaml.safe_load((project / "dvc.lock").read_text())["stages"]  # the samples stage alone ran
    assert "scan" not in locked and "prepare" not in locked


def test_jpeg_markers_are_checked(tmp_path):
    from io import BytesIO

    from srcnn.images import ImageError, jpeg_problem, load_rgb

    buffer = BytesIO()
    Image.fromarray(synthetic_photo(3, 96, 128)).save(buffer, "JPEG", quality=90, restart_marker_rows=1)
    data = buffer.getvalue()
    assert jpeg_problem(data) is None
    first, second = data.index(b"\xff\xd0"), data.index(b"\xff\xd1")
    swapped = bytearray(data)
    swapped[first + 1], swapped[second + 1] = 0xD1, 0xD0  # restart markers out of order: data lost between
    assert "restart marker" in (jpeg_problem(bytes(swapped)) or "")
    (tmp_path / "swapped.jpg").write_bytes(bytes(swapped))
    with pytest.raises(ImageError, match="swapped.jpg.*restart marker"):
        load_rgb(tmp_path / "swapped.jpg")
    assert "truncated" in (jpeg_problem(data[:-2]) or "")  # no end-of-image marker
    assert jpeg_problem(data + b"camera trailer") is None


def test_big_jpegs_decode_at_reduced_size_but_never_below_max_side(tmp_path):
    from srcnn.degrade import fit_long_side
    from srcnn.images import load_rgb

    path = save(tmp_path / "big.jpg", synthetic_photo(4, 480, 640), quality=95)
    full, reduced = load_rgb(path), load_rgb(path, max_side=200)
    assert full.shape == (480, 640, 3) and reduced.shape == (240, 320, 3)
    assert load_rgb(path, max_side=400).shape == (480, 640, 3)  # half would be below 400
    assert np.abs(fit_long_side(full, 200).astype(int) - fit_long_side(reduced, 200)).mean() < 2.0
