"""A folder of photos turned into clean/degraded training pairs, one photo at a time per worker.

``find_photos`` lists what a folder holds, ``assign_split`` sends each photo whole to train or val
by a stable hash of its bytes (so adding a photo never moves another, and duplicates stay
together), and ``prepare_photo`` writes the clean and degraded PNGs of one photo.
"""
from __future__ import annotations

import hashlib
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from .degrade import crop_to_multiple, degrade, fit_long_side
from .images import ImageError, is_photo_name, load_rgb, save_png

SPLITS = ("train", "val")


@dataclass(frozen=True)
class Photo:
    path: Path
    name: str  # unique output name derived from the path inside the folder
    digest: str  # sha256 of the file's bytes


class RawDirError(ValueError):
    """The raw photo folder is missing or holds no photos."""


def find_photos(raw_dir: str | Path) -> tuple[list[Photo], list[str]]:
    """Photos under ``raw_dir`` (subfolders included, hidden files skipped), sorted by path.

    Returns the photos and the names of the files skipped for not having a photo extension.
    """
    raw_dir = Path(raw_dir)
    if not raw_dir.is_dir():
        raise RawDirError(f"raw_dir {raw_dir} is not a folder; set raw_dir in params.yaml "
                          f"(or 'dvc exp run -S raw_dir=PATH') to a folder of photos")
    photos, others = [], []
    for path in sorted(p for p in raw_dir.rglob("*") if p.is_file()):
        relative = path.relative_to(raw_dir)
        if any(part.startswith(".") for part in relative.parts):
            others.append(str(relative))
        elif is_photo_name(path):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            name = "__".join(relative.parts)
            photos.append(Photo(path, name if name.endswith(".png") else name + ".png", digest))
        else:
            others.append(str(relative))
    if not photos:
        raise RawDirError(f"raw_dir {raw_dir} holds no photos (JPEG, PNG, TIFF, WebP or BMP); "
                          f"put photos there or point raw_dir at a folder that has them")
    return photos, others


def _hash_fraction(digest: str, seed: int) -> float:
    mixed = hashlib.sha256(f"{seed}:{digest}".encode()).hexdigest()
    return int(mixed[:15], 16) / 16**15


def assign_split(photos: Iterable[Photo], val_fraction: float, seed: int) -> dict[str, str]:
    """Photo name → "train" or "val", by a stable hash of the content.

    With two or more distinct photos each split gets at least one: if the hash puts none in val,
    the photo with the lowest hash goes there (and likewise for train).
    """
    photos = list(photos)
    fraction = {photo.name: _hash_fraction(photo.digest, seed) for photo in photos}
    split = {name: "val" if value < val_fraction else "train" for name, value in fraction.items()}
    if len({photo.digest for photo in photos}) >= 2:
        for wanted, pick in (("val", min), ("train", max)):
            if wanted not in split.values():
                chosen = pick(photos, key=lambda photo: fraction[photo.name])
                for photo in photos:  # duplicates of the chosen photo move with it
                    if photo.digest == chosen.digest:
                        split[photo.name] = wanted
    return split


def prepare_photo(photo: Photo, split: str, out_dir: Path, max_side: int, scale: int,
                  jpeg_quality: int | None) -> dict[str, Any]:
    """Write ``out_dir/split/{clean,degraded}/name`` for one photo; returns what was done."""
    try:
        rgb = load_rgb(photo.path)
    except ImageError as error:
        kind = "too_many_pixels" if "decompression bomb" in str(error) else "unreadable"
        return {"file": str(photo.path), "status": "skipped", "kind": kind, "reason": str(error)}
    clean = crop_to_multiple(fit_long_side(rgb, max_side), scale)
    if min(clean.shape[:2]) < max(scale * 4, 8):
        return {"file": str(photo.path), "status": "skipped", "kind": "too_small",
                "reason": f"{photo.path}: {rgb.shape[1]}×{rgb.shape[0]} is too small to use"}
    save_png(out_dir / split / "clean" / photo.name, clean)
    save_png(out_dir / split / "degraded" / photo.name, degrade(clean, scale, jpeg_quality))
    return {"file": str(photo.path), "status": "used", "split": split, "name": photo.name,
            "width": clean.shape[1], "height": clean.shape[0]}


def _call(job: tuple[Callable[..., Any], tuple]) -> Any:
    function, args = job
    return function(*args)


def parallel_map(function: Callable[..., Any], jobs: list[tuple], workers: int) -> Iterator[Any]:
    """``function(*args)`` for each args in ``jobs``, in order, over ``workers`` processes (0: all cores)."""
    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(jobs) <= 1:
        yield from (function(*args) for args in jobs)
        return
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
        yield from pool.map(_call, [(function, args) for args in jobs], chunksize=1)
