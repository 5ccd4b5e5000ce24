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
inputs, sample count, report, and where their samples lie in the shard: offset, length and sha256),
its size and sha256; it is written last, and is itself the same
bytes as from scratch. A shard is reused only if it still matches the manifest: checked by size
and mtime against a state file kept beside the folder (``.NAME.state.json``, not an output, as
DVC keeps its own state), else by its sha256; each photo copied out of it is checked by its own.

Nothing else is ever lost: ``update_shards`` writes only into a folder that holds nothing but what
this project wrote there (``writing``), one process at a time (an OS lock on ``.NAME.lock`` beside
the folder), and from before its first shard takes its name until the new manifest is written, the
manifest says the folder is being updated, so a run killed half-way leaves nothing that looks complete.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import os
import re
import shlex
import sys
import tarfile
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple, cast

from .files import atomic_path, write_text_atomic

MANIFEST = "manifest.json"
FORMATS = "srcnn-shards/"  # every version of the manifest starts so
# /2: each photo's byte span in its shard; /3: no pax headers; /4: placed by name runs; /5: spans' sha256
FORMAT = "srcnn-shards/5"

Sample = dict[str, Any]  # "__key__" and one bytes value per member extension ("png", "json", ...)
Result = tuple[list[Sample], dict[str, Any]]  # one photo's samples, and what to report about it


class ShardFolderError(Exception):
    """A folder ``update_shards`` must not write now: it holds files this project did not write, another
    process is writing it, or a shard changed while it was being copied."""


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
    """A photo's samples as they lie in a shard: ``length`` bytes from ``offset`` (whole tar blocks),
    whose sha256 the manifest records."""

    source: Path
    offset: int
    length: int
    samples: int
    sha256: str


class PhotoRecord(NamedTuple):
    """One photo of a shard in the manifest (``info["photos"]``), a JSON list of these fields in this
    order: its name, the fingerprint of its inputs, its sample count, its report, and where its
    samples lie in the shard (offset, length, sha256)."""

    name: str
    fingerprint: str
    samples: int
    report: dict[str, Any]
    offset: int
    length: int
    sha256: str


def photo_records(info: Mapping[str, Any]) -> list[PhotoRecord]:
    """The photos of one shard's manifest entry, as records."""
    return [PhotoRecord(*photo) for photo in info["photos"]]


def _member(name: str, size: int) -> tarfile.TarInfo:
    """A tar header with fixed owner, mode and time (an int: a float mtime, 0.0, makes tarfile put a
    pax header before every member, twice the headers to read), as WebDataset's TarWriter writes."""
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode, info.uname, info.gname = size, 0, 0o644, "srcnn", "srcnn"
    return info


def _group_bytes(group: list[Sample]) -> bytes:
    """One photo's samples as the tar members ``tarfile`` would write (header, data, zeros to a whole
    block), each sample's members sorted by extension."""
    parts = []
    for sample in group:
        key = sample["__key__"]
        for extension in sorted(name for name in sample if not name.startswith("_")):
            data = sample[extension]
            header = _member(f"{key}.{extension}", len(data)).tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
            parts += [header, data, bytes(-len(data) % tarfile.BLOCKSIZE)]
    return b"".join(parts)


def write_shard(path: Path, groups: Iterable[list[Sample] | Span]) -> tuple[int, str, list[tuple[int, int, str]]]:
    """Write groups of samples (one photo's each) into a tar atomically, in the WebDataset layout
    (``KEY.EXT`` members, each sample's members sorted by extension): the same samples always give
    the same bytes. A ``Span`` is copied as bytes from the shard it lies in (a photo unchanged since
    that shard was written; its bytes are what writing its samples again would give), once they
    match their sha256: ShardFolderError if not. Returns the number of samples, the file's sha256,
    and each group's (offset, length, sha256) in the new tar."""
    count, spans = 0, []
    with atomic_path(path) as temp, open(temp, "wb") as handle, contextlib.ExitStack() as opened:
        stream = _HashingFile(handle)
        sources: dict[Path, BinaryIO] = {}
        # closed when stopped half-way too (the temporary is then deleted), not later by the garbage collector
        with tarfile.open(fileobj=cast(BinaryIO, stream), mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for group in groups:
                if isinstance(group, Span):
                    if group.source not in sources:
                        sources[group.source] = opened.enter_context(open(group.source, "rb"))
                    sources[group.source].seek(group.offset)
                    data, count = sources[group.source].read(group.length), count + group.samples
                else:
                    data, count = _group_bytes(group), count + len(group)
                digest = hashlib.sha256(data).hexdigest()
                if isinstance(group, Span) and digest != group.sha256:
                    raise ShardFolderError(
                        f"{group.source}: {group.length} bytes at {group.offset} differ from "
                        f"{group.source.parent / MANIFEST} (changed since they were written: by another process, "
                        f"an edit, a bad disk?); run again: every shard will be checked"
                    )
                spans.append((tar.offset, len(data), digest))
                tar.fileobj.write(data)  # whole 512-byte blocks: tarfile's own bookkeeping stays right
                tar.offset += len(data)
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
    imports torch, slow to start, in each data stage."""
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
            data = tar.extractfile(member)
            assert data is not None  # a regular file: _key_and_extension skips the others
            sample[extension] = data.read()
    if sample is not None:
        yield sample


def read_shard(path: Path | str) -> Iterator[Sample]:
    """The samples of one tar, in order, as {"__key__", extension: bytes}."""
    with open(path, "rb") as handle:
        yield from _samples(handle, str(path))


def read_span(path: Path | str, offset: int, length: int, sha256: str) -> list[Sample]:
    """The samples of one photo, read from its span of a shard (the manifest's offset, length and
    sha256) without reading the rest of the shard. ShardFolderError when those bytes are not the
    ones the manifest names: the folder was rewritten since the manifest was read (by a stage
    running at the same time), and the span may now hold part of another photo."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            data = handle.read(length)
    except FileNotFoundError:
        data = b""
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ShardFolderError(
            f"{path}: {length} bytes at {offset} differ from {path.parent / MANIFEST}: "
            f"{path.parent} was rewritten while this stage read it (by another stage running "
            f"at the same time?); run again when it has finished"
        )
    return list(_samples(io.BytesIO(data), f"{path}@{offset}"))


def _sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _read_manifest(folder: Path) -> dict[str, Any] | None:
    """The manifest as it is, of any version of this project, whole or being updated; None when
    there is none of this project's."""
    try:
        manifest = json.loads((Path(folder) / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    if not (
        isinstance(manifest, dict)
        and str(manifest.get("format")).startswith(FORMATS)
        and isinstance(manifest.get("shards"), dict)
    ):
        return None
    return manifest


def load_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of a sharded folder; FileNotFoundError naming it when missing or unreadable, or
    when the folder is being updated (or its update was killed)."""
    path = Path(folder) / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError):
        raise FileNotFoundError(f"{path} is missing or unreadable: {folder} is incomplete") from None
    if manifest.get("format") != FORMAT:
        raise FileNotFoundError(f"{path}: not a shard manifest of this project")
    if "updating" in manifest:
        raise FileNotFoundError(
            f"{path}: {folder} is being updated, or its update was stopped half-way: {folder} is incomplete"
        )
    return manifest


def check_complete(folder: Path) -> dict[str, Any]:
    """The manifest, after checking that every shard it lists is there with its size (cheap: no read).
    Raises FileNotFoundError naming what is missing, e.g. after a run that was killed.

    Sizes alone would not catch a run killed half-way (a tar is whole 10,240-byte records, so a
    rewritten shard often keeps its old size): ``update_shards`` marks the manifest "updating"
    before the first shard is renamed, which ``load_manifest`` refuses. Checking each shard's
    sha256 here instead would read the whole folder before every training run."""
    folder = Path(folder)
    manifest = load_manifest(folder)
    for shard, info in manifest["shards"].items():
        path = folder / shard
        if not path.is_file() or path.stat().st_size != info["size"]:
            raise FileNotFoundError(
                f"{path} is missing or differs from {folder / MANIFEST} "
                f"(a run killed half-way, or an edit by hand?): {folder} is incomplete"
            )
    return manifest


def _state_path(folder: Path) -> Path:
    return folder.parent / f".{folder.name}.state.json"


def _owned(manifest: dict[str, Any] | None) -> set[str]:
    """The files of a folder its manifest says this project wrote: the manifest, its shards, and
    those an update stopped half-way was to delete."""
    return {MANIFEST, *manifest["shards"], *manifest.get("updating", [])} if manifest else set()


def _temporary(name: str) -> bool:
    """A file this project writes under a temporary name (``.NAME.partial``, ``atomic_path``'s
    ``.NAME.*.tmp.json``), left behind only by a run that was killed."""
    return name.startswith(".") and name.endswith((".partial", ".tmp.json"))


def _refuse_strangers(folder: Path, also: Collection[str]) -> None:
    """ShardFolderError naming the files of ``folder`` that this project did not write (its
    temporaries and ``also`` aside)."""
    if not folder.is_dir():
        if folder.exists():
            raise ShardFolderError(f"{folder} is not a folder")
        return
    ours = _owned(_read_manifest(folder)) | set(also)
    strangers = sorted(name for name in os.listdir(folder) if name not in ours and not _temporary(name))
    if strangers:
        raise ShardFolderError(
            f"{folder} holds files this project did not write: {', '.join(strangers[:5])}"
            f"{f' and {len(strangers) - 5} more' if len(strangers) > 5 else ''}; it writes shards only into a "
            f"new or empty folder or one it wrote itself (its shards would replace or delete files there): "
            f"choose another folder, or move those files out"
        )


_held: set[Path] = set()  # the folders this process is writing


@contextlib.contextmanager
def writing(folder: Path, also: Collection[str] = ()) -> Iterator[None]:
    """Hold ``folder`` for writing, or raise ShardFolderError: when it holds files this project did
    not write (``also``: names of files the caller writes there beside the shards), or when another
    process is writing it, naming that process. The lock is the OS's on ``.NAME.lock`` beside the
    folder, so the OS releases it when its holder ends, even killed. A POSIX record lock (lockf), not
    flock: it belongs to this process alone, so worker processes it starts, which outlive it for a
    moment when it alone is killed (by the OOM killer), do not keep it. Re-entrant."""
    folder = Path(folder)
    where = folder.resolve()
    if where in _held:
        yield
        return
    _refuse_strangers(folder, also)  # before a lock file is made beside a folder that is not ours
    fcntl = _record_locks(folder)
    where.parent.mkdir(parents=True, exist_ok=True)
    with open(where.parent / f".{where.name}.lock", "a+") as lock:
        try:
            fcntl.lockf(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno not in (errno.EACCES, errno.EAGAIN):
                raise
            lock.seek(0)
            raise ShardFolderError(
                f"{folder} is being written by {lock.read().strip() or 'another process'}; "
                f"run again when it has finished"
            ) from None
        lock.truncate(0)
        lock.write(f"pid {os.getpid()} ({shlex.join(sys.orig_argv)})\n")
        lock.flush()
        try:
            _refuse_strangers(folder, also)  # again: another writer may have held it until now
            _held.add(where)
            yield
        finally:
            _held.discard(where)
            lock.truncate(0)


def _record_locks(folder: Path) -> Any:
    """The ``fcntl`` module, imported only here: restoring photos (``enhance``) never locks, so it
    starts on every OS; writing shards needs POSIX record locks, or ShardFolderError says why not."""
    try:
        import fcntl
    except ImportError:
        raise ShardFolderError(
            f"cannot write {folder}: the data stages lock the folders they write with POSIX record locks "
            f"(fcntl), which this OS does not have; run the pipeline on Linux or macOS (on Windows, in WSL)"
        ) from None
    return fcntl


def _unchanged(folder: Path, manifest: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """The manifest's shards that are still exactly as written (by size and mtime, else by sha256)."""
    if manifest is None or manifest["format"] != FORMAT:
        return {}
    try:
        state = json.loads(_state_path(folder).read_text())
    except (OSError, ValueError):
        state = {}
    trusted = {}
    for shard, info in manifest["shards"].items():
        path = folder / shard
        if not path.is_file():
            continue
        stat = path.stat()
        seen = state.get(shard, {})
        if stat.st_size == info["size"] and (
            (seen.get("mtime_ns"), seen.get("size"), seen.get("sha256"))
            == (stat.st_mtime_ns, stat.st_size, info["sha256"])
            or _sha256(path) == info["sha256"]
        ):
            trusted[shard] = info
    return trusted


def update_shards(
    folder: Path, entries: list[Entry], build: Callable[[list[Entry]], Iterator[Result]]
) -> dict[str, Any]:
    """Make ``folder`` hold exactly ``entries``' samples, one shard per distinct ``entry.shard``.

    ``build(needed)`` gets the entries whose samples must be computed, in the order they are
    written, and yields each one's (samples, report) in that order. Shards whose photos are
    unchanged are left alone; in the others, unchanged photos' samples are copied from the old
    shards they lay in. New shards are written beside the old ones (``.NAME.partial``) and take
    their names only when all are written, since one may copy from another's old bytes. Shards no
    longer wanted are deleted; the manifest is written last. Returns the manifest, plus
    "written", "kept", "built" and "reused" counts (not saved). Raises ShardFolderError when the
    folder is not this project's or is being written (``writing``), or a copied photo's bytes
    differ from the manifest.
    """
    folder = Path(folder)
    with writing(folder):
        folder.mkdir(parents=True, exist_ok=True)
        return _update(folder, entries, build)


class _Plan(NamedTuple):
    """What an update writes: the wanted shards' entries, the unchanged photos of the old shards by
    (name, fingerprint), the shards kept as they are, and the entries whose samples must be built."""

    wanted: dict[str, list[Entry]]
    kept: dict[tuple[str, str], tuple[str, PhotoRecord]]
    same: set[str]
    needed: list[Entry]


def _plan(entries: list[Entry], old: dict[str, dict[str, Any]]) -> _Plan:
    wanted: dict[str, list[Entry]] = {}
    for entry in sorted(entries, key=lambda entry: (entry.shard, entry.name)):
        wanted.setdefault(entry.shard, []).append(entry)
    if len({entry.name for entry in entries}) != len(entries):
        raise ValueError("update_shards: entry names must be unique")
    # every unchanged photo of the old shards, wherever it lay: a photo moves to another shard when
    # a run of photos is cut anew (a photo added or removed where a run starts)
    kept = {
        (photo.name, photo.fingerprint): (shard, photo) for shard, info in old.items() for photo in photo_records(info)
    }
    same = {
        shard
        for shard, items in wanted.items()
        if shard in old
        and [(photo.name, photo.fingerprint) for photo in photo_records(old[shard])]
        == [(entry.name, entry.fingerprint) for entry in items]
    }
    needed = [
        entry
        for shard, items in wanted.items()
        if shard not in same
        for entry in items
        if (entry.name, entry.fingerprint) not in kept
    ]
    return _Plan(wanted, kept, same, needed)


def _shard_groups(
    folder: Path,
    items: list[Entry],
    plan: _Plan,
    results: Iterator[Result],
    photos: list[list[Any]],
    stats: dict[str, int],
) -> Iterator[list[Sample] | Span]:
    """One shard's groups of samples, in order: an unchanged photo's span of its old shard (copied,
    not decoded and encoded again), or the next built photo's samples. Appends each photo's record
    (name, fingerprint, samples, report) to ``photos`` as it goes."""
    for entry in items:
        if (entry.name, entry.fingerprint) in plan.kept:
            source, photo = plan.kept[entry.name, entry.fingerprint]
            stats["reused"] += 1
            photos.append([entry.name, entry.fingerprint, photo.samples, photo.report])
            yield Span(folder / source, photo.offset, photo.length, photo.samples, photo.sha256)
        else:
            group, report = next(results)
            photos.append([entry.name, entry.fingerprint, len(group), report])
            yield group


def _write_changed(
    folder: Path, shard: str, plan: _Plan, results: Iterator[Result], stats: dict[str, int]
) -> tuple[Path, dict[str, Any]]:
    """Write one changed shard under its temporary name; returns that path and its manifest entry."""
    photos: list[list[Any]] = []
    partial = folder / f".{shard}.partial"
    try:
        count, sha256, placed = write_shard(
            partial, _shard_groups(folder, plan.wanted[shard], plan, results, photos, stats)
        )
    except ShardFolderError:
        _state_path(folder).unlink(missing_ok=True)  # so that the next run checks every shard by its sha256
        raise
    records = [photo + list(span) for photo, span in zip(photos, placed, strict=True)]
    stats["written"] += 1
    return partial, {"samples": count, "size": partial.stat().st_size, "sha256": sha256, "photos": records}


def _shard_state(path: Path, sha256: str) -> dict[str, Any]:
    """What the state file records of a shard, to trust it unread next time (a rename keeps size and mtime)."""
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": sha256}


def _update(folder: Path, entries: list[Entry], build: Callable[[list[Entry]], Iterator[Result]]) -> dict[str, Any]:
    previous = _read_manifest(folder)
    for name in os.listdir(folder):
        if _temporary(name):  # left by a run that was killed
            (folder / name).unlink()
    old = _unchanged(folder, previous)
    plan = _plan(entries, old)
    results = build(plan.needed)
    manifest: dict[str, Any] = {"format": FORMAT, "shards": {}}
    state: dict[str, dict[str, Any]] = {}
    stats = {"written": 0, "kept": len(plan.same), "built": len(plan.needed), "reused": 0}
    written: list[tuple[Path, Path]] = []
    for shard in plan.wanted:
        if shard in plan.same:
            manifest["shards"][shard] = old[shard]
            state[shard] = _shard_state(folder / shard, old[shard]["sha256"])
            continue
        partial, manifest["shards"][shard] = _write_changed(folder, shard, plan, results, stats)
        state[shard] = _shard_state(partial, manifest["shards"][shard]["sha256"])
        written.append((partial, folder / shard))
    stale = sorted(_owned(previous) - set(plan.wanted) - {MANIFEST})
    if written or stale:  # until the new manifest is written, the folder says it is being updated (check_complete)
        write_text_atomic(folder / MANIFEST, json.dumps({**manifest, "updating": stale}, separators=(",", ":")) + "\n")
    for partial, path in written:
        os.replace(partial, path)
    for name in stale:
        (folder / name).unlink(missing_ok=True)
    write_text_atomic(folder / MANIFEST, json.dumps(manifest, separators=(",", ":")) + "\n")
    write_text_atomic(_state_path(folder), json.dumps(state) + "\n")
    return {**manifest, **stats}


def photo_reports(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """Every photo's report, in shard and name order."""
    return [photo.report for info in manifest["shards"].values() for photo in photo_records(info)]


def shard_paths(folder: Path, manifest: dict[str, Any], split: str) -> list[Path]:
    """The non-empty shards of one split, sorted."""
    return [
        Path(folder) / shard
        for shard, info in sorted(manifest["shards"].items())
        if shard.startswith(f"{split}-") and info["samples"]
    ]


def samples_in(manifest: dict[str, Any], split: str) -> int:
    return sum(info["samples"] for shard, info in manifest["shards"].items() if shard.startswith(f"{split}-"))
