"""Stage evaluate: the trained model on the val photos, whole-photo inference, one score a photo.

At most ``eval_photos`` val photos are scored, the same ones in every run and experiment (those
with the lowest hash of their bytes and ``seed``), so evaluation stays bounded on large collections;
they are read one at a time from the prepared val shards.

Writes metrics/summary.json (the figures runs are compared on, the metrics of ``dvc exp show`` and
``dvc metrics diff``), metrics/eval.json (the whole evaluation: means over photos of PSNR, SSIM and
PSNR-B on luma and of PSNR on RGB, of the degraded input and of the restored output, the worst
photo's gain and the counts; under "ladder", the same photos degraded afresh at each quality of eval_qualities, one entry
a quality), metrics/eval_photos.csv (one row a photo), metrics/eval_ladder.csv (one row a
quality), plots/before_after/*.png (clean | degraded | restored, with a zoomed detail; kept in git) and
models/srcnn.ladder.json: the qualities at which the ladder found the model safe, which ``enhance``
reads beside the model (srcnn/gate.py). The ladder's output columns are the photos as ``enhance``
restores them; ``model_*`` the model alone. The logic lives in srcnn/evaluation.py.

    python -m stages.evaluate
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

from srcnn.evaluation import evaluate_ladder, evaluate_photos, headline, ladder_metrics, pick_photos, summarize
from srcnn.files import atomic_dir, atomic_path, file_sha256, write_text_atomic
from srcnn.gate import gate_path, write_gate
from srcnn.images import save_png
from srcnn.inference import CheckpointError, load_model, trained_qualities
from srcnn.params import load_params
from srcnn.photos import read_prepared
from srcnn.pictures import before_after
from srcnn.shards import check_complete, samples_in

PREPARED, TILES, MODEL = Path("data/prepared"), Path("data/tiles"), "models/srcnn.pt"
SUMMARY, METRICS, TABLE = "metrics/summary.json", "metrics/eval.json", "metrics/eval_photos.csv"
PICTURES = "plots/before_after"
LADDER, GATE = "metrics/eval_ladder.csv", gate_path(MODEL)
MAX_PICTURES = 6


def main() -> None:
    params = load_params()
    try:  # its inputs whole before any work: a stage before it may have been killed half-way
        prepared = json.loads((PREPARED / "report.json").read_text())  # written last by a complete prepare
        check_complete(PREPARED)
    except (OSError, ValueError) as error:
        sys.exit(
            f"evaluate: error: {PREPARED} is missing or incomplete ({error}); run the prepare stage first (dvc repro)"
        )
    try:
        tiles = check_complete(TILES)
    except FileNotFoundError as error:
        sys.exit(f"evaluate: error: {TILES} is missing or incomplete ({error}); run the tile stage first (dvc repro)")
    if not Path(MODEL).is_file():
        sys.exit(f"evaluate: error: {MODEL} is missing; run the train stage first (dvc repro)")
    try:
        model, info = load_model(MODEL)
    except CheckpointError as error:
        sys.exit(f"evaluate: error: {error}")
    with atomic_dir(PICTURES) as pictures:

        def picture(name: str, clean: np.ndarray, degraded: np.ndarray, restored: np.ndarray, row: dict) -> None:
            if len(list(pictures.iterdir())) < MAX_PICTURES:
                labels = (
                    "clean",
                    f"degraded {row['psnr_input']:.2f} dB",
                    f"restored {row['psnr_output']:.2f} dB ({row['psnr_gain']:+.2f})",
                )
                save_png(pictures / f"{row['photo']}.png", before_after(clean, degraded, restored, labels=labels))

        val = {photo["name"]: photo["sha256"] for photo in prepared["photos"] if photo["split"] == "val"}
        chosen = pick_photos(val, params.eval_photos, params.seed)
        photos = (
            (report["name"], clean, degraded, report["jpeg_quality"])
            for report, clean, degraded in read_prepared(PREPARED, "val", chosen)
        )
        table = evaluate_photos(model, photos, params.border, on_photo=picture, total=len(chosen))
    summary = summarize(table)
    summary.update(tiles=samples_in(tiles, "val"), val_photos=len(val), crop_border=params.border)
    cleans = ((report["name"], clean) for report, clean, _ in read_prepared(PREPARED, "val", chosen))
    ladder, gate = evaluate_ladder(
        model,
        cleans,
        params.border,
        params.scale,
        params.eval_qualities,
        total=len(chosen),
        trained=trained_qualities(info),
    )
    gate = dataclasses.replace(gate, model_sha256=file_sha256(MODEL))  # the gate belongs to this very checkpoint
    summary["ladder"] = ladder_metrics(ladder)
    with atomic_path(TABLE) as temp:
        table.round(4).to_csv(temp, index=False)
    with atomic_path(LADDER) as temp:
        ladder.round(4).to_csv(temp, index=False)
    write_text_atomic(METRICS, json.dumps(summary, indent=2) + "\n")
    write_text_atomic(SUMMARY, json.dumps(headline(summary, trained=info), indent=2) + "\n")
    write_gate(GATE, gate)
    gains, rungs = ladder["psnr_gain"], sorted(gate.rungs.items())
    safe, unsafe = ([f"q{quality}" for quality, ok in rungs if ok is wanted] for wanted in (True, False))
    restored = f"restores JPEGs near {', '.join(safe) or 'no rung'}" + (
        f", leaves those near {', '.join(unsafe)} unchanged" if unsafe else ""
    )
    print(
        f"evaluate: {summary['photos']} val photos, PSNR {summary['psnr_input']:.2f} → {summary['psnr_output']:.2f} dB "
        f"({summary['psnr_gain']:+.2f} dB), SSIM {summary['ssim_input']:.4f} → {summary['ssim_output']:.4f}; "
        f"JPEG q{ladder['quality'].min()}–q{ladder['quality'].max()}: model gain {ladder['model_gain'].min():+.2f} "
        f"to {ladder['model_gain'].max():+.2f} dB, {int(ladder['model_photos_worse'].sum())} photo results worse "
        f"than their input (metrics/eval_ladder.csv); enhance {restored} ({GATE}), "
        f"gain {gains.min():+.2f} to {gains.max():+.2f} dB; val photos on RGB: PSNR {summary['rgb_psnr_input']:.2f} "
        f"→ {summary['rgb_psnr_output']:.2f} dB ({summary['rgb_psnr_gain']:+.2f} dB)"
    )


if __name__ == "__main__":
    main()
