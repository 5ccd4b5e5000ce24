"""Stage prepare: every photo of raw_dir (a folder, or several) → data/prepared/{train,val}-*.tar, clean/degraded pairs.

Each photo is resized to max_side, made into a clean/degraded pair (scale, jpeg_quality: one
quality, or a range from which each photo's own is drawn by its hash and seed; degradation:
travelled, a journey of re-saves, crops and resizes, srcnn/degrade.py), sent whole to train
or val by a hash of its bytes, and stored in a shard with the photos next to it in name order (about
``photos_per_shard`` a shard: srcnn/shards.py), over ``workers`` processes. Reruns are incremental:
only photos that are new or whose params changed are computed again, only the shards they fall in
are rewritten, and the result is byte for byte that of a run from scratch (srcnn/shards.py). Every
file of raw_dir is accounted for: used, or skipped with its reason (a warning on stderr and an entry
in data/prepared/report.json). Bad params or a missing/empty folder stop it before any work. DVC
reruns it when the list of raw_dir's files that the scan stage writes changes.

    python -m stages.prepare
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from srcnn.files import write_text_atomic
from srcnn.import_closure import code_fingerprint
from srcnn.params import Params, ParamsError, load_params
from srcnn.photos import (
    SKIP_KINDS,
    DigestCache,
    Photo,
    RawDirError,
    assign_split,
    find_photos,
    parallel_map,
    prepare_photo,
)
from srcnn.progress import progress
from srcnn.shards import (
    Entry,
    Result,
    ShardFolderError,
    fingerprint,
    photo_reports,
    place,
    update_shards,
    writing,
)
from stages import run_stage

OUT_DIR = Path("data/prepared")
REPORT = OUT_DIR / "report.json"


def main() -> None:
    try:
        params = load_params()
        digests = DigestCache()
        photos, others = find_photos(params.raw_dirs, digests.digest)
    except (ParamsError, RawDirError) as error:
        sys.exit(f"prepare: error: {error}")
    digests.save()
    try:
        with writing(OUT_DIR, also={REPORT.name}):  # the report too: one run at a time, from deleting it to writing it
            prepare(params, photos, others)
    except ShardFolderError as error:
        sys.exit(f"prepare: error: {error}")


def photo_settings(params: Params) -> tuple[Any, ...]:
    """The params ``prepare_photo`` takes after the photo and its split, in its order: they also
    fingerprint its pair."""
    return params.max_side, params.scale, params.jpeg_quality, params.seed, params.degradation


def duplicate_files(used: list[dict[str, Any]]) -> list[list[str]]:
    """The files of the used photos that hold the same bytes, each group noted on stderr."""
    by_content = defaultdict(list)
    for report in used:
        by_content[report["sha256"]].append(report["file"])
    duplicates = [files for files in by_content.values() if len(files) > 1]
    for files in duplicates:
        print(f"prepare: note: same bytes, used together in one split: {', '.join(files)}", file=sys.stderr)
    return duplicates


def skipped_files(params: Params, reports: list[dict[str, Any]], others: list[dict[str, str]]) -> list[dict[str, str]]:
    """The files left out (``others``, and the photos that could not be used), each warned of; an
    exit under ``strict`` when a photo could not be used."""
    skipped = others + [
        {"file": report["file"], "kind": report["kind"], "reason": report["reason"]}
        for report in reports
        if report["status"] == "skipped"
    ]
    for item in skipped:
        print(f"prepare: warning: skipped {item['reason']}", file=sys.stderr)
    failed = [item for item in skipped if item["kind"] != "not_a_photo"]
    if failed and params.strict:
        sys.exit(
            f"prepare: error: strict is true and {len(failed)} photo(s) could not be used, first: "
            f"{failed[0]['reason']}; remove or fix them, or set strict: false to skip them"
        )
    return skipped


def prepare(params: Params, photos: list[Photo], others: list[dict[str, str]]) -> None:
    """Every photo into data/prepared (shards, manifest, report.json), the files left out reported."""
    REPORT.unlink(missing_ok=True)  # written last: its presence says the run completed
    split = assign_split(photos, params.val_fraction, params.seed)
    by_name = {photo.name: photo for photo in photos}
    code = code_fingerprint("stages.prepare")
    shard = place(split, params.photos_per_shard)
    entries = [
        Entry(
            shard[photo.name],
            photo.name,
            fingerprint(photo.digest, split[photo.name], *photo_settings(params), code),
        )
        for photo in photos
    ]

    def build(needed: list[Entry]) -> Iterator[Result]:
        jobs = ((by_name[entry.name], split[entry.name], *photo_settings(params)) for entry in needed)
        return iter(
            progress(parallel_map(prepare_photo, jobs, params.workers), total=len(needed), desc="prepare", unit="photo")
        )

    manifest = update_shards(OUT_DIR, entries, build)
    reports = photo_reports(manifest)
    for report in reports:
        report["file"] = str(by_name[report["name"]].path)
    skipped = skipped_files(params, reports, others)
    used = sorted((report for report in reports if report["status"] == "used"), key=lambda report: report["name"])
    if not used:
        sys.exit(
            f"prepare: error: none of the {len(photos)} photos in raw_dir {', '.join(params.raw_dirs)} "
            f"could be used (see the warnings above)"
        )
    duplicates = duplicate_files(used)
    kinds, counts = Counter(item["kind"] for item in skipped), Counter(report["split"] for report in used)
    report = {
        "raw_dir": params.raw_dir,
        "files_found": len(photos) + len(others),
        "photos_found": len(photos),
        "photos_used": len(used),
        "photos_train": counts["train"],
        "photos_val": counts["val"],
        "skipped": {kind: kinds[kind] for kind in SKIP_KINDS},
        "skipped_files": skipped,
        "duplicates": duplicates,
        "photos": used,
    }
    write_text_atomic(REPORT, json.dumps(report, indent=2) + "\n")
    print(
        f"prepare: {len(used)} of {len(photos)} photos used ({counts['train']} train, {counts['val']} val) "
        f"in {len(manifest['shards'])} shards ({manifest['built']} photos computed, {manifest['reused']} reused, "
        f"{manifest['written']} shards written, {manifest['kept']} kept); skipped: "
        + ", ".join(f"{kinds[kind]} {kind}" for kind in SKIP_KINDS)
        + f"; details in {REPORT}"
    )


if __name__ == "__main__":
    run_stage("prepare", main)
