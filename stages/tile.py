"""Stage tile: data/prepared → data/tiles/{train,val}/*.png, paired luma tiles (clean | degraded),
the seed's dataset format, over ``workers`` processes; writes metrics/data.json, the report of what
went in (files found, photos used, skipped by reason, photos and tiles per split).

    python -m stages.tile
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from srcnn.files import atomic_dir, write_text_atomic
from srcnn.params import ParamsError, load_params
from srcnn.photos import SKIP_KINDS, SPLITS, parallel_map
from srcnn.progress import progress
from srcnn.tiling import write_tiles

PREPARED, OUT_DIR, REPORT = Path("data/prepared"), "data/tiles", "metrics/data.json"


def main() -> None:
    try:
        params = load_params()
        prepared = json.loads((PREPARED / "report.json").read_text())
    except ParamsError as error:
        sys.exit(f"tile: error: {error}")
    except FileNotFoundError:
        sys.exit(f"tile: error: {PREPARED}/report.json not found: {PREPARED} is missing or incomplete; "
                 f"run the prepare stage first (dvc repro)")
    skipped, photos, tiles = dict(prepared["skipped"]), {}, {}
    with atomic_dir(OUT_DIR) as out_dir:
        jobs, splits = [], []  # one pool for both splits
        for split in SPLITS:
            (out_dir / split).mkdir()
            for clean in sorted((PREPARED / split / "clean").glob("*.png")):
                jobs.append((clean, PREPARED / split / "degraded" / clean.name, out_dir / split,
                             params.tile, params.stride))
                splits.append(split)
        results = list(progress(parallel_map(write_tiles, jobs, params.workers), total=len(jobs),
                                desc="tile", unit="photo"))
        original = {photo["name"]: photo["file"] for photo in prepared["photos"]}
        for result in results:
            if result["tiles"] == 0:
                reason = result["reason"].replace(result["file"], original.get(result["file"], result["file"]), 1)
                print(f"tile: warning: skipped {reason}", file=sys.stderr)
                skipped["too_small"] += 1
        for split in SPLITS:
            counts = [result["tiles"] for result, where in zip(results, splits) if where == split]
            photos[split], tiles[split] = sum(count > 0 for count in counts), sum(counts)
            if tiles[split] == 0:
                sys.exit(f"tile: error: no {split} tiles: every {split} photo is smaller than tile={params.tile} "
                         f"px; lower tile or add larger photos")
    report = {"files_found": prepared["files_found"], "photos_found": prepared["photos_found"],
              "photos_used": photos["train"] + photos["val"], "photos_train": photos["train"],
              "photos_val": photos["val"], "tiles_train": tiles["train"], "tiles_val": tiles["val"],
              **{f"skipped_{kind}": skipped[kind] for kind in SKIP_KINDS}}
    write_text_atomic(REPORT, json.dumps(report, indent=2) + "\n")
    print(f"tile: {tiles['train']} train and {tiles['val']} val tiles of {params.tile} px from "
          f"{photos['train']} + {photos['val']} photos; report in {REPORT}")


if __name__ == "__main__":
    main()
