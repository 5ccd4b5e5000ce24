"""Tar shards in the WebDataset layout: a few large files instead of one file per image, the same
bytes on every run, and updated in place when photos are added or removed.

A shard is a tar of samples; a sample is the members that share a key (``KEY.png``, ``KEY.json``),
so ``tar -xf train-3fa2c1d09b.tar`` gives a plain folder of files and ``webdataset`` streams it.

Which shard a photo goes to (``place``): the photos of a split in name order, cut into runs of
about ``photos_per_shard``, each run starting at a photo whose name hashes to a cut; so the shards
are a function of the photos' names and splits alone, and a photo added or removed changes only the run it
falls in. Photos added under names that sort after the others (``IMG_0412.jpg`` after
``IMG_0411.jpg``, a new dated folder) all go to the last run: the rest of the collection is not
touched, and ``dvc push`` uploads one shard a split. (By a hash of the content alone, 1 % more
photos would fall into most shards of a few hundred photos each.) ``update_shards`` rewrites only
the shards whose photos changed, and even there copies the bytes of every photo whose inputs (its
bytes, the params, the code) are unchanged instead of computing, encoding and decoding its
samples again; the result is byte for byte what a run from scratch writes.

``manifest.json`` beside the shards records, per shard, its photos (name, fingerprint of their
inputs, sample count, report, and where their samples lie in the shard: offset and length), its
size and sha256; it is written last, and is itself the same
bytes as from scratch. A shard is reused only if it still matches the manifest: checked by size
and mtime against a state file kept beside the folder (``.NAME.state.json``, not an output, as
DVC keeps its own state), else by its sha256.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

from .files import atomic_path, write_text_atomic

MANIFEST = "manifest.json"
FORMAT = "srcnn-shards/4"  # /2: each photo's byte span in its shard; /3: no pax headers; /4: placed by name runs

Sample = dict[str, Any]  # "__key__" and one bytes value per member extension ("png", "json", ...)
Result = tuple[list[Sample], dict[str, Any]]  # one photo's samples, and what to report about it


@dataclass(frozen=True)
class Entry:
    """One photo's place in a sharded folder."""
    shard: str  # the shard's file name
    name: str  # unique in the folder; orders the photos inside their shard
    fingerprint: str  # of everything its samples are made from


def _name_hash(name: str) -> int:
    return int(hashlib.sha256(f"shard:{name}".encode()).hexdigest()[:15], 16)


def place(splits: Mapping[str, str], photos_per_shard: int) -> dict[str, str]:
    """The shard file of each photo, from its split (photo name → "train" or "val"): each split's
    names in order, a new shard starting at each name whose hash is 0 modulo ``photos_per_shard``
    (1: every photo its own shard), named after that hash (``train-3fa2c1d09b.tar``; the run
    before a split's first cut is ``train-0000000000.tar``). A pure function of the names and
    their splits: a run from scratch places every photo where an update does."""
    if photos_per_shard < 1:
        raise ValueError(f"photos_per_shard must be at least 1, got {photos_per_shard}")
    placed, current = {}, {}
    for name in sorted(splits):
        split, hashed = splits[name], _name_hash(name)
        if hashed % photos_per_shard == 0:
            current[split] = f"{split}-{hashed >> 20:010x}.tar"
        placed[name] = current.setdefault(split, f"{split}-{0:010x}.tar")
    return placed


def sample_key(name: str, digest: str) -> str:
    """A WebDataset key for a photo: no dots (the key ends at the first one), unique by digest."""
    return f"{re.sub(r'[^A-Za-z0-9_-]', '_', name.removesuffix('.png'))}-{digest[:8]}"


def fingerprint(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


class _HashingFile:
    """A binary file that hashes what is written to it."""

    def __init__(self, handle: Any) -> None:
        self.handle, self.sha256 = handle, hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.sha256.update(data)
        return self.handle.write(data)


@dataclass(frozen=True)
class Span:
    """A photo's samples as they lie in a shard: ``length`` bytes from ``offset`` (whole tar blocks)."""
    source: Path
    offset: int
    length: int
    samples: int


def _member(name: str, size: int) -> tarfile.TarInfo:
    """A tar header with fixed owner, mode and time (an int: a float mtime, 0.0, makes tarfile put a
    pax header before every member, twice the headers to read), as WebDataset's TarWriter writes."""
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode, info.uname, info.gname = size, 0, 0o644, "srcnn", "srcnn"
    return info


def write_shard(path: Path, groups: Iterable[list[Sample] | Span]) -> tuple[int, str, list[tuple[int, int]]]:
    """Write groups of samples (one photo's each) into a tar atomically, in the WebDataset layout
    (``KEY.EXT`` members, each sample's members sorted by extension): the same samples always give
    the same bytes. A ``Span`` is copied as bytes from the shard it lies in (a photo unchanged since
    that shard was written; its bytes are what writing its samples again would give). Returns the
    number of samples, the file's sha256, and each group's (offset, length) in the new tar."""
    count, spans = 0, []
    with atomic_path(path) as temp, open(temp, "wb") as handle:
        stream = _HashingFile(handle)
        tar = tarfile.open(fileobj=stream, mode="w|", format=tarfile.PAX_FORMAT)
        sources: dict[Path, Any] = {}
        try:
            for group in groups:
                start = tar.offset
                if isinstance(group, Span):
                    if group.source not in sources:
                        sources[group.source] = open(group.source, "rb")
                    source = sources[group.source]
                    source.seek(group.offset)
                    data = source.read(group.length)
                    if len(data) != group.length:
                        raise OSError(f"{group.source}: shorter than its manifest says")
                    tar.fileobj.write(data)  # whole 512-byte blocks: tarfile's own bookkeeping stays right
                    tar.offset += group.length
                    count += group.samples
                else:
                    for sample in group:
                        key = sample["__key__"]
                        for extension in sorted(name for name in sample if not name.startswith("_")):
                            data = sample[extension]
                            tar.addfile(_member(f"{key}.{extension}", len(data)), io.BytesIO(data))
                        count += 1
                spans.append((start, tar.offset - start))
        finally:
            for source in sources.values():
                source.close()
        tar.close()
    return count, stream.sha256.hexdigest(), spans


def _key_and_extension(member: tarfile.TarInfo) -> tuple[str, str] | None:
    """A tar member's sample key (its name up to the first dot of its last part) and extension, as
    WebDataset groups members into samples; None for what WebDataset skips (not a file, no dot)."""
    folder, _, base = member.name.rpartition("/")
    if not member.isfile() or "." not in base:
        return None
    stem, extension = base.split(".", 1)
    return (f"{folder}/{stem}" if folder else stem), extension


def list_samples(path: Path | str) -> list[tuple[str, list[tuple[str, int, int]]]]:
    """Each sample of a tar shard, in order, with its members' (extension, data offset, size):
    ``tarfile`` reads the headers alone, so a sample can then be read by seeking to its members."""
    samples: list[tuple[str, list[tuple[str, int, int]]]] = []
    with tarfile.open(path, "r:") as tar:
        for member in tar:
            named = _key_and_extension(member)
            if named is None:
                continue
            if not samples or samples[-1][0] != named[0]:
                samples.append((named[0], []))
            samples[-1][1].append((named[1], member.offset_data, member.size))
    return samples


def _samples(handle: Any, name: str) -> Iterator[Sample]:
    """The samples of a tar stream: consecutive members that share a key (``_key_and_extension``),
    as WebDataset groups them. Read with ``tarfile`` here rather than WebDataset's reader, which
    imports torch: 2 s at the start of each data stage."""
    sample: Sample | None = None
    with tarfile.open(fileobj=handle, mode="r|") as tar:
        for member in tar:
            named = _key_and_extension(member)
            if named is None:
                continue
            key, extension = named
            if sample is None or sample["__key__"] != key:
                if sample is not None:
                    yield sample
                sample = {"__key__": key}
            if extension in sample:
                raise ValueError(f"{name}: {member.name} appears twice in one sample")
            sample[extension] = tar.extractfile(member).read()
    if sample is not None:
        yield sample


def read_shard(path: Path | str) -> Iterator[Sample]:
    """The samples of one tar, in order, as {"__key__", extension: bytes}."""
    with open(path, "rb") as handle:
        yield from _samples(handle, str(path))


def read_span(path: Path | str, offset: int, length: int) -> list[Sample]:
    """The samples of one photo, read from its span of a shard (the manifest's offset and length)
    without reading the rest of the shard."""
    with open(path, "rb") as handle:
        handle.seek(offset)
        data = handle.read(length)
    return list(_samples(io.BytesIO(data), f"{path}@{offset}"))


def _sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def load_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of a sharded folder; FileNotFoundError naming it when missing or unreadable."""
    path = Path(folder) / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError):
        raise FileNotFoundError(f"{path} is missing or unreadable: {folder} is incomplete") from None
    if manifest.get("format") != FORMAT:
        raise FileNotFoundError(f"{path}: not a shard manifest of this project")
    return manifest


def check_complete(folder: Path) -> dict[str, Any]:
    """The manifest, after checking that every shard it lists is there with its size (cheap: no read).
    Raises FileNotFoundError naming what is missing, e.g. after a run that was killed."""
    folder = Path(folder)
    manifest = load_manifest(folder)
    for shard, info in manifest["shards"].items():
        path = folder / shard
        if not path.is_file() or path.stat().st_size != info["size"]:
            raise FileNotFoundError(f"{path} is missing or differs from {folder / MANIFEST} "
                                    f"(a run killed half-way, or an edit by hand?): {folder} is incomplete")
    return manifest


def _state_path(folder: Path) -> Path:
    return folder.parent / f".{folder.name}.state.json"


def _unchanged(folder: Path) -> dict[str, dict[str, Any]]:
    """The manifest's shards that are still exactly as written (by size and mtime, else by sha256)."""
    try:
        shards = load_manifest(folder)["shards"]
    except FileNotFoundError:
        return {}
    try:
        state = json.loads(_state_path(folder).read_text())
    except (OSError, ValueError):
        state = {}
    trusted = {}
    for shard, info in shards.items():
        path = folder / shard
        if not path.is_file():
            continue
        stat = path.stat()
        seen = state.get(shard, {})
        if stat.st_size == info["size"] and (
                (seen.get("mtime_ns"), seen.get("size"), seen.get("sha256")) == (stat.st_mtime_ns, stat.st_size, info["sha256"])
                or _sha256(path) == info["sha256"]):
            trusted[shard] = info
    return trusted


def update_shards(folder: Path, entries: list[Entry],
                  build: Callable[[list[Entry]], Iterator[Result]]) -> dict[str, Any]:
    """Make ``folder`` hold exactly ``entries``' samples, one shard per distinct ``entry.shard``.

    ``build(needed)`` gets the entries whose samples must be computed, in the order they are
    written, and yields each one's (samples, report) in that order. Shards whose photos are
    unchanged are left alone; in the others, unchanged photos' samples are copied from the old
    shards they lay in. New shards are written beside the old ones (``.NAME.partial``) and take
    their names only when all are written, since one may copy from another's old bytes. Shards no
    longer wanted are deleted; the manifest is written last. Returns the manifest, plus
    "written", "kept", "built" and "reused" counts (not saved).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for leftover in folder.glob(".*.partial"):  # a run killed before its renames
        leftover.unlink()
    old = _unchanged(folder)
    wanted: dict[str, list[Entry]] = {}
    for entry in sorted(entries, key=lambda entry: (entry.shard, entry.name)):
        wanted.setdefault(entry.shard, []).append(entry)
    if len({entry.name for entry in entries}) != len(entries):
        raise ValueError("update_shards: entry names must be unique")

    # every unchanged photo of the old shards, wherever it lay: a photo moves to another shard when
    # a run of photos is cut anew (a photo added or removed where a run starts)
    kept = {(photo[0], photo[1]): (shard, photo) for shard, info in old.items() for photo in info["photos"]}
    same = {shard for shard, items in wanted.items() if shard in old
            and [(photo[0], photo[1]) for photo in old[shard]["photos"]] == [(e.name, e.fingerprint) for e in items]}
    needed = [entry for shard, items in wanted.items() if shard not in same
              for entry in items if (entry.name, entry.fingerprint) not in kept]
    results = build(needed)
    manifest: dict[str, Any] = {"format": FORMAT, "shards": {}}
    state: dict[str, dict[str, Any]] = {}
    stats = {"written": 0, "kept": len(same), "built": len(needed), "reused": 0}
    written: list[tuple[Path, Path]] = []
    for shard, items in wanted.items():
        if shard in same:
            manifest["shards"][shard] = old[shard]
            stat = (folder / shard).stat()
            state[shard] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": old[shard]["sha256"]}
            continue
        photos: list[list[Any]] = []

        def groups() -> Iterator[list[Sample] | Span]:
            for entry in items:
                if (entry.name, entry.fingerprint) in kept:  # unchanged: its bytes are copied, not decoded and encoded again
                    source, (_, _, count, report, offset, length) = kept[entry.name, entry.fingerprint]
                    stats["reused"] += 1
                    photos.append([entry.name, entry.fingerprint, count, report])
                    yield Span(folder / source, offset, length, count)
                else:
                    group, report = next(results)
                    photos.append([entry.name, entry.fingerprint, len(group), report])
                    yield group

        partial = folder / f".{shard}.partial"
        count, sha256, placed = write_shard(partial, groups())
        written.append((partial, folder / shard))
        photos = [photo + list(span) for photo, span in zip(photos, placed)]
        stat = partial.stat()  # a rename keeps size and mtime
        manifest["shards"][shard] = {"samples": count, "size": stat.st_size, "sha256": sha256, "photos": photos}
        state[shard] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": sha256}
        stats["written"] += 1
    for partial, path in written:
        os.replace(partial, path)
    for stale in folder.glob("*.tar"):
        if stale.name not in wanted:
            stale.unlink()
    write_text_atomic(folder / MANIFEST, json.dumps(manifest, separators=(",", ":")) + "\n")
    write_text_atomic(_state_path(folder), json.dumps(state) + "\n")
    return {**manifest, **stats}


def photo_reports(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """Every photo's report, in shard and name order."""
    return [photo[3] for info in manifest["shards"].values() for photo in info["photos"]]


def shard_paths(folder: Path, manifest: dict[str, Any], split: str) -> list[Path]:
    """The non-empty shards of one split, sorted."""
    return [Path(folder) / shard for shard, info in sorted(manifest["shards"].items())
            if shard.startswith(f"{split}-") and info["samples"]]


def samples_in(manifest: dict[str, Any], split: str) -> int:
    return sum(info["samples"] for shard, info in manifest["shards"].items() if shard.startswith(f"{split}-"))

