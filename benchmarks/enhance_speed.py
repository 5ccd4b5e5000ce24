"""Benchmark: which precision `enhance` runs a photo in on this CPU, and the figures that choice rests
on; against a naive fp32 whole-image forward.

    python -m benchmarks.enhance_speed      # a generated 4032×3024 photo; models/srcnn.pt or one trained quickly
    python -m benchmarks.enhance_speed --photo PHOTO.jpg --model models/srcnn.pt
    python -m benchmarks.enhance_speed --fresh-model --train-seconds 60     # ignore models/srcnn.pt
    python -m benchmarks.enhance_speed --photos ../shared/benchmark/set5 ../shared/benchmark/set14 --repeats 2
    ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 FBGEMM_ENABLE_INSTRUCTIONS=AVX2 \
        python -m benchmarks.enhance_speed ...           # as on a CPU with AVX2 only (AMD Zen 3)

The photo (clean; "large") and its centre (``--small-size``, 800×600: "small") are JPEG-compressed
at quality 20 (degraded) and restored with one SRCNN (params.yaml sizes: 9-5-5, 64/32 filters,
residual) in each precision ``enhance`` could run on this CPU: fp32; bf16 where oneDNN runs it
natively (emulated bf16 is many times slower: no candidate); int8 where PyTorch has a quantized
backend. Each runs ``srcnn.inference.restore_rgb`` as ``python -m srcnn enhance`` does (tiles, int8
calibrated on the photo, colour per tile) in its own process, so that its peak memory is its own;
``--repeats`` runs them all in turn again and keeps each one's fastest time. Quality: the PSNR
(luma) of each precision against the clean photos, as a difference from fp32, on ``--photos``
(every photo in those folders, degraded the same way), else on the large photo.

For each photo the measured choice is the fastest precision within 0.05 dB of fp32; printed next
to it, the rule ``enhance --precision auto`` follows (``srcnn.device.pick_precision``: int8 from 2
megapixels on, else bf16 where native, else fp32) and whether they agree, and the baseline, the
rule before (int8 wherever there is a quantized backend), as a multiple of the rule's time. Then
the whole command on the large photo (JPEG in, PNG out, ``auto``) and the naive forward (YCbCr of
the whole photo, one fp32 NCHW forward of the whole luma plane). The last line is one JSON object.
Targets: ratio (naive / auto) ≥ 5, peak RSS ≤ 1.5 GB, the rule agrees with the measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from benchmarks.workfolder import ROOT
from srcnn import metrics
from srcnn.archs import SRCNN
from srcnn.color import rgb_to_ycbcr, to_luma_u8, ycbcr_to_rgb
from srcnn.dataset import MemoryTiles
from srcnn.degrade import jpeg_roundtrip
from srcnn.device import INT8_MIN_PIXELS, PRECISIONS, cpu_has_bf16, pick_precision
from srcnn.enhance import Restorer, Restorers, Settings, enhance_photo
from srcnn.images import load_rgb
from srcnn.inference import load_model, restore_rgb, save_model
from srcnn.jpeg import strength_for_quality
from srcnn.params import load_params, params_with
from srcnn.photos import list_photo_files
from srcnn.quantized import engine, full_range_is_exact
from srcnn.train import fit, run_model

WIDTH, HEIGHT, QUALITY = 4032, 3024, 20
STRENGTH = strength_for_quality(QUALITY)  # what a conditioned model is told; `enhance` reads it from the JPEG
TOLERANCE_DB = 0.05  # how much PSNR a faster precision may lose against fp32
EMULATION = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "FBGEMM_ENABLE_INSTRUCTIONS")


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited from the parent)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def generated_photo(width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """A 4032×3024 photo-like mosaic of scikit-image's photographs, each enlarged 2× (Lanczos); a
    smaller size is its centre."""
    from skimage import data

    sources = [
        data.astronaut(),
        data.coffee(),
        data.chelsea(),
        data.rocket(),
        data.immunohistochemistry(),
        np.stack([data.camera()] * 3, axis=-1),
        data.colorwheel()[..., :3],
        data.retina()[::2, ::2],
    ]
    canvas = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
    cell_w, cell_h = WIDTH // 4, HEIGHT // 3
    for number in range(12):
        source = sources[number % len(sources)]
        enlarged = Image.fromarray(source).resize((source.shape[1] * 2, source.shape[0] * 2), Image.Resampling.LANCZOS)
        cell = np.asarray(
            enlarged.resize((cell_w, cell_h), Image.Resampling.LANCZOS)
            if number >= 8
            else enlarged.crop((0, 0, cell_w, cell_h))
        )
        top, left = (number // 4) * cell_h, (number % 4) * cell_w
        canvas[top : top + cell_h, left : left + cell_w] = cell[:cell_h, :cell_w]
    top, left = (HEIGHT - min(height, HEIGHT)) // 2, (WIDTH - min(width, WIDTH)) // 2
    return canvas[top : top + height, left : left + width].copy()


def quick_model(clean: np.ndarray, degraded: np.ndarray, seconds: float) -> SRCNN:
    """An SRCNN with params.yaml's sizes, trained for ``seconds`` on 64×64 luma tiles of the photo."""
    params = load_params(ROOT / "params.yaml")
    settings = {key: getattr(params, key) for key in SRCNN.PARAMS}
    clean_y, degraded_y = to_luma_u8(clean), to_luma_u8(degraded)
    rng = np.random.default_rng(0)
    height, width = clean_y.shape
    corners = [(rng.integers(0, height - 64), rng.integers(0, width - 64)) for _ in range(600)]
    tiles = np.stack(
        [np.stack([clean_y[y : y + 64, x : x + 64], degraded_y[y : y + 64, x : x + 64]]) for y, x in corners]
    )
    pairs = torch.from_numpy(tiles)
    train = params_with(
        **{
            **settings,
            "epochs": 1000,
            "steps_per_epoch": 20,
            "batch_size": 16,
            "crop": 48,
            "warmup_steps": 20,
            "lr": 1.0e-3,
            "lr_schedule": "constant",
            "time_budget": seconds / 60,
            "device": "cpu",
            "precision": "auto",
            "tile": 64,
            "stride": 64,
        }
    )
    torch.manual_seed(0)
    model = SRCNN.from_params(params)
    strengths = torch.full((len(pairs),), STRENGTH)  # every tile is of the one JPEG-20 photo
    fit(model, MemoryTiles(pairs[:500], strengths[:500]), (pairs[500:], strengths[500:]), train)
    return model.eval()


def default_model() -> Path | None:
    """The pipeline's trained model, when there is one with params.yaml's sizes."""
    path = ROOT / "models" / "srcnn.pt"
    if not path.is_file():
        return None
    model, _ = load_model(path)
    params = load_params(ROOT / "params.yaml")
    config = getattr(model, "config", {})
    return path if all(config.get(key) == getattr(params, key) for key in SRCNN.PARAMS) else None


def worker(kind: str, precision: str, photo: Path, model_path: Path, out: Path) -> None:
    """Restore ``photo`` one way in this process; print a JSON line with seconds and peak RSS."""
    model, info = load_model(model_path)
    torch.set_grad_enabled(False)
    result: dict = {}
    if kind == "command":  # the whole command, file to file
        settings = Settings(
            torch.device("cpu"),
            pick_precision(precision, torch.device("cpu"), int8=True),
            512,
            1,
            auto=precision == "auto",
        )
        started = time.perf_counter()
        enhance_photo(Restorers.one(Restorer(model_path, model, settings)), photo, out)
        result["seconds"] = time.perf_counter() - started
    else:
        rgb = load_rgb(photo)
        dtype = pick_precision(precision, torch.device("cpu"), int8=True, pixels=rgb.shape[0] * rgb.shape[1])
        started = time.perf_counter()
        if kind == "project":
            restored = restore_rgb(model, rgb, dtype=dtype, strength=STRENGTH)
        else:  # naive: fp32, NCHW, the whole photo in one forward
            ycbcr = rgb_to_ycbcr(rgb)
            with torch.no_grad():
                luma = run_model(
                    model, torch.from_numpy(ycbcr[..., 0] / 255.0).float()[None, None], torch.tensor([STRENGTH])
                )
            ycbcr[..., 0] = luma[0, 0].clamp(0, 1).double().numpy() * 255.0
            del luma
            restored = ycbcr_to_rgb(ycbcr)
        result["seconds"] = time.perf_counter() - started
        Image.fromarray(restored).save(out, format="PNG", compress_level=1)
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


def run_worker(kind: str, photo: Path, model_path: Path, out: Path, precision: str = "auto") -> dict:
    command = [
        sys.executable,
        "-m",
        "benchmarks.enhance_speed",
        "--worker",
        kind,
        "--precision",
        precision,
        "--photo",
        str(photo),
        "--model",
        str(model_path),
        "--out",
        str(out),
    ]
    finished = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if finished.returncode != 0:
        raise SystemExit(f"{kind} worker failed:\n{finished.stderr}")
    return json.loads(finished.stdout.strip().splitlines()[-1])


def cpu_description() -> dict:
    """What decides the precision here: the CPU, PyTorch, the kernels' answers, any emulation asked for."""
    name = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        name = next(
            (
                line.split(":", 1)[1].strip()
                for line in cpuinfo.read_text().splitlines()
                if line.startswith("model name")
            ),
            name,
        )
    quantized = engine()
    return {
        "cpu": name,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "aten_capability": torch.backends.cpu.get_cpu_capability(),
        "native_bf16": cpu_has_bf16(),
        "int8_engine": quantized,
        "int8_full_range_exact": full_range_is_exact(quantized) if quantized else None,
        "emulation": {name: os.environ[name] for name in EMULATION if name in os.environ},
    }


def photos_psnr(model_path: Path, folders: list[Path], precision: str) -> list[float]:
    """PSNR (luma, dB) of each photo in ``folders``, degraded at QUALITY and restored in ``precision``."""
    model, _ = load_model(model_path)
    dtype = pick_precision(precision, torch.device("cpu"), int8=True)
    scores = []
    for folder in folders:
        for photo in list_photo_files(folder)[0]:
            clean = load_rgb(photo)
            restored = restore_rgb(model, jpeg_roundtrip(clean, QUALITY), dtype=dtype, strength=STRENGTH)
            scores.append(metrics.psnr(to_luma_u8(clean).astype(np.float64), to_luma_u8(restored).astype(np.float64)))
    return scores


def size(text: str) -> tuple[int, int]:
    width, height = (int(side) for side in text.lower().split("x"))
    return width, height


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photo", type=Path, help="a clean photo (default: a generated 4032×3024 one)")
    parser.add_argument(
        "--size",
        type=size,
        default=(WIDTH, HEIGHT),
        help="WIDTHxHEIGHT of the generated photo (its centre; default 4032x3024)",
    )
    parser.add_argument(
        "--small-size",
        type=size,
        default=(800, 600),
        help="WIDTHxHEIGHT of a small photo (the centre of the photo), timed too (default 800x600)",
    )
    parser.add_argument(
        "--photos",
        nargs="*",
        type=Path,
        default=[],
        help="folders of clean photos for the quality of each precision (e.g. ../shared/benchmark/set5)",
    )
    parser.add_argument(
        "--model",
        type=Path,
        help="a checkpoint (default: models/srcnn.pt when it has "
        "params.yaml's sizes, else one trained quickly on the photo)",
    )
    parser.add_argument("--fresh-model", action="store_true", help="train one quickly even if models/srcnn.pt exists")
    parser.add_argument("--train-seconds", type=float, default=40.0)
    parser.add_argument(
        "--repeats", type=int, default=1, help="timed runs of each precision, in turn; the fastest counts"
    )
    parser.add_argument(
        "--skip-naive", action="store_true", help="no naive whole-image forward (it needs ~9 GB at 12 MP)"
    )
    parser.add_argument("--worker", choices=("project", "command", "naive"), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--precision", default="auto", help=argparse.SUPPRESS)
    return parser.parse_args()


def write_photos(
    args: argparse.Namespace, work: Path
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The clean photo, the large and small photos, and each one degraded (``work/NAME.png``; the
    large one also as ``work/large.jpg`` for the whole command)."""
    clean = load_rgb(args.photo) if args.photo else generated_photo(*args.size)
    height, width = clean.shape[:2]
    small_width, small_height = min(args.small_size[0], width), min(args.small_size[1], height)
    top, left = (height - small_height) // 2, (width - small_width) // 2
    photos = {"large": clean, "small": clean[top : top + small_height, left : left + small_width]}
    degraded = {}
    for name, photo in photos.items():
        degraded[name] = jpeg_roundtrip(photo, QUALITY)
        Image.fromarray(degraded[name]).save(work / f"{name}.png", format="PNG", compress_level=1)
    Image.fromarray(degraded["large"]).save(work / "large.jpg", format="JPEG", quality=98)
    return clean, photos, degraded


def pick_model(args: argparse.Namespace, work: Path, clean: np.ndarray, degraded: np.ndarray) -> Path:
    """--model, else models/srcnn.pt (unless --fresh-model), else one trained quickly on the photo."""
    model_path = args.model or (None if args.fresh_model else default_model())
    if model_path is None:
        started = time.perf_counter()
        model_path = work / "model.pt"
        save_model(model_path, quick_model(clean, degraded, args.train_seconds), info={"params": {"scale": 1}})
        print(f"model: trained {time.perf_counter() - started:.0f} s on tiles of the photo")
    else:
        print(f"model: {model_path}")
    return model_path


def time_precisions(
    photos: dict[str, np.ndarray], candidates: list[str], work: Path, model_path: Path, repeats: int
) -> dict[str, dict[str, dict]]:
    """Each photo restored in each precision, each in its own process, ``repeats`` times in turn;
    the fastest run of each (photo name → precision → seconds and peak RSS)."""
    runs: dict[str, dict[str, dict]] = {name: {} for name in photos}
    for _ in range(repeats):
        for name in photos:
            for precision in candidates:
                figures = run_worker(
                    "project", work / f"{name}.png", model_path, work / f"{name}-{precision}.png", precision
                )
                if precision not in runs[name] or figures["seconds"] < runs[name][precision]["seconds"]:
                    runs[name][precision] = figures
    return runs


def large_photo_psnr(
    clean: np.ndarray, degraded: np.ndarray, candidates: list[str], work: Path, naive: bool
) -> dict[str, float]:
    """PSNR (luma) of the large photo as each precision (and the naive forward) restored it, and of its input."""
    clean_y = to_luma_u8(clean).astype(np.float64)
    photo_psnr = {
        precision: metrics.psnr(clean_y, to_luma_u8(load_rgb(work / f"large-{precision}.png")).astype(np.float64))
        for precision in candidates
    }
    if naive:
        photo_psnr["naive"] = metrics.psnr(clean_y, to_luma_u8(load_rgb(work / "naive.png")).astype(np.float64))
    photo_psnr["input"] = metrics.psnr(clean_y, to_luma_u8(degraded).astype(np.float64))
    return photo_psnr


def quality_scores(
    folders: list[Path], model_path: Path, candidates: list[str], photo_psnr: dict[str, float]
) -> tuple[dict[str, np.ndarray], str]:
    """Each precision's PSNR per photo of ``folders`` (else of the large photo), and where that is."""
    if folders:
        scores = {precision: np.array(photos_psnr(model_path, folders, precision)) for precision in candidates}
        return scores, f"{len(scores['fp32'])} photos of {', '.join(str(folder) for folder in folders)}"
    return {precision: np.array([photo_psnr[precision]]) for precision in candidates}, "the large photo"


def choose(
    photos: dict[str, np.ndarray],
    runs: dict[str, dict[str, dict]],
    close: list[str],
    cpu: dict,
    megapixels: dict[str, float],
) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Per photo: the measured choice (the fastest of ``close``), the rule's and the baseline's; each printed."""
    measured, rule, baseline = {}, {}, {}
    for name in photos:
        pixels = photos[name].shape[0] * photos[name].shape[1]
        measured[name] = min(close, key=lambda precision: runs[name][precision]["seconds"])
        rule[name] = PRECISIONS[pick_precision("auto", torch.device("cpu"), int8=True, pixels=pixels)]
        baseline[name] = "int8" if cpu["int8_engine"] else "bf16" if cpu["native_bf16"] else "fp32"  # the rule before
        print(
            f"{name} photo ({megapixels[name]:.2f} MP): "
            + ", ".join(f"{precision} {figures['seconds']:.2f} s" for precision, figures in runs[name].items())
            + f"; measured choice {measured[name]} (the fastest within {TOLERANCE_DB} dB of fp32), "
            f"rule {rule[name]} ({'agrees' if rule[name] == measured[name] else 'DISAGREES'}); "
            f"baseline (int8 wherever there is a quantized backend) {baseline[name]}: "
            f"{runs[name][baseline[name]]['seconds'] / runs[name][rule[name]]['seconds']:.2f}× the rule's time"
        )
    return measured, rule, baseline


def main() -> None:
    args = parse_args()
    if args.worker:
        worker(args.worker, args.precision, args.photo, args.model, args.out)
        return

    cpu = cpu_description()
    candidates = ["fp32"] + ["bf16"] * cpu["native_bf16"] + ["int8"] * (cpu["int8_engine"] is not None)
    with tempfile.TemporaryDirectory(prefix="enhance_speed.") as folder:
        work = Path(folder)
        clean, photos, degraded = write_photos(args, work)
        megapixels = {name: photo.shape[0] * photo.shape[1] / 1e6 for name, photo in photos.items()}
        model_path = pick_model(args, work, clean, degraded["large"])
        print(
            "photos: "
            + ", ".join(
                f"{name} {photo.shape[1]}×{photo.shape[0]} ({megapixels[name]:.2f} MP)"
                for name, photo in photos.items()
            )
            + f", JPEG quality {QUALITY}"
        )
        print("CPU: " + ", ".join(f"{key} {value}" for key, value in cpu.items()))
        runs = time_precisions(photos, candidates, work, model_path, args.repeats)
        command = run_worker("command", work / "large.jpg", model_path, work / "command.png")
        naive = None if args.skip_naive else run_worker("naive", work / "large.png", model_path, work / "naive.png")
        photo_psnr = large_photo_psnr(clean, degraded["large"], candidates, work, naive is not None)
        # while the folder is there: a model trained quickly lies in it
        scores, where = quality_scores(args.photos, model_path, candidates, photo_psnr)
    delta = {precision: float((scores[precision] - scores["fp32"]).mean()) for precision in candidates}
    worst = {precision: float((scores[precision] - scores["fp32"]).min()) for precision in candidates}
    print(
        f"quality on {where} (JPEG {QUALITY}), against fp32 ({scores['fp32'].mean():.3f} dB): "
        + ", ".join(
            f"{precision} {delta[precision]:+.4f} dB (worst photo {worst[precision]:+.4f})" for precision in candidates
        )
    )
    close = [precision for precision in candidates if abs(delta[precision]) <= TOLERANCE_DB]
    measured, rule, baseline = choose(photos, runs, close, cpu, megapixels)
    large = runs["large"][rule["large"]]
    print(
        f"large photo, {rule['large']}: {megapixels['large'] / large['seconds']:.2f} MP/s, "
        f"peak RSS {large['peak_rss_mb']:.0f} MB; enhance command, JPEG in, PNG out: {command['seconds']:.2f} s, "
        f"peak RSS {command['peak_rss_mb']:.0f} MB"
    )
    result = {
        "choice": rule,
        "measured_choice": measured,
        "agrees": rule == measured,
        "int8_min_megapixels": INT8_MIN_PIXELS / 1e6,
        "seconds": {
            name: {precision: round(figures["seconds"], 3) for precision, figures in runs[name].items()}
            for name in photos
        },
        "speedup_vs_baseline": {
            name: round(runs[name][baseline[name]]["seconds"] / runs[name][rule[name]]["seconds"], 2) for name in photos
        },
        "baseline": baseline,
        "megapixels": {name: round(value, 2) for name, value in megapixels.items()},
        "psnr_delta_db": {precision: round(delta[precision], 4) for precision in candidates},
        "worst_photo_delta_db": {precision: round(worst[precision], 4) for precision in candidates},
        "quality_photos": int(len(scores["fp32"])),
        "psnr_fp32_db": round(float(scores["fp32"].mean()), 3),
        "peak_rss_mb": round(large["peak_rss_mb"], 1),
        "command_seconds": round(command["seconds"], 3),
        "command_peak_rss_mb": round(command["peak_rss_mb"], 1),
        "psnr_input_db": round(photo_psnr["input"], 3),
        **cpu,
    }
    if naive is not None:
        result.update(naive_figures(naive, large, rule["large"], photo_psnr))
    print(json.dumps(result))


def naive_figures(naive: dict, large: dict, precision: str, photo_psnr: dict[str, float]) -> dict[str, float]:
    """The naive forward against ``precision`` on the large photo: printed, and its keys of the JSON line."""
    ratio = naive["seconds"] / large["seconds"]
    print(
        f"naive (fp32 NCHW whole image): {naive['seconds']:.2f} s, peak RSS {naive['peak_rss_mb']:.0f} MB; "
        f"speed-up of {precision}: {ratio:.2f}× (target ≥ 5); on the large photo: naive "
        f"{photo_psnr['naive']:.3f} dB, {precision} {photo_psnr[precision] - photo_psnr['naive']:+.4f} dB"
    )
    return {
        "naive_seconds": round(naive["seconds"], 3),
        "ratio": round(ratio, 2),
        "naive_peak_rss_mb": round(naive["peak_rss_mb"], 1),
        "psnr_naive_db": round(photo_psnr["naive"], 3),
    }


if __name__ == "__main__":
    main()
