"""The evaluation library: per-photo scores averaged over photos, the bicubic baseline, the border."""

from __future__ import annotations

import json
import math
import sys
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from conftest import dvc, run, synthetic_photo
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio

from srcnn import metrics
from srcnn.archs import SRCNN
from srcnn.color import to_luma_u8
from srcnn.degrade import bicubic_down_up, degrade
from srcnn.evaluation import (
    SUMMARY_KEYS,
    evaluate_ladder,
    evaluate_photos,
    headline,
    ladder_metrics,
    pick_photos,
    summarize,
)
from srcnn.gate import Gate
from srcnn.inference import save_model
from srcnn.jpeg import strength_for_quality
from srcnn.params import DEFAULTS, load_params


def identity_model() -> SRCNN:
    """A residual SRCNN whose correction is exactly zero: its output is its input."""
    model = SRCNN(5, 1, 3, 4, 4, residual=True)
    torch.nn.init.zeros_(model.reconstruct.weight)
    return model.eval()


def write_val(cleans: list[np.ndarray], scale: int = 1, jpeg_quality: int | None = None) -> list:
    """Val photos as the evaluate stage hands them over: (name, clean RGB, degraded RGB, JPEG quality)."""
    return [
        (f"p{number}.png", clean, degrade(clean, scale, jpeg_quality), jpeg_quality)
        for number, clean in enumerate(cleans)
    ]


def test_super_resolution_input_is_the_bicubic_baseline_with_the_scale_border(tmp_path):
    clean = synthetic_photo(0, 64, 96)
    val = write_val([clean], scale=2)
    row = evaluate_photos(identity_model(), val, border=2).iloc[0]
    clean_y = to_luma_u8(clean).astype(np.float64)
    bicubic_y = to_luma_u8(bicubic_down_up(clean, 2)).astype(np.float64)
    expected = peak_signal_noise_ratio(clean_y[2:-2, 2:-2], bicubic_y[2:-2, 2:-2], data_range=255)
    assert abs(row["psnr_input"] - expected) < 1e-9
    assert row["psnr_input"] != metrics.psnr(clean_y, bicubic_y, 0)  # the border matters
    # the identity model gives back its input: no gain, to the last digit
    assert row["psnr_output"] == row["psnr_input"] and row["ssim_gain"] == 0 and row["psnrb_gain"] == 0


def test_scores_are_averaged_over_photos_not_pooled(tmp_path):
    smooth = np.full((48, 48, 3), 120, dtype=np.uint8)
    busy = synthetic_photo(1, 48, 48)
    val = write_val([smooth, busy], jpeg_quality=10)
    table = evaluate_photos(identity_model(), val, border=0)
    summary = summarize(table)
    assert list(table["photo"]) == ["p0", "p1"] and summary["photos"] == 2 and summary["pixels"] == 2 * 48 * 48
    assert summary["psnr_input"] == round(float(table["psnr_input"].mean()), 4)
    pooled_mse = np.mean([10 ** (-value / 10) * 255**2 for value in table["psnr_input"]])
    assert abs(summary["psnr_input"] - 10 * math.log10(255**2 / pooled_mse)) > 0.5
    assert all(math.isfinite(value) for value in summary.values())


def test_on_photo_sees_the_restored_colour_photo(tmp_path):
    val = write_val([synthetic_photo(2, 40, 56)], jpeg_quality=30)
    seen = []
    evaluate_photos(
        identity_model(),
        val,
        0,
        on_photo=lambda name, clean, degraded, restored, row: seen.append(
            (name, clean.shape, restored.shape, row["photo"])
        ),
    )
    assert seen == [("p0.png", (40, 56, 3), (40, 56, 3), "p0")]


def test_summary_refuses_non_finite_values():
    table = pd.DataFrame([{key: 1.0 for key in SUMMARY_KEYS}])
    table["width"], table["height"] = 8, 8
    assert summarize(table)["psnr_input"] == 1.0
    table.loc[0, "psnr_output"] = float("nan")
    with pytest.raises(ValueError, match="psnr_output"):
        summarize(table)


def test_missing_val_photos_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="prepare stage"):
        evaluate_photos(identity_model(), [], 0)


def test_the_photos_scored_are_capped_and_the_same_in_every_run():
    digests = {f"p{number}.png": f"{number:064x}" for number in range(50)}
    chosen = pick_photos(digests, 10, seed=0)
    assert len(chosen) == 10 and chosen == pick_photos(dict(reversed(digests.items())), 10, seed=0)
    assert pick_photos({**digests, "new.png": "f" * 64}, 10, seed=0) - chosen <= {"new.png"}
    assert pick_photos(digests, 0, seed=0) == set(digests) == pick_photos(digests, 99, seed=0)


def test_the_ladder_degrades_the_clean_photos_at_each_quality(tmp_path):
    cleans = [synthetic_photo(3, 40, 48), synthetic_photo(4, 40, 48)]
    ladder, gate = evaluate_ladder(identity_model(), [("a", cleans[0]), ("b", cleans[1])], 0, 1, [10, 50, 90])
    assert gate.unsafe() == [10, 50, 90]  # a model that gains nothing is not worth running anywhere
    assert list(ladder["quality"]) == [10, 50, 90] and list(ladder["photos"]) == [2, 2, 2]
    expected = np.mean(
        [
            metrics.psnr(to_luma_u8(clean).astype(np.float64), to_luma_u8(degrade(clean, 1, 10)).astype(np.float64), 0)
            for clean in cleans
        ]
    )
    assert abs(ladder["psnr_input"].iloc[0] - expected) < 1e-9
    assert ladder["psnr_input"].is_monotonic_increasing  # better quality, better input
    assert (
        (ladder["psnr_gain"] == 0).all() and (ladder["photos_worse"] == 0).all() and (ladder["worst_gain"] == 0).all()
    )
    assert list(ladder["strength"]) == [round(strength_for_quality(q), 4) for q in (10, 50, 90)]
    nested = ladder_metrics(ladder)
    assert list(nested) == ["q10", "q50", "q90"]
    assert set(nested["q10"]) == {
        "applied",
        "psnr_input",
        "psnr_output",
        "psnr_gain",
        "ssim_input",
        "ssim_output",
        "photos_worse",
        "worst_gain",
        "model_gain",
        "model_photos_worse",
        "model_worst_gain",
        "rgb_psnr_input",
        "rgb_psnr_output",
        "rgb_psnr_gain",
        "rgb_model_gain",
    }
    # on RGB too: the degraded photos as they are, all three channels
    rgb = np.mean([metrics.psnr(clean, degrade(clean, 1, 10)) for clean in cleans])
    assert abs(ladder["rgb_psnr_input"].iloc[0] - rgb) < 1e-9 and rgb < expected


def test_the_ladder_counts_photos_made_worse_and_tells_a_conditioned_model_each_strength(tmp_path):
    val = [("a", synthetic_photo(5, 40, 48)), ("b", synthetic_photo(6, 40, 48))]
    seen = []

    class Spy(torch.nn.Module):
        conditioned, radius = True, 0

        def forward(self, x, strength):
            seen.append(float(strength))
            return (x + 0.05).clamp(0, 1)  # brighter: worse for every photo

    ladder, gate = evaluate_ladder(Spy(), val, 0, 1, [20, 80], gate=Gate(None, {}))  # a gate that allows all
    assert sorted(set(seen)) == sorted({strength_for_quality(20), strength_for_quality(80)})
    assert list(ladder["photos_worse"]) == [2, 2] and (ladder["worst_gain"] < 0).all()
    assert list(ladder["model_photos_worse"]) == [2, 2] and (ladder["model_worst_gain"] == ladder["worst_gain"]).all()


def test_val_photos_are_restored_with_the_strength_of_the_quality_prepare_used():
    seen = []

    class Spy(torch.nn.Module):
        conditioned, radius = True, 0

        def forward(self, x, strength):
            seen.append(float(strength))
            return x

    val = write_val([synthetic_photo(7, 40, 48)], jpeg_quality=30) + [
        ("png.png", synthetic_photo(8, 40, 48), synthetic_photo(8, 40, 48), None)
    ]
    table = evaluate_photos(Spy(), val, 0)
    assert seen == [strength_for_quality(30), strength_for_quality(None)] and (table["psnr_gain"] == 0).all()


def test_the_evaluate_stage_writes_the_ladder(make_project):
    project = make_project(eval_qualities=[20, 90], jpeg_quality=[10, 95], eval_photos=1, eval_doubles=[])
    for stage in ("prepare", "tile"):
        run([sys.executable, "-m", f"stages.{stage}"], cwd=project)
    params = load_params(project / "params.yaml")
    torch.manual_seed(0)
    save_model(project / "models" / "srcnn.pt", SRCNN.from_params(params), info={"params": vars(params)})
    result = run([sys.executable, "-m", "stages.evaluate"], cwd=project)
    assert "JPEG q20–q90: model gain" in result.stdout
    scores = json.loads((project / "metrics" / "eval.json").read_text())
    assert scores["shipped"]["colour"]["photos"] == scores["shipped"]["gray"]["photos"] == 1  # a colour photo
    assert list(scores["ladder"]) == ["q20", "q90"] and scores["photos"] == 1 and scores["val_photos"] >= 1
    assert scores["ladder"]["q90"]["psnr_input"] > scores["ladder"]["q20"]["psnr_input"]
    ladder = pd.read_csv(project / "metrics" / "eval_ladder.csv")
    assert list(ladder["quality"]) == [20, 90] and "photos_worse" in ladder.columns
    gate = json.loads((project / "models" / "srcnn.ladder.json").read_text())
    assert gate["rungs"].keys() == {"20", "90"} and gate["trained"] == [10, 95]
    assert "enhance restores JPEGs near" in result.stdout and "(models/srcnn.ladder.json)" in result.stdout
    # the metrics are the headline: the ladder's rungs among HEADLINE_QUALITIES, no training figures
    # (this checkpoint's info has none); the whole evaluation is one --targets away
    shown = json.loads(dvc("metrics", "show", "--json", cwd=project).stdout)
    metrics = {path: file["data"] for row in shown.values() for path, file in row["data"].items()}
    assert list(metrics) == ["metrics/summary.json"], metrics
    assert list(metrics["metrics/summary.json"]) == [
        "psnr_gain",
        "psnr_output",
        "ssim_gain",
        "worst_gain",
        "q20_gain",
        "q90_gain",
        "q20_rgb_gain",
        "shipped_model",  # the shipped models on the same val photos: did training on these photos help?
        "gain_over_shipped",
        "shipped_rgb_model",
        "rgb_gain_over_shipped",
    ]
    assert metrics["metrics/summary.json"]["q90_gain"] == scores["ladder"]["q90"]["model_gain"]
    detail = dvc("metrics", "show", "--json", "metrics/eval.json", cwd=project).stdout
    assert '"q90"' in detail and '"model_worst_gain"' in detail
    plots = json.loads(dvc("plots", "show", "--json", "metrics/eval_ladder.csv", cwd=project).stdout)
    assert "metrics/eval_ladder.csv" in json.dumps(plots)


def test_the_colour_model_is_judged_on_colour_val_photos_only(make_project):
    """enhance restores a photo with R = G = B with the gray photos' model, even in an RGB file."""
    project = make_project(eval_qualities=[20], jpeg_quality=[10, 95], eval_photos=0, eval_doubles=[])
    for path in (project / "photos").iterdir():
        gray = np.asarray(Image.open(path).convert("L"))
        Image.fromarray(np.stack([gray] * 3, axis=-1)).save(path)  # still an RGB file
    for stage in ("prepare", "tile"):
        run([sys.executable, "-m", f"stages.{stage}"], cwd=project)
    params = load_params(project / "params.yaml")
    save_model(project / "models" / "srcnn.pt", SRCNN.from_params(params), info={"params": vars(params)})
    result = run([sys.executable, "-m", "stages.evaluate"], cwd=project)
    shipped = json.loads((project / "metrics" / "eval.json").read_text())["shipped"]
    assert shipped["colour"] == {"model": "models/pretrained/restorer-colour.pt", "photos": 0, "ladder": {}}
    assert shipped["gray"]["photos"] >= 1 and list(shipped["gray"]["ladder"]) == ["q20"]
    summary = json.loads((project / "metrics" / "summary.json").read_text())
    assert "gain_over_shipped" in summary and "rgb_gain_over_shipped" not in summary
    assert "no colour photos" in result.stdout


def test_the_headline_keeps_the_figures_runs_are_compared_on_under_names_of_their_own():
    smooth, busy = np.full((40, 48, 3), 120, dtype=np.uint8), synthetic_photo(2, 40, 48)
    table = evaluate_photos(identity_model(), write_val([smooth, busy], jpeg_quality=20), border=0)
    table.loc[1, "psnr_gain"] = -0.5  # a photo made worse
    ladder, _ = evaluate_ladder(identity_model(), [("a", busy)], 0, 1, [10, 20, 30, 90], gate=Gate(None, {}))
    evaluation: dict[str, Any] = {**summarize(table), "ladder": ladder_metrics(ladder)}
    trained = {"params": {"lr": 0.001}, "epochs": 2, "steps": 6, "loss": 0.01, "seconds": 3.5, "parameters": 481}
    figures = headline(evaluation, trained)
    assert list(figures) == [
        "psnr_gain",
        "psnr_output",
        "ssim_gain",
        "worst_gain",
        "q10_gain",
        "q20_gain",
        "q90_gain",
        "q20_rgb_gain",
        "steps",
        "seconds",
        "parameters",
    ]  # q30 is not a headline rung, q40 not on this ladder
    assert figures["worst_gain"] == evaluation["worst_gain"] == -0.5 and figures["seconds"] == 3.5
    assert figures["q20_gain"] == evaluation["ladder"]["q20"]["model_gain"]
    assert figures["q20_rgb_gain"] == evaluation["ladder"]["q20"]["rgb_model_gain"]
    assert list(headline(evaluation, {})) == list(figures)[:8]  # a checkpoint that does not say how it was trained
    # a figure named like a param would be headed "metrics/summary.json:NAME" in `dvc exp show`
    assert not set(figures) & set(yaml.safe_load(DEFAULTS.read_text()))


def test_the_ladder_leaves_qualities_outside_the_trained_range_unchanged_as_enhance_does():
    class Brighter(torch.nn.Module):
        conditioned, radius = True, 0

        def forward(self, x, strength):
            return (x + 0.05).clamp(0, 1)  # worse for every photo

    val = [("a", synthetic_photo(5, 40, 48)), ("b", synthetic_photo(6, 40, 48))]
    ladder, _ = evaluate_ladder(Brighter(), val, 0, 1, [20, 90, 95], trained=(10, 90), gate=Gate((10, 90), {}))
    assert list(ladder["applied"]) == [True, True, False]
    outside = ladder.iloc[2]
    assert outside["psnr_gain"] == 0 and outside["photos_worse"] == 0  # left unchanged, as enhance leaves it
    assert outside["model_gain"] < 0 and ladder.iloc[1]["psnr_gain"] == ladder.iloc[1]["model_gain"] < 0


class Sharpener(torch.nn.Module):
    """Undoes part of the JPEG loss of strong compression (it is told the strength): a model that
    helps at low qualities and makes photos worse at high ones, as trained ones can."""

    conditioned, radius = True, 0

    def __init__(self, clean_of: dict) -> None:
        super().__init__()
        self.clean_of = clean_of

    def forward(self, x, strength):
        clean = self.clean_of.get(tuple(x.shape[-2:]))
        if float(strength) > 0.65:  # quality below 30: halfway to the clean photo
            return x + 0.5 * (clean - x)
        return (x + 0.02).clamp(0, 1)  # above: a little brighter, worse


def test_the_gate_restores_only_where_the_ladder_found_the_model_safe():
    from srcnn.gate import MIN_PHOTO_GAIN_DB, decide_gate

    photos = [("a", synthetic_photo(5, 40, 48)), ("b", synthetic_photo(6, 40, 56))]
    clean_of = {
        clean.shape[:2]: torch.from_numpy(to_luma_u8(clean).astype(np.float32) / 255)[None, None] for _, clean in photos
    }
    ladder, gate = evaluate_ladder(Sharpener(clean_of), photos, 0, 1, [10, 20, 40, 90], trained=(10, 90))
    assert gate.rungs == {10: True, 20: True, 40: False, 90: False}
    assert list(ladder["applied"]) == [True, True, False, False]
    assert (ladder["psnr_gain"].iloc[:2] > 1).all() and (ladder["psnr_gain"].iloc[2:] == 0).all()
    assert (ladder["model_gain"].iloc[2:] < 0).all() and (ladder["model_photos_worse"].iloc[2:] == 2).all()
    # between rungs both sides decide; near a rung (±2) that rung; outside the trained range never
    assert gate.allows(9) and gate.allows(15) and not gate.allows(30) and gate.allows(22) and not gate.allows(38)
    assert not gate.allows(5) and not gate.allows(95)  # outside the trained range
    assert not Gate((1, 100), {20: True, 40: True}).allows(60)  # beyond the ladder: never measured
    # the rule itself: at least 0.1 dB on every photo, whatever the mean
    gains = pd.DataFrame(
        {
            "quality": [50, 50, 60, 60, 70, 70],
            "model_gain": [1.0, MIN_PHOTO_GAIN_DB - 0.01, 0.5, MIN_PHOTO_GAIN_DB, 2.0, -0.05],
        }
    )
    assert decide_gate(gains, None).rungs == {50: False, 60: True, 70: False}


class WorseOnDoubles(Sharpener):
    """Halfway to the clean photo wherever it knows it (the whole photo: single JPEGs), a little
    brighter, worse, elsewhere (the photo cropped between two saves: double JPEGs)."""

    def forward(self, x, strength):
        clean = self.clean_of.get(tuple(x.shape[-2:]))
        return x + 0.5 * (clean - x) if clean is not None else (x + 0.02).clamp(0, 1)


def test_double_jpeg_rungs_are_scored_and_a_loss_there_closes_the_rung_that_decides_them():
    photos = [("a", synthetic_photo(5, 40, 48)), ("b", synthetic_photo(6, 40, 56))]
    clean_of = {
        clean.shape[:2]: torch.from_numpy(to_luma_u8(clean).astype(np.float32) / 255)[None, None] for _, clean in photos
    }
    model = WorseOnDoubles(clean_of)
    _, alone = evaluate_ladder(model, photos, 0, 1, [10, 30, 60], trained=(10, 90))
    assert alone.rungs == {10: True, 30: True, 60: True}
    # saved at 60, cropped by (4, 4), saved at 10: enhance tells quality 10 (its table), and there the model loses
    ladder, gate = evaluate_ladder(model, photos, 0, 1, [10, 30, 60], trained=(10, 90), doubles=[(60, 10)])
    assert gate.rungs == {10: False, 30: True, 60: True} and gate.photos == 2
    assert list(ladder["rung"]) == ["q10", "q30", "q60", "d60_10"]
    double = ladder.iloc[3]
    assert double["quality"] == 10 and not double["applied"] and double["model_photos_worse"] == 2
    assert double["psnr_gain"] == 0 and double["photos_worse"] == 0  # never worse: left unchanged
    assert 20 < double["psnr_input"] < ladder.iloc[2]["psnr_input"]  # against the clean photo cropped alike
    nested = ladder_metrics(ladder)
    assert list(nested) == ["q10", "q30", "q60", "d60_10"] and nested["d60_10"]["told_quality"] == 10


def test_the_evaluate_stage_stops_naming_what_is_missing_before_train_or_tile_have_written_it(make_project):
    """Run right after a tile or train stage that was killed (or never ran): an error naming the
    missing input and the stage that writes it, no traceback, nothing written."""
    project = make_project()
    run([sys.executable, "-m", "stages.prepare"], cwd=project)
    for missing, writer in (("data/tiles", "tile"), ("models/srcnn.pt", "train")):
        result = run([sys.executable, "-m", "stages.evaluate"], cwd=project, check=False)
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        assert (
            result.stderr.startswith(f"evaluate: error: {missing}") and f"run the {writer} stage first" in result.stderr
        )
        written = [
            path
            for path in (
                "metrics/eval.json",
                "metrics/eval_photos.csv",
                "plots/before_after",
                "models/srcnn.ladder.json",
            )
            if (project / path).exists()
        ]
        assert not written and not list((project / "plots").glob(".before_after*"))
        run([sys.executable, "-m", "stages.tile"], cwd=project)
