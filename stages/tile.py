"""Stage tile: data/prepared → data/tiles/{train,val}-*.tar, paired tiles (clean | degraded).

Every tile is a seed-format paired PNG (``2·tile`` wide, clean left; luma, or RGB with ``channels:
ycbcr``) with a small ``.json`` beside it, in the WebDataset layout: ``tar -xf
data/tiles/train-0000000000.tar`` gives the seed's folder of paired images. With a range of
``jpeg_quality``, each tile's degraded half is a JPEG of its own, at a quality drawn for that tile
(srcnn/tiling.py), unless ``degradation`` is travelled: then tiles are cut from the prepared pair.
Each tile shard holds the tiles of the prepared shard of the same name, so a rerun rewrites only the
shards whose photos changed (srcnn/shards.py), over ``workers`` processes.
Writes metrics/data.json, the report of what went in (files found, photos used, skipped by reason,
photos and tiles per split).

    python -m stages.tile
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from srcnn.files import write_text_atomic
from srcnn.import_closure import code_fingerprint
from srcnn.params import Params, ParamsError, load_params
from srcnn.photos import SKIP_KINDS, SPLITS, parallel_map
from srcnn.progress import progress
from srcnn.shards import (
    Entry,
    Result,
    ShardFolderError,
    check_complete,
    fingerprint,
    photo_records,
    photo_reports,
    read_span,
    update_shards,
)
from srcnn.tiling import tile_photo
from stages import run_stage

PREPARED, OUT_DIR, REPORT = Path("data/prepared"), Path("data/tiles"), "metrics/data.json"


def tile_settings(params: Params) -> tuple[Any, ...]:
    """The params ``tile_photo`` takes after the photo, in its order: they also fingerprint its tiles."""
    return (
        params.tile,
        params.stride,
        params.jpeg_quality,
        params.seed,
        params.scale,
        params.channels,
        params.degradation,
    )


def entries_and_spans(
    params: Params, prepared: dict[str, Any]
) -> tuple[list[Entry], dict[str, tuple[str, int, int, str]]]:
    """The tile shards' entries (one per prepared photo that has samples, fingerprinted by its
    inputs, the tile params and this stage's code), and where each photo lies in the prepared shards."""
    code = code_fingerprint("stages.tile")
    photos = [
        (shard, photo)
        for shard, info in sorted(prepared["shards"].items())
        for photo in photo_records(info)
        if photo.samples
    ]
    entries = [
        Entry(
            shard,
            photo.name,
            fingerprint(photo.fingerprint, *tile_settings(params), code),
        )
        for shard, photo in photos
    ]
    spans = {photo.name: (shard, photo.offset, photo.length, photo.sha256) for shard, photo in photos}
    return entries, spans


def tiler(params: Params, spans: dict[str, tuple[str, int, int, str]]) -> Callable[[list[Entry]], Iterator[Result]]:
    """``update_shards``' build: the needed photos tiled, over ``workers`` processes, in their order."""

    def build(needed: list[Entry]) -> Iterator[Result]:
        def jobs() -> Iterator[tuple[Any, ...]]:
            # in the order of ``needed``; only those photos' bytes are read from the prepared shards
            for entry in needed:
                shard, offset, length, digest = spans[entry.name]
                (sample,) = read_span(PREPARED / shard, offset, length, digest)
                yield (sample, *tile_settings(params))

        return iter(
            progress(parallel_map(tile_photo, jobs(), params.workers), total=len(needed), desc="tile", unit="photo")
        )

    return build


def check_colour(channels: str, reports: list[dict]) -> None:
    """A colour model (channels: ycbcr) learns its chroma from colour photos: with none among the
    train photos it would learn nothing of chroma, and evaluate would score it on gray val photos
    too, so the stage stops (an error rather than a warning: the run would only waste its time);
    with some gray ones, a warning counts them."""
    train = [result for result in reports if result["split"] == "train" and result["tiles"]]
    gray = [result["name"] for result in train if result.get("gray")]
    if channels != "ycbcr" or not gray:
        return
    if len(gray) == len(train):
        sys.exit(
            f"tile: error: channels is ycbcr (a colour model) but every train photo is gray ({len(gray)}, first "
            f"{gray[0]}): the model would learn nothing of chroma; set channels: y, or add colour photos to raw_dir"
        )
    print(
        f"tile: warning: {len(gray)} of {len(train)} train photos are gray (first {gray[0]}): the colour model "
        f"learns chroma from the others only",
        file=sys.stderr,
    )


def data_report(params: Params, report: dict[str, Any], manifest: dict[str, Any]) -> dict[str, Any]:
    """metrics/data.json: photos and tiles per split, shards, and the files skipped by kind; a
    warning for each photo too small to tile, and an exit when a split has no tiles."""
    photos, tiles, too_small = {}, {}, 0
    reports = photo_reports(manifest)
    files = {photo["name"]: photo["file"] for photo in report["photos"]}
    for result in reports:
        if result["tiles"] == 0:
            print(
                "tile: warning: skipped "
                + result["reason"].replace(result["name"], files.get(result["name"], result["name"]), 1),
                file=sys.stderr,
            )
            too_small += 1
    check_colour(params.channels, reports)
    for split in SPLITS:
        counts = [result["tiles"] for result in reports if result["split"] == split]
        photos[split], tiles[split] = sum(count > 0 for count in counts), sum(counts)
        if not counts:  # photos go whole to one split: one photo (or copies of one) leaves the other empty
            sys.exit(
                f"tile: error: no {split} photos: the {len(reports)} photo(s) used all went to "
                f"{'val' if split == 'train' else 'train'} (each photo goes whole to one split; val_fraction="
                f"{params.val_fraction}); at least 2 different photos are needed, one for each split; add photos to "
                f"raw_dir"
            )
        if tiles[split] == 0:
            sys.exit(
                f"tile: error: no {split} tiles: every {split} photo is smaller than tile={params.tile} "
                f"px; lower tile or add larger photos"
            )
    skipped = {**report["skipped"], "too_small": report["skipped"]["too_small"] + too_small}
    return {
        "files_found": report["files_found"],
        "photos_found": report["photos_found"],
        "photos_used": photos["train"] + photos["val"],
        "photos_train": photos["train"],
        "photos_val": photos["val"],
        "tiles_train": tiles["train"],
        "tiles_val": tiles["val"],
        "shards": len(manifest["shards"]),
        **{f"skipped_{kind}": skipped[kind] for kind in SKIP_KINDS},
    }


def main() -> None:
    try:
        params = load_params()
    except ParamsError as error:
        sys.exit(f"tile: error: {error}")
    try:
        report = json.loads((PREPARED / "report.json").read_text())  # written last by a complete prepare
        prepared = check_complete(PREPARED)
    except (OSError, ValueError) as error:
        sys.exit(f"tile: error: {PREPARED} is missing or incomplete ({error}); run the prepare stage first (dvc repro)")
    entries, spans = entries_and_spans(params, prepared)
    try:
        manifest = update_shards(OUT_DIR, entries, tiler(params, spans))
    except ShardFolderError as error:
        sys.exit(f"tile: error: {error}")
    data = data_report(params, report, manifest)
    write_text_atomic(REPORT, json.dumps(data, indent=2) + "\n")
    kind = "colour tiles" if params.channels == "ycbcr" else "tiles"
    print(
        f"tile: {data['tiles_train']} train and {data['tiles_val']} val {kind} of {params.tile} px from "
        f"{data['photos_train']} + {data['photos_val']} photos in {len(manifest['shards'])} shards "
        f"({manifest['built']} photos tiled, {manifest['reused']} reused); report in {REPORT}"
    )


if __name__ == "__main__":
    run_stage("tile", main)
