"""A folder of photos turned into clean/degraded training pairs, one photo at a time per worker.

``find_photos`` lists what a folder, or several, hold (subfolders too), with the sha256 of each
photo (``DigestCache`` remembers them between runs), and says why each other file is left out;
``assign_split`` sends each photo whole to train or val by a stable hash of its bytes (so
adding a photo never moves another, and duplicates stay together); ``prepare_photo`` makes the
clean and degraded PNGs of one photo, as a sample of a shard (``srcnn/shards.py``);
``parallel_map`` runs such jobs over a pool of processes.
The parent process only lists and hashes files (streamed, never whole in memory): every decode
happens in a worker, one photo at a time, so memory does not grow with the number of photos.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .degrade import Journey, crop_to_multiple, degrade, draw_journey, fit_long_side, travel
from .files import write_text_atomic
from .history import told_for_jpeg
from .images import ImageError, TooManyPixelsError, decode_png, encode_png, is_photo_name, load_rgb
from .jpeg import photo_quality
from .shards import Result, check_complete, read_shard, sample_key, shard_paths

SPLITS = ("train", "val")
DIGESTS = Path("data/.raw_files.state.json")  # the photos' sha256, remembered between runs (not an output)
SKIP_KINDS = ("not_a_photo", "unreadable", "too_many_pixels", "too_small")


@dataclass(frozen=True)
class Photo:
    path: Path
    name: str  # unique output name derived from the path inside the folder
    digest: str  # sha256 of the file's bytes


class RawDirError(ValueError):
    """A raw photo folder is missing or holds no photos."""


def _skip(file: str, kind: str, reason: str) -> dict[str, str]:
    return {"file": file, "kind": kind, "reason": f"{file}: {reason}"}


def _digest(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


class DigestCache:
    """The sha256 of files, remembered in ``state`` and trusted while a file's size, modification
    and change times and inode are those it had when it was read (as DVC trusts its own state
    database), so that a run reads only the photos that are new or changed. Files changed in the
    last seconds are read again next time: a write in the same clock tick keeps their times."""

    RECENT_NS = 2_000_000_000

    def __init__(self, state: Path = DIGESTS):
        self.state = state
        try:
            known = json.loads(state.read_text())
        except (OSError, ValueError):
            known = {}
        self.known: dict[str, list] = known if isinstance(known, dict) else {}
        self.seen: dict[str, list] = {}
        self.read = 0  # files read and hashed this run

    def digest(self, path: Path) -> str:
        stat = path.stat()  # before reading: a change while it is read makes the next run read it again
        key, mark = str(path.absolute()), [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino]
        entry = self.known.get(key)
        if isinstance(entry, list) and entry[:4] == mark:
            sha256 = entry[4]
        else:
            sha256 = _digest(path)
            self.read += 1
        if time.time_ns() - stat.st_ctime_ns > self.RECENT_NS:
            self.seen[key] = [*mark, sha256]
        return sha256

    def save(self) -> None:
        """Keep the files seen this run (only those: a folder dropped from raw_dir is forgotten)."""
        write_text_atomic(self.state, json.dumps(self.seen) + "\n")


def _output_name(relative: Path) -> str:
    name = "__".join(relative.parts)
    return name if name.endswith(".png") else name + ".png"


# what the pipeline and DVC write in a project, besides dvc.yaml's outs (dvc plots show, DVCLive); and its
# pages, whose pictures are no photos to train on
PROJECT_OUTPUTS = ("data", "models", "plots", "metrics", "dvclive", "dvc_plots", "docs")


def project_outputs(root: Path = Path(".")) -> set[Path]:
    """The folders and files that the project in ``root`` writes (none when ``root`` holds no
    dvc.yaml): each path of its stages' outs, metrics and plots, its top folder, and
    ``PROJECT_OUTPUTS``, resolved. A raw_dir of the project's root must not train on them."""
    if not (root / "dvc.yaml").is_file():
        return set()
    import yaml  # the pipeline's, not a dependency of `srcnn enhance`

    try:
        stages = (yaml.safe_load((root / "dvc.yaml").read_text()) or {}).get("stages") or {}
    except (OSError, yaml.YAMLError):
        stages = {}
    paths = set(PROJECT_OUTPUTS)
    for stage in stages.values() if isinstance(stages, dict) else ():
        for key in ("outs", "metrics", "plots"):
            for out in stage.get(key) or () if isinstance(stage, dict) else ():
                out = next(iter(out)) if isinstance(out, dict) else out
                if isinstance(out, str):
                    paths |= {out, Path(out).parts[0]}
    return {(root / path).resolve() for path in paths}


def list_photo_files(
    folder: str | Path, leave_out: set[Path] | frozenset[Path] = frozenset()
) -> tuple[list[Path], list[dict[str, str]]]:
    """The photo files under ``folder``, subfolders included, in walk order; and the files left out.

    Left out, each as {"file", "kind": "not_a_photo", "reason"}: files without a photo extension
    (any case: .JPG is a photo), hidden files and hidden folders (.DS_Store, .git, ...), links to
    folders and anything that is not a regular file, and the folders and files of ``leave_out``
    (resolved paths: ``project_outputs``) found inside ``folder``, each said once; folders that
    cannot be listed are "unreadable". Reads no file; never writes to ``folder``.
    """
    folder = Path(folder)
    photos, others = [], []
    leave_out = {path for path in leave_out if folder.resolve() in path.parents}

    def unlistable(error: OSError) -> None:
        others.append(_skip(f"{error.filename}/", "unreadable", f"folder cannot be listed ({error.strerror})"))

    for walked, subfolders, files in os.walk(folder, onerror=unlistable):
        here = Path(walked)
        for sub in sorted(subfolders):
            if sub.startswith("."):
                others.append(_skip(f"{here / sub}/", "not_a_photo", "hidden folder, not read"))
            elif (here / sub).is_symlink():
                others.append(_skip(f"{here / sub}/", "not_a_photo", "link to a folder, not followed"))
            elif leave_out and (here / sub).resolve() in leave_out:
                others.append(_skip(f"{here / sub}/", "not_a_photo", "the project's own output, not read"))
        subfolders[:] = sorted(
            sub
            for sub in subfolders
            if not sub.startswith(".")
            and not (here / sub).is_symlink()
            and not (leave_out and (here / sub).resolve() in leave_out)
        )
        for file in sorted(files):
            path = here / file
            if leave_out and path.resolve() in leave_out:
                others.append(_skip(str(path), "not_a_photo", "the project's own output, not read"))
            elif file.startswith("."):
                others.append(_skip(str(path), "not_a_photo", "hidden file"))
            elif not path.is_file():
                others.append(_skip(str(path), "not_a_photo", "not a regular file (a broken link?)"))
            elif not is_photo_name(path):
                others.append(
                    _skip(str(path), "not_a_photo", f"not a photo by its extension ({path.suffix or 'none'})")
                )
            else:
                photos.append(path)
    return photos, others


def folder_labels(folders: Sequence[str | Path]) -> list[str]:
    """What the output names of each folder's photos start with when raw_dir lists several: the
    folder's own name, with as many of its parents' names as it takes to tell it from the others
    (``a/photos``, ``b/photos`` → ``a__photos``, ``b__photos``). A function of the folders alone,
    not of their order in the list."""
    parts = [Path(folder).resolve().parts[1:] or ("root",) for folder in folders]
    depth = [1] * len(parts)
    while True:
        labels = ["__".join(names[-used:]) for names, used in zip(parts, depth, strict=True)]
        clashing = [index for index, label in enumerate(labels) if labels.count(label) > 1]
        longer = [index for index in clashing if depth[index] < len(parts[index])]
        if not longer:  # unique, or told apart by the ~sha256 suffix of find_photos
            return labels
        for index in longer:
            depth[index] += 1


def _no_folder(folder: Path, several: bool, what: str) -> RawDirError:
    if several:
        return RawDirError(
            f"raw_dir: {folder}, one of its folders, {what}; fix it, or remove it from raw_dir's "
            f"list in params.yaml (or run 'dvc exp run -S raw_dir=[PATH,PATH]' with folders of photos)"
        )
    return RawDirError(
        f"raw_dir {folder} {what}; set raw_dir in params.yaml, or run "
        f"'dvc exp run -S raw_dir=PATH', to a folder of photos"
    )


def find_photos(
    raw_dir: str | Path | Sequence[str | Path], digest: Callable[[Path], str] = _digest
) -> tuple[list[Photo], list[dict[str, str]]]:
    """Photos under ``raw_dir``, one folder or several (as ``list_photo_files`` finds them), hashed
    by ``digest``, sorted by output name; and the files left out, with files that cannot be read as
    "unreadable". The project's own outputs (``project_outputs``) found in a folder are left out.

    Output names are the paths inside the folder (``trips/a.jpg`` → ``trips__a.jpg.png``); with
    several folders, after each folder's label (``folder_labels``: ``urban40__img_001.png``).
    They are unique even on a case-insensitive disk. Raises RawDirError naming the folder
    when one is missing or holds no photos. Never writes to ``raw_dir``.
    """
    folders = [Path(raw_dir)] if isinstance(raw_dir, (str, Path)) else [Path(folder) for folder in raw_dir]
    several = len(folders) > 1
    labels = folder_labels(folders) if several else [""]
    outputs = project_outputs()  # the stages run from the project's root
    photos, others = [], []
    for folder, label in zip(folders, labels, strict=True):
        if not folder.is_dir():
            what = "does not exist" if not folder.exists() else "is not a folder"
            raise _no_folder(folder, several, f"{what} (resolved: {folder.absolute()})")
        paths, skipped = list_photo_files(folder, outputs)
        found = []
        for path in paths:
            try:
                found.append(Photo(path, _output_name(Path(label, path.relative_to(folder))), digest(path)))
            except OSError as error:
                skipped.append(_skip(str(path), "unreadable", f"cannot be read ({error.strerror})"))
        if not found:
            raise _no_folder(
                folder,
                several,
                f"holds no photos (JPEG, PNG, TIFF, WebP or BMP files"
                f"{f'; {len(skipped)} other files' if skipped else ''})",
            )
        photos += found
        others += skipped
    photos.sort(key=lambda photo: photo.name)
    seen: set[str] = set()
    for index, photo in enumerate(photos):  # "a/b.jpg" and "a__b.jpg" would share a name
        if photo.name.lower() in seen:
            photos[index] = Photo(photo.path, f"{photo.name[:-4]}~{photo.digest[:8]}.png", photo.digest)
        seen.add(photos[index].name.lower())
    return photos, others


def _hash_fraction(digest: str, seed: int) -> float:
    mixed = hashlib.sha256(f"{seed}:{digest}".encode()).hexdigest()
    return int(mixed[:15], 16) / 16**15


COPY_SUFFIX = re.compile(r"-c\d+$")  # NAME-c2: a recoloured copy of NAME (benchmarks/recolour.py)


def group_digest(photo: Photo, photos: list[Photo]) -> str:
    """The digest that decides ``photo``'s split: its own, or for a copy named NAME-cN the
    original NAME's (or, without it, the first copy's), so copies of one source split together."""
    source = COPY_SUFFIX.sub("", photo.path.stem)
    if source == photo.path.stem:
        return photo.digest
    originals = sorted(other.digest for other in photos if other.path.stem == source)
    copies = sorted(other.digest for other in photos if COPY_SUFFIX.sub("", other.path.stem) == source)
    return (originals or copies)[0]


def assign_split(photos: Iterable[Photo], val_fraction: float, seed: int) -> dict[str, str]:
    """Photo name → "train" or "val", by a stable hash of the content (of the source photo's, for
    copies named NAME-cN: see ``group_digest``).

    With two or more distinct photos each split gets at least one: if the hash puts none in val,
    the photo with the lowest hash goes there (and likewise for train).
    """
    photos = list(photos)
    fraction = {photo.name: _hash_fraction(group_digest(photo, photos), seed) for photo in photos}
    split = {name: "val" if value < val_fraction else "train" for name, value in fraction.items()}
    if len({photo.digest for photo in photos}) >= 2:
        for wanted, pick in (("val", min), ("train", max)):
            if wanted not in split.values():
                chosen = pick(photos, key=lambda photo: fraction[photo.name])
                for photo in photos:  # duplicates of the chosen photo move with it
                    if photo.digest == chosen.digest:
                        split[photo.name] = wanted
    return split


def prepare_photo(
    photo: Photo,
    split: str,
    max_side: int,
    scale: int,
    jpeg_quality: int | tuple[int, int] | None,
    seed: int,
    degradation: str = "single",
) -> Result:
    """One photo made into a clean/degraded pair: its shard sample (``KEY.clean.png``,
    ``KEY.degraded.png``, ``KEY.json``) and its report; no sample when it cannot be used. With a
    range of ``jpeg_quality``, the photo's own quality is drawn from its bytes and ``seed``; with
    ``degradation`` "travelled", its journey (``travelled_pair``)."""
    file = str(photo.path)
    try:
        rgb = load_rgb(photo.path, max_side=max_side)
    except TooManyPixelsError as error:
        return [], {"name": photo.name, "status": "skipped", "kind": "too_many_pixels", "reason": str(error)}
    except ImageError as error:
        return [], {"name": photo.name, "status": "skipped", "kind": "unreadable", "reason": str(error)}
    clean = crop_to_multiple(fit_long_side(rgb, max_side), scale)
    if min(clean.shape[:2]) < max(scale * 4, 8):
        return [], {
            "name": photo.name,
            "status": "skipped",
            "kind": "too_small",
            "reason": f"{file}: {rgb.shape[1]}×{rgb.shape[0]} is too small to use",
        }
    del rgb
    travelled: dict[str, Any] = {}
    if degradation == "travelled":
        assert isinstance(jpeg_quality, tuple)  # srcnn.params checks it
        clean, degraded, travelled = travelled_pair(clean, draw_journey(photo.digest, seed, jpeg_quality))
        quality = travelled.pop("jpeg_quality")
    else:
        quality = photo_quality(photo.digest, seed, jpeg_quality)
        degraded = degrade(clean, scale, quality)
    report = {
        "name": photo.name,
        "status": "used",
        "split": split,
        "sha256": photo.digest,
        "width": clean.shape[1],
        "height": clean.shape[0],
        "jpeg_quality": quality,
        **travelled,
    }
    sample = {
        "__key__": sample_key(photo.name, photo.digest),
        "clean.png": encode_png(clean),
        "degraded.png": encode_png(degraded),
        "json": json.dumps(report, sort_keys=True).encode(),
    }
    return [sample], report


def travelled_pair(clean: np.ndarray, journey: Journey) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """The clean target and degraded photo of ``journey`` (``srcnn.degrade.travel``), and what its report
    records: the quality whose strength ``enhance`` would tell the model for that photo, from the same
    function (``srcnn.history.told_for_jpeg``, on the degraded pixels and the last save's table), as
    ``jpeg_quality``, the place a single JPEG's quality has, so tiles and training read it alike; the
    strength itself; the journey; and the compression the pixels showed, if one decided."""
    clean, degraded = travel(clean, journey)
    told, strength, trace = told_for_jpeg(degraded, journey.qualities[-1])
    record: dict[str, Any] = {"jpeg_quality": told, "strength": strength, "degradation": journey.record()}
    if trace.quality is not None:  # the pixels decided
        record["trace"] = {"quality": trace.quality, "offset": list(trace.offset), "lift_db": trace.lift_db}
        if trace.resize < 1.0:  # an older save under a shrink (srcnn.resize_trace)
            record["trace"]["resize"] = trace.resize
    return clean, degraded, record


def read_prepared(
    folder: Path, split: str, names: set[str] | None = None
) -> Iterator[tuple[dict, np.ndarray, np.ndarray]]:
    """The prepared photos of one split (or only ``names``) as (report, clean RGB, degraded RGB),
    one at a time, in shard order."""
    manifest = check_complete(folder)
    for path in shard_paths(folder, manifest, split):
        for sample in read_shard(path):
            report = json.loads(sample["json"])
            if names is None or report["name"] in names:
                yield (
                    report,
                    decode_png(sample["clean.png"], f"{path}:{sample['__key__']}"),
                    decode_png(sample["degraded.png"], f"{path}:{sample['__key__']}"),
                )


def cpu_count() -> int:
    """The cores this process may run on (respects taskset/cgroup affinity, unlike os.cpu_count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _end_with(parent: int) -> None:
    """In each worker: end it once ``parent``, the process that started it, has died. Killed alone (by
    the OOM killer, say), a parent leaves its workers waiting forever to hand over results that no
    one will read; PyTorch's DataLoader workers watch their parent the same way."""

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the parent, and the workers end with it

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="end-with-parent", daemon=True).start()


def parallel_map(function: Callable[..., Any], jobs: Iterable[tuple], workers: int) -> Iterator[Any]:
    """``function(*args)`` for each args in ``jobs``, in order, over ``workers`` processes (0: all cores).

    Jobs are taken from the iterable lazily, a few per worker ahead, so they may carry data (a
    photo's bytes) without all of it being in memory at once; each worker runs one job at a time,
    and ends when this process does, even killed.
    """
    workers = workers or cpu_count()
    jobs = iter(jobs)
    if workers == 1:
        yield from (function(*args) for args in jobs)
        return
    with ProcessPoolExecutor(max_workers=workers, initializer=_end_with, initargs=(os.getpid(),)) as pool:
        pending: deque = deque()
        try:
            for args in jobs:
                pending.append(pool.submit(function, *args))
                if len(pending) >= 2 * workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        except BaseException:  # Ctrl-C or an error: the jobs not started are dropped, not run first
            pool.shutdown(wait=False, cancel_futures=True)
            raise
