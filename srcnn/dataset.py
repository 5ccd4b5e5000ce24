"""Training tiles, streamed from tar shards with flat memory, or held in memory for small sets.

    stream = ShardTiles(shard_paths, seed=0, shuffle_buffer=8000)          # what the train stage uses
    tiles = MemoryTiles(load_pairs("seed_tiles/"))                         # a folder of seed-format PNGs
    for tiles, strengths in stream.batches(0, batch_size=32): ...         # N×2C×T×T uint8 (clean, degraded), (N,)
    stream.batches(first_epoch, 32, steps_per_epoch=200)                  # a run resumed at first_epoch

Both give ``fit`` (srcnn/train.py) the same thing: batches of whole paired tiles, epoch after
epoch (N×2C×T×T: the C planes of the clean half, then those of the degraded half; C is 1 for the
seed's luma tiles, 3 for RGB tiles), batch j of epoch e a pure function of (seed, e, j, rank), so
a run killed mid-way resumes to the same model. ``ShardTiles`` reads the shards pass after pass, each pass in an order
shuffled from the seed, mixes tiles in a shuffle buffer and, under torchrun, gives each rank (and
each loader worker) its own shards, or its share of the tiles when there are fewer shards than
loader workers: no process holds more than its buffer, whatever the size of
the collection.
Each tile comes with the compression strength of its JPEG step (``srcnn.jpeg``; 0 for
none), read from the ``.json`` beside it, for a model conditioned on it. Random crops and the 8
flips/rotations are cut from a batch in one gather (``random_crops``).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import random
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import webdataset
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from .images import decode_png, load_gray
from .jpeg import strength_for_quality
from .shards import list_samples, photo_records, read_shard, read_span
from .tiling import split_pair


def seed_of(*parts: object) -> int:
    return int(hashlib.sha256(repr(parts).encode()).hexdigest()[:15], 16)


def decode_sample(sample: dict[str, Any], source: str) -> tuple[torch.Tensor, float]:
    """A tile sample of a shard as a 2C×T×T uint8 tensor (for a luma tile, channel 0 clean and
    channel 1 degraded; for an RGB tile, clean R, G, B then degraded R, G, B) and the compression
    strength of its photo, read from the ``.json`` beside it (0.0: no JPEG step); ``source`` names
    the shard in errors."""
    clean, degraded = split_pair(decode_png(sample["png"], f"{source}:{sample['__key__']}"))
    quality = json.loads(sample["json"]).get("jpeg_quality") if sample.get("json") else None
    planes = [clean, degraded] if clean.ndim == 2 else [*clean.transpose(2, 0, 1), *degraded.transpose(2, 0, 1)]
    return torch.from_numpy(np.stack(planes)), strength_for_quality(quality)


POOL = 512  # tiles each reading process holds, decoded on first use (32 KiB each at 128 px)


def share_of_samples(urls: Iterator[dict[str, str]], worker: int, workers: int) -> Iterator[dict[str, Any]]:
    """Worker ``worker``'s share of the samples of the tar shards at ``urls``: the samples
    ``webdataset.tarfile_to_samples`` would give, numbered on through every shard and pass, those
    whose number is ``worker`` modulo ``workers``. Only those are read: each shard's members are
    listed once (``srcnn.shards.list_samples``: the headers alone) and a sample is read by seeking
    to its members, where the WebDataset stream reads every byte of every shard in every worker
    (slower: docs/gpu.md). For the few shards of a small collection, the case it is used for: the
    lists are about 100 bytes a sample."""
    listed: dict[str, list[tuple[str, list[tuple[str, int, int]]]]] = {}
    number = -1
    for item in urls:
        url = item["url"]
        if url not in listed:
            listed[url] = list_samples(url)
        with open(url, "rb") as shard:
            for key, members in listed[url]:
                number += 1
                if number % workers != worker:
                    continue
                sample: dict[str, Any] = {"__key__": key, "__url__": url}
                for suffix, offset, size in members:
                    shard.seek(offset)
                    sample[suffix] = shard.read(size)
                yield sample


class _Stream(IterableDataset):
    """One rank's batches for a whole run; each DataLoader worker reads its own shards.

    Each worker's tiles are one stream that never restarts (refilling the shuffle buffer and the
    pool at every epoch would cost more than the epoch itself on a GPU), a pure function of (seed,
    rank, worker). With ``steps`` (batches per epoch), worker w of W makes ``ceil(steps / W)``
    batches per epoch (the caller keeps batches w, w + W, ... up to ``steps``), and a run that
    starts at ``first_epoch`` skips the batches of the epochs before it without decoding them: a
    resumed run gets the batches of one that was never stopped. Without ``steps``: endless batches."""

    def __init__(
        self,
        shards: list[str],
        seed: int,
        first_epoch: int,
        batch_size: int,
        steps: int | None,
        shuffle_buffer: int,
        rank: int,
        reuse: int,
    ) -> None:
        super().__init__()
        self.shards, self.seed, self.first_epoch, self.batch_size = shards, seed, first_epoch, batch_size
        self.steps, self.buffer, self.rank, self.reuse = steps, shuffle_buffer, rank, reuse

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        entries = self._entries(worker, workers)
        if self.steps is not None:  # a resumed run: pass over the tiles of the epochs done
            for _ in range(self.first_epoch * -(-self.steps // workers) * self.batch_size):
                next(entries)
        while True:
            batch = [self._decoded(entry) for entry in itertools.islice(entries, self.batch_size)]
            yield (
                torch.stack([tile for tile, _ in batch]),
                torch.tensor([strength for _, strength in batch], dtype=torch.float64),
            )

    @staticmethod
    def _decoded(entry: list[Any]) -> tuple[torch.Tensor, float]:
        if entry[1] is None:
            sample = entry[0]
            entry[1] = decode_sample(sample, sample["__url__"])
        return entry[1]

    def _entries(self, worker: int, workers: int) -> Iterator[list[Any]]:
        """This worker's endless pool entries [sample, decoded tile or None, uses left]. Each worker
        reads its own shards; with fewer shards than workers (a small collection), every worker
        reads its own share of their samples, the w-th of every W (``share_of_samples``)."""
        by_shard = len(self.shards) >= workers
        mine = self.shards[worker::workers] if by_shard else self.shards
        rng = random.Random(seed_of("stream", self.seed, self.rank, worker))

        def urls() -> Iterator[dict[str, str]]:
            while True:  # each pass over the shards in a new order
                order = list(mine)
                rng.shuffle(order)
                yield from ({"url": url} for url in order)

        reading = (
            [urls, webdataset.tarfile_to_samples()] if by_shard else [lambda: share_of_samples(urls(), worker, workers)]
        )
        samples = iter(webdataset.DataPipeline(*reading, webdataset.shuffle(self.buffer, initial=self.buffer, rng=rng)))
        # Each tile is handed out ``reuse`` times, in random order among a pool of tiles (a random
        # crop and flip each time, cut later), and decoded once, when first handed out: decoding a
        # PNG costs about as much as a tenth of a CPU training step per batch, and the in-memory
        # path drew each tile several times too. Measured in benchmarks/scale.py.
        pool = [[sample, None, self.reuse] for sample, _ in zip(samples, range(POOL), strict=False)]
        while True:
            index = rng.randrange(len(pool))
            entry = pool[index]
            yield entry
            entry[2] -= 1
            if entry[2] == 0:
                pool[index] = [next(samples), None, self.reuse]


class ShardTiles:
    """Tiles streamed from tar shards (``data/tiles/train-*.tar``).

    Args:
        shards: the shard files, all of them: each rank takes its share (rank::world).
        seed: fixes the shard order of every pass, the shuffle buffer and so the batches.
        shuffle_buffer: tiles held (still compressed) and mixed per reading process.
        reuse: batches each decoded tile goes into (a different random crop each time).
        workers: DataLoader worker processes decoding in the background (0: in this process).
        pin_memory: page-locked batches, for fast copies to a CUDA GPU.
        fingerprint: identifies the data, for resuming (e.g. the sha256 of the shards' manifest).
    """

    def __init__(
        self,
        shards: Sequence[Path | str],
        seed: int,
        shuffle_buffer: int = 8000,
        reuse: int = 1,
        workers: int = 0,
        pin_memory: bool = False,
        fingerprint: str = "",
    ) -> None:
        if not shards:
            raise FileNotFoundError("no tile shards to train on; run the tile stage first (dvc repro)")
        self.shards = [str(path) for path in shards]
        self.seed, self.shuffle_buffer, self.reuse = seed, shuffle_buffer, reuse
        self.workers, self.pin_memory = workers, pin_memory
        self.fingerprint = fingerprint or hashlib.sha256("\n".join(self.shards).encode()).hexdigest()

    def batches(
        self, epoch: int, batch_size: int, rank: int = 0, world: int = 1, steps_per_epoch: int | None = None
    ) -> Generator[tuple[torch.Tensor, torch.Tensor]]:
        """Batches of ``batch_size`` whole tiles and their strengths for this rank (its own shards,
        no other rank's), from one set of loader workers that stays up: with ``steps_per_epoch``,
        that many per epoch from ``epoch`` on (the same batches as a run that started at epoch 0);
        without, endless batches from the run's start (``epoch`` must then be 0)."""
        if steps_per_epoch is None and epoch:
            raise ValueError("batches: a stream that starts at a later epoch needs steps_per_epoch")
        mine = self.shards[rank::world]
        if not mine:
            raise ValueError(
                f"{len(self.shards)} train shards cannot feed {world} processes; lower params "
                f"photos_per_shard so that the train photos make at least {world} shards"
            )
        workers = self.workers
        stream = _Stream(mine, self.seed, epoch, batch_size, steps_per_epoch, self.shuffle_buffer, rank, self.reuse)
        # about 16 MiB of batches ready per worker (128 px tiles), to cover a worker's refill between epochs
        prefetch = max(2, min(16, 512 // max(batch_size, 1))) if workers else None
        loader = DataLoader(
            stream,
            batch_size=None,
            num_workers=workers,
            pin_memory=self.pin_memory,
            prefetch_factor=prefetch,
            persistent_workers=False,
        )
        if steps_per_epoch is None:
            yield from loader
            return
        per_epoch = -(-steps_per_epoch // max(workers, 1)) * max(workers, 1)  # what the workers make per epoch
        for index, batch in enumerate(loader):
            if index % per_epoch < steps_per_epoch:
                yield batch


class MemoryTiles:
    """Tiles held in one N×2C×T×T uint8 tensor (small sets, tests, benchmarks), with their strengths
    (N,) (zeros when not given); every rank draws the same global batch from the seed and keeps its slice."""

    def __init__(self, pairs: torch.Tensor, strengths: torch.Tensor | None = None, seed: int = 0) -> None:
        self.pairs, self.seed = pairs, seed
        self.strengths = torch.zeros(len(pairs)) if strengths is None else strengths.float()
        self.fingerprint = hashlib.sha256(
            pairs.cpu().numpy().tobytes() + self.strengths.cpu().numpy().tobytes()
        ).hexdigest()

    def batches(
        self, epoch: int, batch_size: int, rank: int = 0, world: int = 1, steps_per_epoch: int | None = None
    ) -> Generator[tuple[torch.Tensor, torch.Tensor]]:
        """As ``ShardTiles.batches``: endless batches of ``epoch``, or ``steps_per_epoch`` of each epoch from it."""
        local = slice(rank * batch_size, (rank + 1) * batch_size)
        for current in itertools.count(epoch):
            generator = torch.Generator().manual_seed(seed_of("memory", self.seed, current))
            for _ in itertools.count() if steps_per_epoch is None else range(steps_per_epoch):
                index = torch.randint(len(self.pairs), (batch_size * world,), generator=generator)[local]
                yield self.pairs[to_device(index, self.pairs.device)], self.strengths[index]


def load_pairs(folder: str | Path) -> torch.Tensor:
    """All ``*.png`` paired tiles of a folder (the seed's dataset), sorted by name, as N×2×T×T uint8
    luma (colour tiles are read as their luma)."""
    folder = Path(folder)
    paths = sorted(folder.glob("*.png"))
    if not paths:
        raise FileNotFoundError(f"{folder}: no paired tiles (*.png)")
    tiles: list[np.ndarray] = []
    for path in paths:
        clean, degraded = split_pair(load_gray(path))
        if tiles and clean.shape != tiles[0].shape[1:]:
            raise ValueError(f"{path}: tile {clean.shape} differs from the others {tiles[0].shape[1:]}")
        tiles.append(np.stack([clean, degraded]))
    return torch.from_numpy(np.stack(tiles))


def read_tiles(shards: Sequence[Path | str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Every tile of ``shards`` in one N×2C×T×T uint8 tensor, and their strengths (N,): for small
    sets (benchmarks, notebooks)."""
    tiles: list[torch.Tensor] = []
    strengths: list[float] = []
    for shard in shards:
        for sample in read_shard(shard):
            tile, strength = decode_sample(sample, str(shard))
            tiles.append(tile)
            strengths.append(strength)
    if not tiles:
        raise FileNotFoundError(f"no tiles in {len(shards)} shards; run the tile stage first (dvc repro)")
    return torch.stack(tiles), torch.tensor(strengths)


def spread_tiles(folder: Path, manifest: dict[str, Any], split: str, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` tiles spread evenly over all the tiles of one split (in shard order), as N×2C×T×T
    uint8, and their strengths (N,): the fixed val tiles of the training curve. Only the photos that
    hold them are read, from their spans in the shards, so this costs the same whatever the size of
    the collection."""
    photos = [
        (shard, photo)
        for shard, info in sorted(manifest["shards"].items())
        if shard.startswith(f"{split}-")
        for photo in photo_records(info)
        if photo.samples
    ]
    total = sum(photo.samples for _, photo in photos)
    if not total:
        raise FileNotFoundError(f"no {split} tiles in {folder}; run the tile stage first (dvc repro)")
    wanted = sorted(set(np.linspace(0, total - 1, min(count, total)).round().astype(int).tolist()))
    tiles: list[torch.Tensor] = []
    strengths: list[float] = []
    first, next_wanted = 0, 0
    for shard, photo in photos:
        picked = []
        while next_wanted < len(wanted) and wanted[next_wanted] < first + photo.samples:
            picked.append(wanted[next_wanted] - first)
            next_wanted += 1
        if picked:
            group = read_span(Path(folder) / shard, photo.offset, photo.length, photo.sha256)
            for index in picked:
                tile, strength = decode_sample(group[index], shard)
                tiles.append(tile)
                strengths.append(strength)
        first += photo.samples
    return torch.stack(tiles), torch.tensor(strengths)


def to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``tensor`` on ``device``. A copy from the CPU to a CUDA GPU goes from page-locked memory and
    asynchronously: from ordinary memory, CUDA makes the host wait for every kernel queued before
    the copy, so each training step would wait for the last one. Elsewhere a plain ``.to``."""
    if device.type != "cuda" or tensor.device == device:
        return tensor.to(device)
    return (tensor if tensor.is_pinned() else tensor.pin_memory()).to(device, non_blocking=True)


def random_crops(tiles: torch.Tensor, crop: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A random ``crop``² window of each N×2C×T×T tile, randomly flipped and transposed, as float
    (degraded, clean) in [0, 1], N×C×crop×crop each, in one gather (every plane of a tile cut
    alike); random numbers drawn on the CPU from ``generator``, so a run is reproducible whatever
    the device."""
    count, planes, height, width = tiles.shape
    top = torch.randint(height - crop + 1, (count,), generator=generator)
    left = torch.randint(width - crop + 1, (count,), generator=generator)
    flips = torch.randint(2, (3, count), generator=generator).bool()
    steps = torch.arange(crop)
    rows = top[:, None] + torch.where(flips[0, :, None], crop - 1 - steps, steps)
    cols = left[:, None] + torch.where(flips[1, :, None], crop - 1 - steps, steps)
    device = tiles.device
    # the small index vectors go to the tiles' device, and the count×crop×crop grids are built there
    # (the same integers on any device): a few kB copied a step instead of MBs
    rows, cols, transpose = to_device(rows, device), to_device(cols, device), to_device(flips[2, :, None, None], device)
    grid_rows = torch.where(transpose, rows[:, None, :], rows[:, :, None])
    grid_cols = torch.where(transpose, cols[:, :, None], cols[:, None, :])
    batch = tiles[
        torch.arange(count, device=device)[:, None, None, None],
        torch.arange(planes, device=device)[None, :, None, None],
        grid_rows[:, None],
        grid_cols[:, None],
    ]
    batch = batch.float().div_(255.0)
    half = planes // 2
    return batch[:, half:], batch[:, :half]


def auto_loader_workers(requested: int, device: torch.device) -> int:
    """``loader_workers`` -1: none on a CPU (decoding is a few % of a step there and would take a
    core from training), up to 8 beside a GPU."""
    if requested >= 0:
        return requested
    if device.type == "cpu":
        return 0
    return max(1, min(8, (os.cpu_count() or 2) - 1))
