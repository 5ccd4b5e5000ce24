"""Stage evaluate: the trained model on the val photos, whole-photo inference, one score a photo.

At most ``eval_photos`` val photos are scored, the same ones in every run and experiment (those
with the lowest hash of their bytes and ``seed``), so evaluation stays bounded on large collections;
they are read one at a time from the prepared val shards.

Writes metrics/summary.json (the figures runs are compared on, the metrics of ``dvc exp show`` and
``dvc metrics diff``), metrics/eval.json (the whole evaluation: means over photos of PSNR, SSIM and
PSNR-B on luma and of PSNR on RGB, of the degraded input and of the restored output, the worst
photo's gain and the counts; under "ladder", the same photos degraded afresh at each quality of
eval_qualities, one entry a quality, ``q20``, and saved twice at each pair of eval_doubles, shifted by 4 px
between the saves, ``d10_30``), metrics/eval_photos.csv (one row a photo), metrics/eval_ladder.csv (one row a
quality of eval_qualities), plots/before_after/*.png (clean | degraded | restored, with a zoomed detail; in git) and
models/srcnn.ladder.json: the qualities at which the ladder found the model safe, which ``enhance``
reads beside the model (srcnn/gate.py). The models that ship with the project (``srcnn.gate.SHIPPED``)
are scored on the same photos and rungs: metrics/summary.json carries their gains and the trained
model's gain over them (``shipped_model``, ``gain_over_shipped``, ``shipped_rgb_model``,
``rgb_gain_over_shipped``), metrics/eval.json the figures per rung under "shipped", and the gate
the rungs where the trained model beat each (``enhance`` takes it only there). The ladder's output
columns are the photos as ``enhance`` restores them; ``model_*`` the model alone. The logic lives in
srcnn/evaluation.py.

    python -m stages.evaluate
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from srcnn.checks import BrokenModelError
from srcnn.evaluation import (
    SHIPPED_COLUMNS,
    compare_with_shipped,
    evaluate_photos,
    headline,
    judged_rows,
    ladder_gains,
    ladder_metrics,
    ladder_table,
    pick_photos,
    shipped_headline,
    summarize,
)
from srcnn.files import atomic_dir, atomic_path, file_sha256, write_text_atomic
from srcnn.gate import SHIPPED, Comparison, Gate, GateError, decide_gate, gate_path, read_gate, write_gate
from srcnn.images import save_png
from srcnn.inference import CheckpointError, load_model, trained_qualities
from srcnn.params import Params, load_params
from srcnn.photos import read_prepared
from srcnn.pictures import before_after
from srcnn.shards import check_complete, samples_in
from stages import run_stage

PREPARED, TILES, MODEL = Path("data/prepared"), Path("data/tiles"), "models/srcnn.pt"
SUMMARY, METRICS, TABLE = "metrics/summary.json", "metrics/eval.json", "metrics/eval_photos.csv"
PICTURES = "plots/before_after"
LADDER, GATE = "metrics/eval_ladder.csv", gate_path(MODEL)
MAX_PICTURES = 6


def checked_inputs() -> tuple[dict[str, Any], dict[str, Any], Any, dict[str, Any]]:
    """The prepare report, the tiles' manifest, the model and its info, each checked whole before any
    work (a stage before this one may have been killed half-way); an exit naming what is missing."""
    try:
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
    except (CheckpointError, BrokenModelError) as error:
        sys.exit(f"evaluate: error: {error}")
    return prepared, tiles, model, info


def main() -> None:
    params = load_params()
    prepared, tiles, model, info = checked_inputs()
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
    summary: dict[str, Any] = {**summarize(table)}
    summary.update(tiles=samples_in(tiles, "val"), val_photos=len(val), crop_border=params.border)
    gains = ladder_gains(
        model,
        cleans(chosen),
        params.border,
        params.scale,
        params.eval_qualities,
        total=len(chosen),
        doubles=doubles(params),
    )
    gate = decide_gate(gains, trained_qualities(info))
    ladder = ladder_table(gains, gate)
    comparisons, summary["shipped"], shipped_gains = score_shipped(params, chosen, (table, gains), gate)
    # the gate belongs to this very checkpoint
    gate = dataclasses.replace(gate, model_sha256=file_sha256(MODEL), shipped=comparisons)
    summary["ladder"] = ladder_metrics(ladder)
    with atomic_path(TABLE) as temp:
        table.round(4).to_csv(temp, index=False)
    with atomic_path(LADDER) as temp:  # the single JPEGs, one row a quality, as its plot shows them
        ladder[ladder["rung"].str.startswith("q")].drop(columns="rung").round(4).to_csv(temp, index=False)
    write_text_atomic(METRICS, json.dumps(summary, indent=2) + "\n")
    figures = {**headline(summary, trained=info), **shipped_headline(shipped_gains)}
    write_text_atomic(SUMMARY, json.dumps(figures, indent=2) + "\n")
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
        f"→ {summary['rgb_psnr_output']:.2f} dB ({summary['rgb_psnr_gain']:+.2f} dB); {against_shipped(figures, gate)}"
    )


def doubles(params: Params) -> tuple[tuple[int, int], ...]:
    """The double-JPEG rungs (``eval_doubles``); none for super-resolution (``scale`` > 1), whose ladder
    degrades by ``scale`` first."""
    return params.eval_doubles if params.scale == 1 else ()


def cleans(chosen: set[str]) -> Iterator[tuple[str, np.ndarray]]:
    """The chosen clean val photos, (name, RGB), one at a time from the prepared shards."""
    return ((report["name"], clean) for report, clean, _ in read_prepared(PREPARED, "val", chosen))


def score_shipped(
    params: Params, chosen: set[str], ours: tuple[pd.DataFrame, pd.DataFrame], our_gate: Gate
) -> tuple[dict[str, Comparison] | None, dict, dict[str, tuple[float, float]]]:
    """The shipped models on the same val photos and rungs as the trained model (``ours``: its
    ``evaluate_photos`` and ``ladder_gains`` tables, the latter under ``our_gate``): where it beat each,
    the figures per rung, and the mean gain of both on the val photos as they are (``SHIPPED_COLUMNS``),
    each kind on the photos it is judged on (``judged_rows``). A shipped model that is missing or
    damaged is named and left out; with ``scale`` > 1 none is compared (they do not enlarge photos)."""
    if params.scale != 1:
        print("evaluate: note: the shipped models do not enlarge photos; not compared (scale > 1)", file=sys.stderr)
        return None, {}, {}
    scored, gains = {}, {}
    for kind, path in SHIPPED.items():
        try:
            model, _ = load_model(path)
            gate = read_gate(gate_path(path), path)
        except (CheckpointError, GateError) as error:
            print(f"evaluate: note: the shipped model of {kind} photos is not compared: {error}", file=sys.stderr)
            continue
        qualities, border = params.eval_qualities, params.border
        judged = set(ours[1].loc[judged_rows(ours[1], kind), "photo"])  # the shipped model scores only these
        theirs = ladder_gains(
            model, cleans(judged), border, params.scale, qualities, total=len(judged), doubles=doubles(params)
        )
        scored[kind] = (str(path), file_sha256(path), theirs, gate)
        if judged:
            photos = (
                (report["name"], clean, degraded, report["jpeg_quality"])
                for report, clean, degraded in read_prepared(PREPARED, "val", judged)
            )
            table, column = evaluate_photos(model, photos, border, total=len(judged)), SHIPPED_COLUMNS[kind][1]
            gains[kind] = (float(ours[0].loc[judged_rows(ours[0], kind), column].mean()), float(table[column].mean()))
    comparisons, figures = compare_with_shipped(ours[1], our_gate, scored)
    return comparisons, figures, gains


def against_shipped(figures: dict, gate: Gate) -> str:
    """What the evaluation says about the trained model against the shipped ones."""
    if not gate.shipped:
        return "not compared with the shipped models"
    parts = []
    for kind, comparison in gate.shipped.items():
        beaten = [f"q{quality}" for quality, won in sorted(comparison.beaten.items()) if won and gate.rungs[quality]]
        parts.append(f"{kind} photos near {', '.join(beaten)}" if beaten else f"no {kind} photos")
    over = ", ".join(
        f"{figures[key]:+.2f} dB {label}"
        for key, label in (("gain_over_shipped", "luma"), ("rgb_gain_over_shipped", "RGB"))
        if key in figures
    )
    return f"over the shipped models {over}: enhance takes {MODEL} for {' and '.join(parts)}"


if __name__ == "__main__":
    run_stage("evaluate", main)
