"""Benchmark: `enhance` on a 12-megapixel colour photo against a naive fp32 whole-image forward.

    python benchmarks/enhance_speed.py      # a generated 4032×3024 photo; models/srcnn.pt or one trained quickly
    python benchmarks/enhance_speed.py --photo PHOTO.jpg --model models/srcnn.pt
    python benchmarks/enhance_speed.py --fresh-model --train-seconds 60     # ignore models/srcnn.pt

The photo (clean) is JPEG-compressed at quality 20 (degraded); both ways restore the degraded photo
with the same SRCNN (params.yaml sizes: 9-5-5, 64/32 filters, residual), each in its own process so
that peak memory is its own:

- project: ``srcnn.inference.restore_rgb`` as ``python -m srcnn enhance`` runs it by default (tiles,
  int8 convolutions calibrated on the photo, colour conversion per tile), timed in memory; again with
  ``--precision bf16``; and the whole command, JPEG in, PNG out.
- naive: YCbCr of the whole photo, one fp32 NCHW forward of the whole luma plane, back to RGB.

Prints seconds, megapixels/s, peak RSS, the speed ratio and the PSNR (luma, against the clean
photo) of the outputs; the last line is one JSON object. Targets: ratio ≥ 5, project peak RSS
≤ 1.5 GB, |psnr_delta_db| ≤ 0.05.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from srcnn import metrics  # noqa: E402
from srcnn.color import rgb_to_ycbcr, to_luma_u8, ycbcr_to_rgb  # noqa: E402
from srcnn.dataset import MemoryTiles  # noqa: E402
from srcnn.degrade import jpeg_roundtrip  # noqa: E402
from srcnn.enhance import Settings, enhance_photo, pick_dtype  # noqa: E402
from srcnn.images import load_rgb  # noqa: E402
from srcnn.inference import load_model, restore_rgb, save_model  # noqa: E402
from srcnn.jpeg import strength_for_quality  # noqa: E402
from srcnn.model import SIZE_PARAMS, SRCNN  # noqa: E402
from srcnn.params import load_params, params_with  # noqa: E402
from srcnn.train import fit, run_model  # noqa: E402

WIDTH, HEIGHT, QUALITY = 4032, 3024, 20
STRENGTH = strength_for_quality(QUALITY)  # what a conditioned model is told; `enhance` reads it from the JPEG


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited from the parent)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def generated_photo() -> np.ndarray:
    """A 4032×3024 photo-like mosaic of scikit-image's photographs, each enlarged 2× (Lanczos)."""
    from skimage import data
    sources = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket(), data.immunohistochemistry(),
               np.stack([data.camera()] * 3, axis=-1), data.colorwheel()[..., :3], data.retina()[::2, ::2]]
    canvas = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
    cell_w, cell_h = WIDTH // 4, HEIGHT // 3
    for number in range(12):
        source = sources[number % len(sources)]
        enlarged = Image.fromarray(source).resize((source.shape[1] * 2, source.shape[0] * 2), Image.Resampling.LANCZOS)
        cell = np.asarray(enlarged.resize((cell_w, cell_h), Image.Resampling.LANCZOS) if number >= 8 else
                          enlarged.crop((0, 0, cell_w, cell_h)))
        top, left = (number // 4) * cell_h, (number % 4) * cell_w
        canvas[top:top + cell_h, left:left + cell_w] = cell[:cell_h, :cell_w]
    return canvas


def quick_model(clean: np.ndarray, degraded: np.ndarray, seconds: float) -> SRCNN:
    """An SRCNN with params.yaml's sizes, trained for ``seconds`` on 64×64 luma tiles of the photo."""
    params = load_params(ROOT / "params.yaml")
    settings = {key: getattr(params, key) for key in SIZE_PARAMS}
    clean_y, degraded_y = to_luma_u8(clean), to_luma_u8(degraded)
    rng = np.random.default_rng(0)
    height, width = clean_y.shape
    corners = [(rng.integers(0, height - 64), rng.integers(0, width - 64)) for _ in range(600)]
    tiles = np.stack([np.stack([clean_y[y:y + 64, x:x + 64], degraded_y[y:y + 64, x:x + 64]]) for y, x in corners])
    pairs = torch.from_numpy(tiles)
    train = params_with(**{**settings, "epochs": 1000, "steps_per_epoch": 20, "batch_size": 16, "crop": 48,
                      "warmup_steps": 20, "lr": 1.0e-3, "lr_schedule": "constant", "time_budget": seconds / 60,
                      "device": "cpu", "precision": "auto", "tile": 64, "stride": 64})
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
    return path if all(model.config[key] == getattr(params, key) for key in SIZE_PARAMS) else None


def worker(kind: str, precision: str, photo: Path, model_path: Path, out: Path) -> None:
    """Restore ``photo`` one way in this process; print a JSON line with seconds and peak RSS."""
    model, info = load_model(model_path)
    torch.set_grad_enabled(False)
    dtype = pick_dtype(precision, torch.device("cpu"))
    result: dict = {}
    if kind == "command":  # the whole command, file to file
        settings = Settings(torch.device("cpu"), dtype, 512, 1)
        started = time.perf_counter()
        enhance_photo(model, photo, out, settings)
        result["seconds"] = time.perf_counter() - started
    else:
        rgb = load_rgb(photo)
        started = time.perf_counter()
        if kind == "project":
            restored = restore_rgb(model, rgb, dtype=dtype, strength=STRENGTH)
        else:  # naive: fp32, NCHW, the whole photo in one forward
            ycbcr = rgb_to_ycbcr(rgb)
            with torch.no_grad():
                luma = run_model(model, torch.from_numpy(ycbcr[..., 0] / 255.0).float()[None, None],
                                 torch.tensor([STRENGTH]))
            ycbcr[..., 0] = luma[0, 0].clamp(0, 1).double().numpy() * 255.0
            del luma
            restored = ycbcr_to_rgb(ycbcr)
        result["seconds"] = time.perf_counter() - started
        Image.fromarray(restored).save(out, format="PNG", compress_level=1)
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


def run_worker(kind: str, photo: Path, model_path: Path, out: Path, precision: str = "auto") -> dict:
    command = [sys.executable, __file__, "--worker", kind, "--precision", precision, "--photo", str(photo),
               "--model", str(model_path), "--out", str(out)]
    finished = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if finished.returncode != 0:
        raise SystemExit(f"{kind} worker failed:\n{finished.stderr}")
    return json.loads(finished.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photo", type=Path, help="a clean photo (default: a generated 4032×3024 one)")
    parser.add_argument("--model", type=Path, help="a checkpoint (default: models/srcnn.pt when it has "
                        "params.yaml's sizes, else one trained quickly on the photo)")
    parser.add_argument("--fresh-model", action="store_true", help="train one quickly even if models/srcnn.pt exists")
    parser.add_argument("--train-seconds", type=float, default=40.0)
    parser.add_argument("--worker", choices=("project", "command", "naive"), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--precision", default="auto", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.precision, args.photo, args.model, args.out)
        return

    with tempfile.TemporaryDirectory(prefix="enhance_speed.") as folder:
        work = Path(folder)
        clean = load_rgb(args.photo) if args.photo else generated_photo()
        degraded = jpeg_roundtrip(clean, QUALITY)
        Image.fromarray(degraded).save(work / "degraded.png", format="PNG", compress_level=1)
        Image.fromarray(degraded).save(work / "degraded.jpg", format="JPEG", quality=98)
        height, width = clean.shape[:2]
        megapixels = height * width / 1e6
        model_path = args.model or (None if args.fresh_model else default_model())
        if model_path is None:
            started = time.perf_counter()
            model_path = work / "model.pt"
            save_model(model_path, quick_model(clean, degraded, args.train_seconds), info={"params": {"scale": 1}})
            print(f"model: trained {time.perf_counter() - started:.0f} s on tiles of the photo")
        else:
            print(f"model: {model_path}")
        print(f"photo: {width}×{height} ({megapixels:.1f} MP), JPEG quality {QUALITY}, {torch.get_num_threads()} threads")

        project = run_worker("project", work / "degraded.png", model_path, work / "project.png")
        bf16 = run_worker("project", work / "degraded.png", model_path, work / "bf16.png", "bf16")
        command = run_worker("command", work / "degraded.jpg", model_path, work / "command.png")
        naive = run_worker("naive", work / "degraded.png", model_path, work / "naive.png")

        clean_y = to_luma_u8(clean).astype(np.float64)
        scores = {name: metrics.psnr(clean_y, to_luma_u8(load_rgb(work / f"{name}.png")).astype(np.float64))
                  for name in ("project", "bf16", "naive")}
        scores["input"] = metrics.psnr(clean_y, to_luma_u8(degraded).astype(np.float64))
    ratio = naive["seconds"] / project["seconds"]
    for name, figures in (("project (enhance's default: tiled, int8 where available)", project),
                          ("project with --precision bf16", bf16),
                          ("enhance command, JPEG in, PNG out", command), ("naive (fp32 NCHW whole image)", naive)):
        print(f"{name}: {figures['seconds']:.2f} s, {megapixels / figures['seconds']:.2f} MP/s, "
              f"peak RSS {figures['peak_rss_mb']:.0f} MB")
    print(f"speed-up: {ratio:.2f}× (target ≥ 5)")
    print(f"PSNR (luma, vs clean): input {scores['input']:.3f} dB, naive {scores['naive']:.3f} dB, "
          f"project {scores['project']:.3f} dB, delta {scores['project'] - scores['naive']:+.4f} dB (target ±0.05); "
          f"bf16 {scores['bf16']:.3f} dB, delta {scores['bf16'] - scores['naive']:+.4f} dB")
    print(json.dumps({"seconds": round(project["seconds"], 3), "naive_seconds": round(naive["seconds"], 3),
                      "ratio": round(ratio, 2), "peak_rss_mb": round(project["peak_rss_mb"], 1),
                      "command_seconds": round(command["seconds"], 3),
                      "command_peak_rss_mb": round(command["peak_rss_mb"], 1),
                      "naive_peak_rss_mb": round(naive["peak_rss_mb"], 1),
                      "bf16_seconds": round(bf16["seconds"], 3), "bf16_ratio": round(naive["seconds"] / bf16["seconds"], 2),
                      "bf16_psnr_delta_db": round(scores["bf16"] - scores["naive"], 4),
                      "psnr_delta_db": round(scores["project"] - scores["naive"], 4),
                      "psnr_input_db": round(scores["input"], 3), "psnr_naive_db": round(scores["naive"], 3),
                      "megapixels": round(megapixels, 2)}))


if __name__ == "__main__":
    main()
