"""Stage prepare: every photo of raw_dir → data/prepared/{train,val}/{clean,degraded}/NAME.png.

Each photo is resized to max_side, made into a clean/degraded pair (scale, jpeg_quality) and sent
whole to train or val. Writes data/prepared/report.json saying what happened to every file.

    python -m stages.prepare
"""
from __future__ import annotations

import json
import sys

from srcnn.progress import progress

from srcnn.files import atomic_dir
from srcnn.params import load_params
from srcnn.photos import assign_split, find_photos, parallel_map, prepare_photo

OUT_DIR = "data/prepared"


def main() -> None:
    params = load_params()
    photos, others = find_photos(params.raw_dir)
    for other in others:
        print(f"prepare: warning: skipped {other}: not a photo (by its extension)", file=sys.stderr)
    split = assign_split(photos, params.val_fraction, params.seed)
    with atomic_dir(OUT_DIR) as out_dir:
        jobs = [(photo, split[photo.name], out_dir, params.max_side, params.scale, params.jpeg_quality)
                for photo in photos]
        results = list(progress(parallel_map(prepare_photo, jobs, params.workers), total=len(jobs),
                            desc="prepare", unit="photo"))
        skipped = [result for result in results if result["status"] == "skipped"]
        for result in skipped:
            print(f"prepare: warning: skipped {result['reason']}", file=sys.stderr)
        if skipped and params.strict:
            sys.exit(f"prepare: strict is on and {len(skipped)} photo(s) could not be used, first: "
                     f"{skipped[0]['reason']}")
        used = [result for result in results if result["status"] == "used"]
        if not used:
            sys.exit(f"prepare: none of the {len(photos)} photos in {params.raw_dir} could be used")
        report = {"raw_dir": params.raw_dir, "files_found": len(photos) + len(others),
                  "photos_found": len(photos), "photos_used": len(used),
                  "skipped": [{"file": other, "kind": "not_a_photo", "reason": f"{other}: not a photo"}
                              for other in others]
                  + [{key: r[key] for key in ("file", "kind", "reason")} for r in skipped],
                  "photos": used}
        (out_dir / "report.json").write_text(json.dumps(report, indent=2))
    counts = {name: sum(r["split"] == name for r in used) for name in ("train", "val")}
    print(f"prepare: {len(used)} of {len(photos)} photos used ({counts['train']} train, {counts['val']} val), "
          f"{len(skipped) + len(others)} files skipped")


if __name__ == "__main__":
    main()
