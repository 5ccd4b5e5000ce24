"""Stage scan: every file under raw_dir (one folder, or several) → data/raw_files.json, what prepare depends on.

DVC takes a folder as a dependency only by a path written in dvc.yaml, and interpolates no list
there (`${raw_dir}` must be one string), so prepare depends on this list instead: each photo by its
output name and sha256, each other file by its path and why prepare leaves it out. The stage runs
on every `dvc repro` (always_changed) and reads only the photos that are new or changed since the
last run (srcnn.photos.DigestCache); prepare reruns only when the list changes.

    python -m stages.scan
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from srcnn.files import write_text_atomic
from srcnn.params import ParamsError, load_params
from srcnn.photos import DigestCache, RawDirError, find_photos
from stages import run_stage

OUT = Path("data/raw_files.json")


def main() -> None:
    try:
        params = load_params()
        digests = DigestCache()
        photos, others = find_photos(params.raw_dirs, digests.digest)
    except (ParamsError, RawDirError) as error:
        sys.exit(f"scan: error: {error}")
    digests.save()
    listing = {
        "photos": [{"name": photo.name, "sha256": photo.digest} for photo in photos],
        "others": [{"file": other["file"], "kind": other["kind"]} for other in others],
    }
    write_text_atomic(OUT, json.dumps(listing, indent=1) + "\n")
    print(
        f"scan: {len(photos)} photos and {len(others)} other files in raw_dir {', '.join(params.raw_dirs)} "
        f"({digests.read} read, the others unchanged); list in {OUT}"
    )


if __name__ == "__main__":
    run_stage("scan", main)
