"""Stage prepare: every photo of raw_dir → data/prepared/{train,val}/{clean,degraded}/NAME.png.

Each photo is resized to max_side, made into a clean/degraded pair (scale, jpeg_quality) and sent
whole to train or val by a hash of its bytes, over ``workers`` processes. Every file of raw_dir is
accounted for: used, or skipped with its reason (a warning on stderr and an entry in
data/prepared/report.json). Bad params or a missing/empty raw_dir stop it before any work.

    python -m stages.prepare
"""
from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict

from srcnn.files import atomic_dir
from srcnn.params import ParamsError, load_params
from srcnn.photos import SKIP_KINDS, RawDirError, assign_split, find_photos, parallel_map, prepare_photo
from srcnn.progress import progress

OUT_DIR = "data/prepared"


def main() -> None:
    try:
        params = load_params()
        photos, others = find_photos(params.raw_dir)
    except (ParamsError, RawDirError) as error:
        sys.exit(f"prepare: error: {error}")
    split = assign_split(photos, params.val_fraction, params.seed)
    with atomic_dir(OUT_DIR) as out_dir:
        jobs = [(photo, split[photo.name], out_dir, params.max_side, params.scale, params.jpeg_quality)
                for photo in photos]
        results = list(progress(parallel_map(prepare_photo, jobs, params.workers), total=len(jobs),
                                desc="prepare", unit="photo"))
        skipped = others + [{key: result[key] for key in ("file", "kind", "reason")}
                            for result in results if result["status"] == "skipped"]
        for item in skipped:
            print(f"prepare: warning: skipped {item['reason']}", file=sys.stderr)
        failed = [item for item in skipped if item["kind"] != "not_a_photo"]
        if failed and params.strict:
            sys.exit(f"prepare: error: strict is true and {len(failed)} photo(s) could not be used, first: "
                     f"{failed[0]['reason']}; remove or fix them, or set strict: false to skip them")
        used = [result for result in results if result["status"] == "used"]
        if not used:
            sys.exit(f"prepare: error: none of the {len(photos)} photos in raw_dir {params.raw_dir} could be "
                     f"used (see the warnings above)")
        by_content = defaultdict(list)
        for result in used:
            by_content[result["sha256"]].append(result["file"])
        duplicates = [files for files in by_content.values() if len(files) > 1]
        for files in duplicates:
            print(f"prepare: note: same bytes, used together in one split: {', '.join(files)}", file=sys.stderr)
        kinds, counts = Counter(item["kind"] for item in skipped), Counter(result["split"] for result in used)
        report = {"raw_dir": params.raw_dir, "files_found": len(photos) + len(others),
                  "photos_found": len(photos), "photos_used": len(used), "photos_train": counts["train"],
                  "photos_val": counts["val"], "skipped": {kind: kinds[kind] for kind in SKIP_KINDS},
                  "skipped_files": skipped, "duplicates": duplicates, "photos": used}
        (out_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"prepare: {len(used)} of {len(photos)} photos used ({counts['train']} train, {counts['val']} val); "
          f"skipped: " + ", ".join(f"{kinds[kind]} {kind}" for kind in SKIP_KINDS)
          + f"; details in {OUT_DIR}/report.json")


if __name__ == "__main__":
    main()
