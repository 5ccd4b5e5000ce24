"""A model judged the way the restoration literature judges one: whole val photos, one score each.

    table = evaluate_photos(model, [(name, clean, degraded, jpeg_quality), ...], border=0)   # one row a photo
    summary = summarize(table)                                                              # means over photos
    ladder, gate = evaluate_ladder(model, [(name, clean), ...], 0, 1, [10, 20, 90])         # one row a quality
    figures = headline({**summary, "ladder": ladder_metrics(ladder)}, trained=info)         # what runs compare on

Each photo is scored on 8-bit luma (BT.601 Y rounded, as MATLAB's ``rgb2ycbcr`` gives it for
8-bit photos, a luma model's own input), with ``border`` pixels ignored at each edge, and its PSNR
on RGB too (``rgb_*``: all three channels, what the photo shows). A luma model's output is its luma
rounded to 8 bits, as a saved photo would be, and its RGB that luma with the input's own Cb and Cr;
a colour model's output is the 8-bit RGB it restores, and its luma that photo's. PSNR, SSIM and
PSNR-B come from ``srcnn.metrics`` in float64; averages are over photos, never a PSNR of a pooled
MSE. For ``scale`` > 1 the degraded photo is the bicubic-upscaled one (``srcnn.degrade``), so
``psnr_input`` is the bicubic baseline of the SRCNN paper (when ``jpeg_quality`` is null).

A conditioned model is told each photo's compression strength: for the val photos' own
degradation, that of the JPEG quality prepare used (in its report); on the ladder, the clean val
photos are degraded afresh at each quality of ``eval_qualities`` and restored with that quality's
strength, so one table shows where the model helps and where it makes photos worse; from it the
gate (``srcnn.gate``) decides at which qualities ``enhance`` applies the model, and the ladder's
output columns show the photos as ``enhance`` restores them. Photos come in as iterables, one at a
time (the evaluate stage reads them from the prepared shards).

Of all these figures, ``headline`` keeps the few one compares runs on, the columns of ``dvc exp show``:
the val photos' PSNR gain, PSNR and SSIM gain, the worst photo's gain, the model's gain at a few
rungs of the ladder (on RGB too at one), and the training's steps, seconds and size.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd
import torch
from torch import nn

from . import metrics
from .archs import channels_of
from .color import is_gray, rgb_to_ycbcr, to_luma_u8, ycbcr_to_rgb
from .degrade import degrade, double_jpeg
from .gate import Comparison, Gate, applied_gains, beats, decide_gate, gate_rungs
from .history import told_for_jpeg
from .inference import restore_luma, restore_rgb
from .jpeg import strength_for_quality
from .progress import progress

LADDER_KEYS = (
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
)
COUNTS = frozenset({"applied", "photos_worse", "model_photos_worse"})
SUMMARY_KEYS = (
    "psnr_input",
    "psnr_output",
    "psnr_gain",
    "ssim_input",
    "ssim_output",
    "ssim_gain",
    "psnrb_input",
    "psnrb_output",
    "psnrb_gain",
    "rgb_psnr_input",
    "rgb_psnr_output",
    "rgb_psnr_gain",
)
# the rungs whose gain the headline shows: heavy, the papers' reference, medium and light compression
HEADLINE_QUALITIES = (10, 20, 40, 90)
HEADLINE_RGB_QUALITIES = (20,)  # ... and where the model's RGB gain is shown too (luma and colour models alike)
HEADLINE_KEYS = ("psnr_gain", "psnr_output", "ssim_gain", "worst_gain")
TRAINING_KEYS = ("steps", "seconds", "parameters")  # of the train stage's summary, kept in the checkpoint's info

# per photo kind, the ladder column a trained model is compared with the shipped model on, and the
# val photos' column the shipped model's headline gain is: luma for gray photos, RGB for colour ones
SHIPPED_COLUMNS = {"gray": ("model_gain", "psnr_gain"), "colour": ("rgb_model_gain", "rgb_psnr_gain")}


def judged_rows(table: pd.DataFrame, kind: str) -> pd.Series:
    """The rows of an ``evaluate_photos`` or ``ladder_gains`` table that the ``kind`` photos' model is
    judged on: every photo for the gray photos' model (on luma, and a gray photo is its luma), the
    colour photos for the colour one (``enhance`` gives it no photo with R = G = B)."""
    return table["colour"].astype(bool) if kind == "colour" else pd.Series(True, index=table.index)


# called with (photo name, clean RGB, degraded RGB, restored RGB, the photo's row) for pictures
PhotoHook = Callable[[str, np.ndarray, np.ndarray, np.ndarray, dict], None]


def score(clean_y: np.ndarray, test_y: np.ndarray, border: int) -> dict[str, float]:
    """PSNR, SSIM and PSNR-B of one luma image against the clean one."""
    return {
        "psnr": metrics.psnr(clean_y, test_y, border),
        "ssim": metrics.ssim(clean_y, test_y, border),
        "psnrb": metrics.psnr_b(clean_y, test_y, border),
    }


def restored_images(
    model: nn.Module,
    degraded: np.ndarray,
    strength: float,
    dtype: torch.dtype | None = None,
    passes: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """The model's output on a degraded H×W×3 uint8 photo, as it is scored: 8-bit luma (float64)
    and RGB (uint8), both from what ``enhance`` computes. A luma model runs on the photo's Y as
    ``restore_rgb`` converts it; its luma is that output rounded (the papers' protocol), its RGB the
    output with the photo's Cb and Cr, rounded once (``restore_rgb``'s photo, bit for bit). A colour
    model's RGB is what ``restore_rgb`` gives, its luma that photo's. ``passes``: as ``enhance
    --passes`` restores (``srcnn.inference``)."""
    if channels_of(model) == 1:
        ycbcr = rgb_to_ycbcr(degraded)
        ycbcr[..., 0] = restore_luma(model, ycbcr[..., 0], dtype=dtype, strength=strength, passes=passes)
        return np.round(ycbcr[..., 0]), ycbcr_to_rgb(ycbcr)
    restored = restore_rgb(model, degraded, dtype=dtype, strength=strength, passes=passes)
    return to_luma_u8(restored).astype(np.float64), restored


def evaluate_photos(
    model: nn.Module,
    photos: Iterable[tuple[str, np.ndarray, np.ndarray, int | None]],
    border: int,
    on_photo: PhotoHook | None = None,
    dtype: torch.dtype | None = None,
    total: int | None = None,
) -> pd.DataFrame:
    """One row per (name, clean RGB, degraded RGB, JPEG quality it was degraded at) photo: its size
    and PSNR/SSIM/PSNR-B on luma and PSNR on RGB (``rgb_psnr_*``) of the degraded input and of the
    model's output (fp32 unless ``dtype``; ``restored_images``), with the gains; a conditioned model
    is told the quality's strength. ``on_photo`` sees the images. Photos are taken one at a time,
    so memory does not grow with their number."""
    rows = []
    for name, clean, degraded, quality in progress(photos, desc="evaluate", unit="photo", total=total):
        clean_y, degraded_y = to_luma_u8(clean).astype(np.float64), to_luma_u8(degraded).astype(np.float64)
        restored_y, restored = restored_images(model, degraded, strength_for_quality(quality), dtype)
        row: dict = {"photo": name.removesuffix(".png"), "width": clean.shape[1], "height": clean.shape[0]}
        row["colour"] = not is_gray(clean)
        for label, image in (("input", degraded_y), ("output", restored_y)):
            for metric, value in score(clean_y, image, border).items():
                row[f"{metric}_{label}"] = value
        for metric in ("psnr", "ssim", "psnrb"):
            row[f"{metric}_gain"] = row[f"{metric}_output"] - row[f"{metric}_input"]
        rgb_input, rgb_output = metrics.psnr(clean, degraded, border), metrics.psnr(clean, restored, border)
        row.update(rgb_psnr_input=rgb_input, rgb_psnr_output=rgb_output, rgb_psnr_gain=rgb_output - rgb_input)
        rows.append(row)
        if on_photo is not None:
            on_photo(name, clean, degraded, restored, row)
    if not rows:
        raise FileNotFoundError("no val photos to evaluate; run the prepare stage first (dvc repro)")
    return pd.DataFrame(rows)


def pick_photos(digests: dict[str, str], count: int, seed: int) -> set[str]:
    """``count`` of the photos (name → sha256 of its bytes), the same ones in every run: those
    with the lowest hash of (seed, bytes); all of them when ``count`` is 0 or more than there are."""
    if count == 0 or count >= len(digests):
        return set(digests)
    ranked = sorted(digests, key=lambda name: hashlib.sha256(f"eval:{seed}:{digests[name]}".encode()).hexdigest())
    return set(ranked[:count])


LADDER_COLUMNS = [
    "photo",
    "rung",
    "quality",
    "strength",
    "psnr_input",
    "psnr_model",
    "ssim_input",
    "ssim_model",
    "model_gain",
    "rgb_psnr_input",
    "rgb_psnr_model",
    "rgb_model_gain",
    "colour",
]
DOUBLE_SHIFT = (4, 4)  # the double-JPEG rungs' crop between the two saves (FBCNN's non-aligned protocol)
# (sha256 of the degraded photo, its last quality) → the quality and strength enhance tells for it: the
# trained and the shipped models are scored on the same degraded photos, whose trace costs a few tenths of a second
_TOLD: dict[tuple[str, int], tuple[int, float]] = {}


def rung_name(rung: int | tuple[int, int]) -> str:
    """A ladder rung's key: ``q20`` for one JPEG at 20, ``d10_30`` for a double JPEG (10, then 30, shifted)."""
    return f"d{rung[0]}_{rung[1]}" if isinstance(rung, tuple) else f"q{rung}"


def told_quality(degraded: np.ndarray, last: int) -> tuple[int, float]:
    """The quality and strength ``enhance`` tells the model for ``degraded``, a JPEG file of quality ``last``
    (``srcnn.history.told_for_jpeg``): the key of the gate's rung that decides such a photo."""
    key = (hashlib.sha256(degraded.tobytes()).hexdigest(), last)
    if key not in _TOLD:
        _TOLD[key] = told_for_jpeg(degraded, last)[:2]
    return _TOLD[key]


def ladder_photo(
    clean: np.ndarray, scale: int, rung: int | tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, int, float]:
    """One rung's photo: the clean target, the degraded photo, and the quality and strength the model is
    told (a single JPEG's own; a double JPEG's as ``enhance`` would tell it, ``told_quality``)."""
    if isinstance(rung, tuple):
        target, degraded = double_jpeg(clean, rung[0], rung[1], DOUBLE_SHIFT)
        return (target, degraded, *told_quality(degraded, rung[1]))
    return clean, degrade(clean, scale, rung), rung, strength_for_quality(rung)


def ladder_gains(
    model: nn.Module,
    photos: Iterable[tuple[str, np.ndarray]],
    border: int,
    scale: int,
    qualities: Iterable[int],
    dtype: torch.dtype | None = None,
    total: int | None = None,
    passes: int = 1,
    doubles: Iterable[tuple[int, int]] = (),
) -> pd.DataFrame:
    """One row per (photo, rung): the clean photo degraded afresh at each JPEG quality
    (``degrade(clean, scale, quality)``), and for each ``doubles`` pair (QF1, QF2) saved at QF1,
    cropped by ``DOUBLE_SHIFT`` and saved at QF2 (the clean target cropped alike); restored with the
    strength ``enhance`` would tell, scored on luma and on RGB.

    Columns: photo, rung (``rung_name``), quality (the one ``enhance`` restores the photo as, by
    which the gate decides: a double JPEG's by its table and pixels), strength, psnr_input, psnr_model,
    ssim_input, ssim_model, model_gain (the PSNR gain of the model's output, whether or not ``enhance``
    would apply it there), rgb_psnr_input, rgb_psnr_model, rgb_model_gain (the same on RGB), colour
    (whether the photo has colour: ``enhance`` gives those to the colour model, the others, R = G = B,
    to the gray photos' one). ``passes`` as in ``restored_images``."""
    pairs = dict.fromkeys((int(first), int(second)) for first, second in doubles)
    rungs: list[int | tuple[int, int]] = [*dict.fromkeys(qualities), *pairs]
    rows = []
    for name, photo in progress(photos, desc="evaluate ladder", unit="photo", total=total):
        colour = not is_gray(photo)
        for rung in rungs:
            clean, degraded, quality, strength = ladder_photo(photo, scale, rung)
            clean_y, degraded_y = (to_luma_u8(image).astype(np.float64) for image in (clean, degraded))
            model_y, model_rgb = restored_images(model, degraded, strength, dtype, passes)
            psnr_input, psnr_model = metrics.psnr(clean_y, degraded_y, border), metrics.psnr(clean_y, model_y, border)
            rgb_input, rgb_model = metrics.psnr(clean, degraded, border), metrics.psnr(clean, model_rgb, border)
            rows.append(
                {
                    "photo": name,
                    "rung": rung_name(rung),
                    "quality": quality,
                    "strength": strength,
                    "psnr_input": psnr_input,
                    "psnr_model": psnr_model,
                    "ssim_input": metrics.ssim(clean_y, degraded_y, border),
                    "ssim_model": metrics.ssim(clean_y, model_y, border),
                    "model_gain": psnr_model - psnr_input,
                    "rgb_psnr_input": rgb_input,
                    "rgb_psnr_model": rgb_model,
                    "rgb_model_gain": rgb_model - rgb_input,
                    "colour": colour,
                }
            )
    return pd.DataFrame(rows, columns=LADDER_COLUMNS)


def ladder_table(gains: pd.DataFrame, gate: Gate) -> pd.DataFrame:
    """One row per rung of ``ladder_gains``' results, the photos restored as ``enhance`` restores
    them: by the model where ``gate`` allows the quality it tells for the photo, else left unchanged.

    Columns: rung, quality (a double JPEG's: the one ``enhance`` tells for most of its photos),
    strength, ``applied`` (whether the model runs on every photo of the rung), photos, the means over
    photos of PSNR and SSIM of input and output and of the PSNR gain, ``photos_worse`` (photos whose
    PSNR gain is below 0), ``worst_gain`` (the smallest PSNR gain of any photo), and the model's own
    figures, also where it is not applied: ``model_gain`` (mean), ``model_photos_worse`` and
    ``model_worst_gain``; then on RGB: ``rgb_psnr_input``, ``rgb_psnr_output``, ``rgb_psnr_gain`` (as
    ``enhance`` restores them) and ``rgb_model_gain``.
    """
    rows = []
    for rung, photos in gains.groupby("rung", sort=False):
        applied = photos["quality"].map(gate.allows).astype(bool)
        output = photos["psnr_model"].where(applied, photos["psnr_input"])
        gain = output - photos["psnr_input"]
        rgb_output = photos["rgb_psnr_model"].where(applied, photos["rgb_psnr_input"])
        quality = int(photos["quality"].mode().min())
        rows.append(
            {
                "rung": rung,
                "quality": quality,
                "strength": round(strength_for_quality(quality), 4),
                "applied": bool(applied.all()),
                "photos": len(photos),
                "psnr_input": photos["psnr_input"].mean(),
                "psnr_output": output.mean(),
                "psnr_gain": gain.mean(),
                "ssim_input": photos["ssim_input"].mean(),
                "ssim_output": photos["ssim_model"].where(applied, photos["ssim_input"]).mean(),
                "photos_worse": int((gain < 0).sum()),
                "worst_gain": gain.min(),
                "model_gain": photos["model_gain"].mean(),
                "model_photos_worse": int((photos["model_gain"] < 0).sum()),
                "model_worst_gain": photos["model_gain"].min(),
                "rgb_psnr_input": photos["rgb_psnr_input"].mean(),
                "rgb_psnr_output": rgb_output.mean(),
                "rgb_psnr_gain": (rgb_output - photos["rgb_psnr_input"]).mean(),
                "rgb_model_gain": photos["rgb_model_gain"].mean(),
            }
        )
    return pd.DataFrame(rows)


def evaluate_ladder(
    model: nn.Module,
    photos: Iterable[tuple[str, np.ndarray]],
    border: int,
    scale: int,
    qualities: Iterable[int],
    dtype: torch.dtype | None = None,
    total: int | None = None,
    trained: tuple[int, int] | None = None,
    gate: Gate | None = None,
    doubles: Iterable[tuple[int, int]] = (),
) -> tuple[pd.DataFrame, Gate]:
    """The ladder of ``photos`` (``ladder_table``) and the gate it was restored under: ``gate`` when
    given (one decided on other photos), else the one these photos decide (``srcnn.gate``), as the
    evaluate stage decides it for ``enhance``."""
    gains = ladder_gains(model, photos, border, scale, qualities, dtype=dtype, total=total, doubles=doubles)
    gate = gate or decide_gate(gains, trained)
    return ladder_table(gains, gate), gate


def ladder_metrics(ladder: pd.DataFrame) -> dict[str, dict[str, float | int]]:
    """The ladder as nested metrics, ``{"q10": {"psnr_gain": ..., ...}, "d10_30": {...}, ...}``, rounded like
    the summary; a double JPEG's rung also says the quality ``enhance`` tells for most of its photos."""
    nested = {}
    for row in ladder.to_dict("records"):
        values = {key: int(row[key]) if key in COUNTS else round(float(row[key]), 4) for key in LADDER_KEYS}
        bad = [key for key, value in values.items() if not math.isfinite(value)]
        if bad:
            raise ValueError(f"the ladder at rung {row['rung']} gave non-finite {', '.join(bad)}")
        if not str(row["rung"]).startswith("q"):
            values["told_quality"] = int(row["quality"])
        nested[str(row["rung"])] = values
    return nested


def summarize(table: pd.DataFrame) -> dict[str, float | int]:
    """Means over photos of every score, the smallest PSNR gain of a photo (``worst_gain``) and the
    counts; finite values only (ValueError otherwise)."""
    summary: dict[str, float | int] = {key: round(float(table[key].mean()), 4) for key in SUMMARY_KEYS}
    summary.update(
        worst_gain=round(float(table["psnr_gain"].min()), 4),
        photos=len(table),
        pixels=int((table["width"] * table["height"]).sum()),
    )
    bad = [key for key, value in summary.items() if not math.isfinite(value)]
    if bad:
        raise ValueError(f"evaluation gave non-finite {', '.join(bad)}")
    return summary


def headline(evaluation: dict, trained: dict) -> dict[str, float | int]:
    """The figures runs are compared on, from the evaluation (``summarize``'s, with ``ladder_metrics``'
    under "ladder") and the checkpoint's ``info`` (the train stage's summary): ``HEADLINE_KEYS``, the
    model's own PSNR gain at each rung of ``HEADLINE_QUALITIES`` on the ladder (``q20_gain``; also
    where ``enhance`` leaves such photos unchanged), its RGB PSNR gain at those of
    ``HEADLINE_RGB_QUALITIES`` (``q20_rgb_gain``), and ``TRAINING_KEYS`` that ``trained`` holds.
    Flat, and named apart from every param, so that ``dvc exp show`` heads each column with its name
    alone."""
    figures = {key: evaluation[key] for key in HEADLINE_KEYS}
    rungs = evaluation.get("ladder", {})
    figures.update(
        {
            f"q{quality}_gain": rungs[f"q{quality}"]["model_gain"]
            for quality in HEADLINE_QUALITIES
            if f"q{quality}" in rungs
        }
    )
    figures.update(
        {
            f"q{quality}_rgb_gain": rungs[f"q{quality}"]["rgb_model_gain"]
            for quality in HEADLINE_RGB_QUALITIES
            if f"q{quality}" in rungs
        }
    )
    figures.update({key: trained[key] for key in TRAINING_KEYS if key in trained})
    return figures


def compare_with_shipped(
    ours: pd.DataFrame, our_gate: Gate, shipped: dict[str, tuple[str, str, pd.DataFrame, Gate]]
) -> tuple[dict[str, Comparison], dict[str, dict]]:
    """Per photo kind, where the trained model (its ``ladder_gains`` results ``ours``, applied under
    ``our_gate``) beat the shipped model (kind → its path, sha256, ``ladder_gains`` results on the photos
    of ``ours`` that kind is judged on, ``judged_rows``, at the same qualities, and its own gate), both as
    ``enhance`` applies them (``srcnn.gate.beats``; no such photo: beaten nowhere); and the figures
    behind each verdict: the photos, and per rung both mean gains and the verdict."""
    comparisons, figures, same = {}, {}, ["photo", "rung", "quality"]
    for kind, (path, sha256, theirs, their_gate) in shipped.items():
        mine_rows, column = ours[judged_rows(ours, kind)], SHIPPED_COLUMNS[kind][0]
        if [*mine_rows[same].itertuples(index=False)] != [*theirs[same].itertuples(index=False)]:
            raise ValueError(f"the shipped model {path} was scored on other photos or qualities than the trained one")
        their_rows = theirs.set_axis(mine_rows.index)
        mine, its = applied_gains(mine_rows, our_gate, column), applied_gains(their_rows, their_gate, column)
        keys = gate_rungs(mine_rows)
        beaten = beats(mine, its, keys) if len(mine_rows) else {}
        comparisons[kind] = Comparison(path, sha256, beaten)
        by_rung = pd.DataFrame({"mine": mine, "its": its}).groupby(mine_rows["rung"], sort=False)
        figures[kind] = {
            "model": path,
            "photos": int(mine_rows["photo"].nunique()),
            "ladder": {
                str(rung): {
                    "gain": round(float(rows["mine"].mean()), 4),
                    "shipped_gain": round(float(rows["its"].mean()), 4),
                    "beaten": all(beaten[int(key)] for key in keys[keys.index.isin(rows.index)]),
                }
                for rung, rows in by_rung
            },
        }
    return comparisons, figures


def shipped_headline(shipped_gains: dict[str, tuple[float, float]]) -> dict[str, float]:
    """The headline figures of the comparison with the shipped models (photo kind → the trained and the
    shipped model's mean gain on the val photos that kind is judged on, ``SHIPPED_COLUMNS``):
    ``shipped_model`` and ``gain_over_shipped`` on luma (the gray photos' model), ``shipped_rgb_model``
    and ``rgb_gain_over_shipped`` on RGB (the colour photos' model); > 0: training on these photos helped."""
    figures = {}
    for kind, prefix in (("gray", ""), ("colour", "rgb_")):
        if kind in shipped_gains:
            ours, theirs = (round(gain, 4) for gain in shipped_gains[kind])
            figures.update({f"shipped_{prefix}model": theirs, f"{prefix}gain_over_shipped": round(ours - theirs, 4)})
    return figures
