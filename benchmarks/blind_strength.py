"""Can a small network tell, from a JPEG's pixels alone, how strongly to restore it when a resize
has hidden its grid? A measurement of a blind strength predictor (FBCNN predicts its quality factor
beside its restorer), not part of ``enhance``.

    python -m benchmarks.blind_strength /work/shared/benchmark/urban40 /work/shared/benchmark/train400 \
        --test /work/shared/benchmark/set5 /work/shared/benchmark/set14

Clean training photos travel as the photos ``enhance`` would ask a predictor about do (a JPEG
file of quality 60–95 whose pixels show no older grid: saved once, or resized after an earlier,
stronger save or none); each journey's crops are labelled with the quality, among ``CANDIDATES``,
at which the shipped luma restorer gains the most PSNR on them (its oracle). A ``StrengthNet``
learns the label from a crop's degraded luma; a photo's estimate is the median over its busiest
windows. Printed: the error on held-out windows against a constant guess; then, for the test photos
saved once at 90 and resized between a save at 30 and one at 90, each photo's estimate, the
quality that is best for it, and the mean luma gain told the table's 90, told the estimate where it
is ``MARGIN`` below 90, and told the best. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn

from benchmarks.onnx_speed import cpu_name
from srcnn import metrics
from srcnn.color import to_luma_u8
from srcnn.degrade import RESAMPLING, Journey, travel
from srcnn.images import load_rgb
from srcnn.inference import load_model
from srcnn.jpeg import strength_for_quality
from srcnn.photos import list_photo_files

RESTORER = Path("models/pretrained/restorer.pt")
WINDOW = 64  # px of luma the network looks at
WINDOWS = 16  # the busiest windows of a photo it is asked about
HELD_OUT = 200  # labelled windows kept from training, to score it on


class StrengthNet(nn.Module):
    """3×3 convolutions (the last four strided), each with batch normalisation and a ReLU, a global
    mean and a linear layer: one number per luma window, the JPEG quality / 100 its restorer restores
    it best at.

    Args:
        features: feature maps of the first convolution; doubled once, after the first stride.
    """

    def __init__(self, features: int = 16) -> None:
        super().__init__()
        self.features = features
        layers: list[nn.Module] = []
        widths = (1, features, features, features * 2, features * 2, features * 2)
        for index, (inputs, outputs) in enumerate(zip(widths, widths[1:], strict=False)):
            stride = 1 if index == 0 else 2
            layers += [nn.Conv2d(inputs, outputs, 3, stride=stride, padding=1), nn.BatchNorm2d(outputs), nn.ReLU()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(widths[-1], 1)

    def forward(self, luma: torch.Tensor) -> torch.Tensor:
        """N×1×H×W luma in [0, 1] → N qualities / 100 (each window's own mean level taken away first)."""
        centred = luma - luma.mean(dim=(-2, -1), keepdim=True)
        return self.head(self.body(centred).mean(dim=(-2, -1)))[:, 0]


def busiest_windows(luma: np.ndarray, count: int = WINDOWS, side: int = WINDOW) -> np.ndarray:
    """Up to ``count`` side×side windows of ``luma`` (H×W) on a grid of stride ``side``, those with the
    largest spread of levels first (a flat sky shows no compression); count×side×side out."""
    height, width = luma.shape
    spots = [(top, left) for top in range(0, height - side + 1, side) for left in range(0, width - side + 1, side)]
    windows = np.stack([luma[top : top + side, left : left + side] for top, left in spots]) if spots else None
    if windows is None:
        return np.empty((0, side, side), dtype=luma.dtype)
    spread = windows.reshape(len(windows), -1).std(axis=1)
    return windows[np.argsort(-spread, kind="stable")[:count]]


@torch.inference_mode()
def predict_quality(predictor: StrengthNet, luma: np.ndarray) -> float | None:
    """The JPEG quality to tell the restorer for a photo of luma ``luma`` (H×W, 0–255): the median
    over its busiest windows; None for a photo smaller than one window."""
    windows = busiest_windows(np.asarray(luma))
    if not len(windows):
        return None
    batch = torch.from_numpy(windows.astype(np.float32) / 255.0)[:, None]
    return float(np.clip(np.median(predictor.eval()(batch).numpy()) * 100.0, 1.0, 100.0))


CANDIDATES = (10, 15, 20, 25, 30, 40, 50, 60, 70, 80, 90)  # the qualities a crop's label is chosen from
BORDER = 8  # px around each predictor window that the restorer reads but the oracle does not score
CROP = WINDOW + 2 * BORDER
LABEL_BATCH = 64


def training_journey(draw: np.random.Generator) -> Journey:
    """A journey of the photos ``enhance`` would ask a predictor about (a JPEG file of quality 60–95 whose
    pixels show no older grid): saved once; or resized to 50–90 % and then saved, after an earlier save
    at 10 to 10 below the last one, or none (quality 100)."""
    last = int(draw.integers(60, 96))
    kind = str(draw.choice(["single", "single", "resized", "resized", "resized clean"]))
    if kind == "single":
        return Journey("single", (last,))
    first = 100 if kind == "resized clean" else int(draw.integers(10, last - 9))
    factor = round(float(draw.uniform(0.5, 0.9)), 3)
    return Journey("resized", (first, last), resize=factor, resampling=str(draw.choice(sorted(RESAMPLING))))


def travelled_crops(
    photos: list[Path], journeys: int, crops: int, seed: int
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """(journey number, clean, degraded) luma crops of CROP px: ``journeys`` journeys per photo,
    ``crops`` of the busiest crops of each (at even offsets, the restorer's fold grid)."""
    number = 0
    draw = np.random.default_rng(seed)
    for path in photos:
        rgb = load_rgb(path)
        for _ in range(journeys):
            clean, degraded = (to_luma_u8(each) for each in travel(rgb, training_journey(draw)))
            number += 1
            height, width = clean.shape
            if min(height, width) < CROP:
                break
            spots = [
                (
                    int(draw.integers(0, (height - CROP) // 2 + 1)) * 2,
                    int(draw.integers(0, (width - CROP) // 2 + 1)) * 2,
                )
                for _ in range(crops * 3)
            ]
            spread = [clean[top : top + CROP, left : left + CROP].std() for top, left in spots]
            for index in np.argsort(spread)[::-1][:crops]:
                top, left = spots[index]
                yield (
                    number,
                    clean[top : top + CROP, left : left + CROP],
                    degraded[top : top + CROP, left : left + CROP],
                )


@torch.inference_mode()
def oracle_gains(restorer: torch.nn.Module, clean: np.ndarray, degraded: np.ndarray) -> np.ndarray:
    """N×len(CANDIDATES): the restorer's PSNR gain (dB, inside the border, 8-bit output) on each crop
    when told each candidate quality."""
    source = torch.from_numpy(degraded.astype(np.float32) / 255.0)[:, None].contiguous(
        memory_format=torch.channels_last
    )
    targets, inputs = clean.astype(np.float64), degraded.astype(np.float64)
    before = [metrics.psnr(target, given, BORDER) for target, given in zip(targets, inputs, strict=True)]
    gains = np.empty((len(clean), len(CANDIDATES)))
    for column, quality in enumerate(CANDIDATES):
        with torch.autocast("cpu", torch.bfloat16):
            output = restorer(source, strength_for_quality(quality)).float().clamp(0, 1)[:, 0]
        restored = torch.round(output * 255.0).numpy().astype(np.float64)
        for row, (target, out, base) in enumerate(zip(targets, restored, before, strict=True)):
            gains[row, column] = metrics.psnr(target, out, BORDER) - base
    return gains


def labelled_windows(
    restorer: torch.nn.Module, crops: Iterator[tuple[int, np.ndarray, np.ndarray]]
) -> tuple[np.ndarray, np.ndarray]:
    """The degraded predictor windows (N×WINDOW×WINDOW uint8) and their labels (N): the candidate
    quality with the best mean gain over the crops of the same journey (a photo's, steadier than one
    crop's)."""
    restorer = restorer.eval().to(memory_format=torch.channels_last)
    numbers, windows, gains, batch = [], [], [], []
    for crop in [*crops, None]:
        if crop is not None:
            batch.append(crop)
        if batch and (crop is None or len(batch) == LABEL_BATCH):
            journey, clean, degraded = zip(*batch, strict=True)
            gains.append(oracle_gains(restorer, np.stack(clean), np.stack(degraded)))
            windows.append(np.stack(degraded)[:, BORDER:-BORDER, BORDER:-BORDER])
            numbers += journey
            batch = []
    journeys, all_gains = np.array(numbers), np.concatenate(gains)
    labels = np.empty(len(journeys), dtype=np.float32)
    for number in np.unique(journeys):
        mine = journeys == number
        labels[mine] = CANDIDATES[int(all_gains[mine].mean(axis=0).argmax())]
    return np.concatenate(windows), labels


def fit_predictor(windows: np.ndarray, qualities: np.ndarray, steps: int, seed: int) -> StrengthNet:
    """A ``StrengthNet`` fitted to predict ``qualities`` / 100 from ``windows`` (Huber loss, Adam, cosine
    schedule, batches of 32 with random flips and quarter turns)."""
    torch.manual_seed(seed)
    draw = np.random.default_rng(seed)
    predictor = StrengthNet()
    optimizer = torch.optim.Adam(predictor.parameters(), lr=1e-3)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    images = torch.from_numpy(windows.astype(np.float32) / 255.0)[:, None]
    targets = torch.from_numpy(qualities / 100.0)
    for _ in range(steps):
        picked = torch.from_numpy(draw.integers(0, len(images), size=32))
        batch = torch.rot90(images[picked], int(draw.integers(4)), (-2, -1))
        batch = batch.flip(-1) if draw.integers(2) else batch
        loss = torch.nn.functional.smooth_l1_loss(predictor(batch), targets[picked], beta=0.05)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    return predictor.eval()


MARGIN = 15  # qualities below the table's under which an estimate would be believed
TABLE = 90  # the test photos' last save


def resized(first: int, factor: float) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    return lambda rgb: travel(rgb, Journey("resized", (first, TABLE), resize=factor, resampling="bicubic"))


TEST_CASES: dict[str, Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]] = {
    "saved once at 90": lambda rgb: travel(rgb, Journey("single", (TABLE,))),
    "30, resized to 75 %, re-saved at 90": resized(30, 0.75),
    "30, resized to 50 %, re-saved at 90": resized(30, 0.5),
}


def score_case(restorer: torch.nn.Module, predictor: StrengthNet, tests: list[np.ndarray], make: Callable) -> dict:
    """Per photo of one case: the estimate, and the luma gains told the table's quality, the estimate
    where it is ``MARGIN`` below the table's (the nearest candidate), and the best candidate."""
    rows: dict[str, list[float]] = {"estimate": [], "table": [], "rule": [], "best": [], "best_quality": []}
    for rgb in tests:
        clean, degraded = (to_luma_u8(each) for each in make(rgb))
        estimate = predict_quality(predictor, degraded) or float(TABLE)
        gains = oracle_gains(restorer, clean[None], degraded[None])[0]
        told = estimate if estimate < TABLE - MARGIN else TABLE
        rows["estimate"].append(round(estimate, 1))
        rows["table"].append(float(gains[CANDIDATES.index(TABLE)]))
        rows["rule"].append(float(gains[int(np.abs(np.array(CANDIDATES) - told).argmin())]))
        rows["best"].append(float(gains.max()))
        rows["best_quality"].append(CANDIDATES[int(gains.argmax())])
    return rows


def case_line(name: str, rows: dict) -> str:
    worse = sum(rule < table - 1e-9 for rule, table in zip(rows["rule"], rows["table"], strict=True))
    means = "  ".join(f"{key} {np.mean(rows[key]):+.2f}" for key in ("table", "rule", "best"))
    estimates = " ".join(f"{value:3.0f}" for value in rows["estimate"])
    best = " ".join(f"{value:3d}" for value in rows["best_quality"])
    summary = f"{name}: luma gain {means} dB; {worse} photos worse by the rule than by the table"
    return f"{summary}\n  estimates {estimates}\n  best      {best}"


def parse_args() -> argparse.Namespace:
    arguments = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    arguments.add_argument("folders", type=Path, nargs="+", help="folders of clean training photos")
    arguments.add_argument("--test", type=Path, nargs="+", required=True, help="folders of clean test photos")
    arguments.add_argument("--journeys", type=int, default=2, help="journeys per training photo")
    arguments.add_argument("--crops", type=int, default=2, help="crops per journey")
    arguments.add_argument("--steps", type=int, default=1500, help="training steps")
    return arguments.parse_args()


def main() -> None:
    args = parse_args()
    started = time.perf_counter()
    restorer, _ = load_model(RESTORER)
    photos = [path for folder in args.folders for path in list_photo_files(folder)[0]]
    windows, qualities = labelled_windows(restorer, travelled_crops(photos, args.journeys, args.crops, seed=0))
    order = np.random.default_rng(0).permutation(len(windows))
    held, kept = order[:HELD_OUT], order[HELD_OUT:]
    predictor = fit_predictor(windows[kept], qualities[kept], args.steps, seed=0)
    with torch.no_grad():
        guesses = predictor(torch.from_numpy(windows[held].astype(np.float32) / 255.0)[:, None]).numpy() * 100.0
    error = float(np.abs(guesses - qualities[held]).mean())
    constant = float(np.abs(np.median(qualities[kept]) - qualities[held]).mean())
    print(
        f"{len(windows)} labelled windows; held-out error {error:.1f} quality units (a constant guess: {constant:.1f})"
    )
    tests = [load_rgb(path) for folder in args.test for path in list_photo_files(folder)[0]]
    cases = {name: score_case(restorer, predictor, tests, make) for name, make in TEST_CASES.items()}
    for name, rows in cases.items():
        print(case_line(name, rows))
    summary = {
        "windows": len(windows),
        "held_out_error": round(error, 1),
        "constant_error": round(constant, 1),
        "cases": {
            name: {
                key: (round(float(np.mean(values)), 3) if key in ("table", "rule", "best") else values)
                for key, values in rows.items()
            }
            for name, rows in cases.items()
        },
        "cpu": cpu_name(),
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
