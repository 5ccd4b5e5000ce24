"""The seed's own dataset (a loose folder of paired tiles) packed into the shards the train stage reads.

    python -m srcnn pack-tiles seed_tiles/ -o data/tiles [--val-fraction 0.2] [--tiles-per-shard 4096] \
        [--jpeg-quality 20]
    python -m stages.train                       # then train on them, outside `dvc repro` (see docs/data.md)

Every PNG of the folder (subfolders too) must be a seed-format tile: ``2·T`` wide and ``T`` high,
clean left, degraded right. Each goes whole to train or val by the hash of its
bytes and to a shard with the tiles next to it in name order, as the prepare stage places photos
(``srcnn.shards.place``), so the result is the same layout as ``data/tiles/``:
``{train,val}-*.tar`` and ``manifest.json``. Grey PNGs are stored byte for
byte; others are stored as their 8-bit luma. ``--jpeg-quality`` records the quality the degraded
halves were made at (the seed used 20), for a model conditioned on it; without it, none is recorded.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from PIL import Image

from .images import ImageError, encode_png, load_gray
from .photos import RawDirError, assign_split, find_photos
from .shards import Entry, Result, ShardFolderError, fingerprint, place, sample_key, update_shards
from .tiling import split_pair


def tile_sample(path: Path, name: str, digest: str, jpeg_quality: int | None) -> dict[str, Any]:
    """One seed-format tile file as a shard sample; ImageError naming the file if it is not one."""
    pair = load_gray(path)
    try:
        split_pair(pair)
    except ValueError as error:
        raise ImageError(f"{path}: not a seed-format paired tile ({error})") from None
    with Image.open(path) as image:
        png = path.read_bytes() if image.format == "PNG" and image.mode == "L" else encode_png(pair)
    return {
        "__key__": sample_key(name, digest),
        "png": png,
        "json": json.dumps({"name": name, "sha256": digest, "jpeg_quality": jpeg_quality}, sort_keys=True).encode(),
    }


def pack_tiles(
    folder: Path,
    out: Path,
    val_fraction: float = 0.2,
    tiles_per_shard: int = 4096,
    seed: int = 0,
    jpeg_quality: int | None = None,
) -> dict[str, Any]:
    """Pack every tile of ``folder`` into ``out``; returns the shards' manifest (with counts)."""
    tiles, others = find_photos(folder)
    pngs = [tile for tile in tiles if tile.path.suffix.lower() == ".png"]
    if not pngs:
        raise RawDirError(f"{folder} holds no PNG tiles")
    split = assign_split(pngs, val_fraction, seed)
    shard = place(split, tiles_per_shard)
    entries = [Entry(shard[tile.name], tile.name, fingerprint(tile.digest, jpeg_quality)) for tile in pngs]
    by_name = {tile.name: tile for tile in pngs}

    def build(needed: list[Entry]) -> Iterator[Result]:
        for entry in needed:
            tile = by_name[entry.name]
            yield (
                [tile_sample(tile.path, tile.name, tile.digest, jpeg_quality)],
                {"name": tile.name, "split": split[tile.name]},
            )

    return update_shards(out, entries, build)


def parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    command = commands.add_parser(
        "pack-tiles",
        help="pack a folder of seed-format tiles into train/val shards",
        description=__doc__.split("\n\n")[0],
    )
    command.add_argument("folder", type=Path, help="folder of paired tiles (clean left, degraded right)")
    command.add_argument("-o", "--out", type=Path, default=Path("data/tiles"), help="default %(default)s")
    command.add_argument("--val-fraction", type=float, default=0.2)
    command.add_argument(
        "--tiles-per-shard",
        type=int,
        default=4096,
        help="about this many tiles a shard, in name order (default %(default)s)",
    )
    command.add_argument("--seed", type=int, default=0)
    command.add_argument("--jpeg-quality", type=int, default=None, help="the quality the degraded halves were made at")
    return command


def run(args: argparse.Namespace) -> int:
    try:
        manifest = pack_tiles(
            args.folder, args.out, args.val_fraction, args.tiles_per_shard, args.seed, args.jpeg_quality
        )
    except (RawDirError, ImageError, ShardFolderError) as error:
        print(f"pack-tiles: error: {error}", file=sys.stderr)
        return 2
    counts = {
        split: sum(info["samples"] for shard, info in manifest["shards"].items() if shard.startswith(split))
        for split in ("train", "val")
    }
    print(
        f"pack-tiles: {counts['train']} train and {counts['val']} val tiles in {len(manifest['shards'])} shards "
        f"in {args.out}"
    )
    return 0
