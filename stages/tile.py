"""Stage tile: data/prepared → data/tiles/{train,val}/*.png, paired luma tiles (clean | degraded),
the seed's dataset format; writes metrics/data.json, the report of what went in.

    python -m stages.tile
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from srcnn.progress import progress

from srcnn.files import atomic_dir, write_text_atomic
from srcnn.params import load_params
from srcnn.photos import SPLITS, parallel_map
from srcnn.tiling import write_tiles

PREPARED, OUT_DIR, REPORT = Path("data/prepared"), "data/tiles", "metrics/data.json"


def main() -> None:
    params = load_params()
    prepared = json.loads((PREPARED / "report.json").read_text())
    tiles_per_split, skipped, too_small = {}, list(prepared["skipped"]), 0
    with atomic_dir(OUT_DIR) as out_dir:
        for split in SPLITS:
            (out_dir / split).mkdir()
            names = sorted(path.name for path in (PREPARED / split / "clean").glob("*.png"))
            jobs = [(PREPARED / split / "clean" / name, PREPARED / split / "degraded" / name, out_dir / split,
                     params.tile, params.stride) for name in names]
            results = list(progress(parallel_map(write_tiles, jobs, params.workers), total=len(jobs),
                                desc=f"tile {split}", unit="photo"))
            for result in results:
                if result["tiles"] == 0:
                    print(f"tile: warning: skipped {result['reason']}", file=sys.stderr)
                    skipped.append({"file": result["file"], "kind": "too_small", "reason": result["reason"]})
                    too_small += 1
            tiles_per_split[split] = sum(result["tiles"] for result in results)
            if tiles_per_split[split] == 0:
                sys.exit(f"tile: no {split} tiles: every {split} photo is smaller than tile={params.tile}; "
                         f"lower tile or add larger photos")
    report = {"files_found": prepared["files_found"], "photos_found": prepared["photos_found"],
              "photos_used": prepared["photos_used"] - too_small, "tiles_train": tiles_per_split["train"],
              "tiles_val": tiles_per_split["val"]}
    for kind in ("not_a_photo", "unreadable", "too_many_pixels", "too_small"):
        report[f"skipped_{kind}"] = sum(item["kind"] == kind for item in skipped)
    write_text_atomic(REPORT, json.dumps(report, indent=2) + "\n")
    print(f"tile: {tiles_per_split['train']} train and {tiles_per_split['val']} val tiles of {params.tile} px")


if __name__ == "__main__":
    main()
