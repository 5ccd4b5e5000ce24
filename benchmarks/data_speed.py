"""Speed and memory of the data stages (prepare + tile) on camera-sized photos, 1 worker against 2.

    python -m benchmarks.data_speed                 # N = 8 and 32 generated photos
    python -m benchmarks.data_speed --counts 4 16   # other N
    python -m benchmarks.data_speed --photos ~/Pictures/skylines --counts 8 32

Generates N distinct photo-like JPEGs of 4032×3024 (12 MP, like a DSLR or a phone; every other one
stored on its side with EXIF orientation 6, as phones do) — or, with --photos, takes the first N
photos of that folder — and runs the real stages (``python -m stages.prepare`` then
``python -m stages.tile``, the repository's params.yaml with raw_dir and workers overridden) in a
scratch folder, with workers=1 and with workers=2 taking turns, for each N, each setting
``--repeats`` times (the fastest run counts: the one least disturbed by other work on the machine). The baseline is
the 1-worker run of the same photos, same params, same machine, same run.

Peak memory is the largest proportional set size (PSS, so that pages a forked worker shares with its
parent count once) summed over the stage process and all its workers, sampled every 50 ms from /proc.
Prints a table; the last line is one JSON object: ``speedup`` (1 → 2 workers, largest N),
``photos_per_s`` (2 workers, largest N), ``rss_ratio`` (peak at the largest N / peak at the smallest,
2 workers), the targets and whether each is met.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from benchmarks.workfolder import ROOT
from srcnn.images import is_photo_name

WIDTH, HEIGHT = 4032, 3024
TARGETS = {"speedup": 1.7, "photos_per_s": 2.0, "rss_ratio": 1.2}


def generate(folder: Path, count: int) -> list[Path]:
    """``count`` distinct photo-like 12 MP JPEGs (quality 92, 4:2:0); odd ones stored rotated, EXIF 6."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    y = np.linspace(0, 1, HEIGHT, dtype=np.float32)[:, None]
    x = np.linspace(0, 1, WIDTH, dtype=np.float32)[None, :]
    base = np.empty((HEIGHT, WIDTH, 3), np.float32)
    for channel in range(3):  # sky-like gradient plus smooth light
        base[..., channel] = 70 + 90 * y + 40 * np.sin(x * (9 + 3 * channel)) * np.cos(y * (7 + channel))
    base += rng.normal(0, 5, base.shape).astype(np.float32)  # sensor noise: real entropy for the codec
    paths = []
    for number in range(count):
        image = np.roll(base, (number * 97, number * 211), axis=(0, 1))
        local = np.random.default_rng(number + 1)
        for _ in range(60):  # buildings and windows: hard edges in a different place in every photo
            top, left = local.integers(0, HEIGHT - 400), local.integers(0, WIDTH - 400)
            image[top : top + local.integers(20, 400), left : left + local.integers(20, 400)] = local.uniform(0, 255, 3)
        pixels = Image.fromarray(image.clip(0, 255).astype(np.uint8))
        exif = Image.Exif()
        if number % 2:
            pixels = pixels.transpose(Image.Transpose.ROTATE_90)  # stored on its side; EXIF 6 turns it back
            exif[0x0112] = 6
        path = folder / f"IMG_{number:04d}.JPG"
        pixels.save(path, quality=92, subsampling=2, exif=exif.tobytes())
        paths.append(path)
    return paths


def take(folder: Path, count: int, into: Path) -> None:
    """Link the first ``count`` photos of a user's folder into ``into`` (never modifying them)."""
    photos = sorted(path for path in folder.rglob("*") if path.is_file() and is_photo_name(path))
    if len(photos) < count:
        sys.exit(f"data_speed: {folder} has {len(photos)} photos, {count} wanted")
    into.mkdir(parents=True)
    for number, path in enumerate(photos[:count]):
        (into / f"{number:04d}_{path.name}").symlink_to(path.resolve())


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants (from /proc/PID/task/TID/children: cheap enough to sample often)."""
    pids, stack = [], [root]
    while stack:
        pid = stack.pop()
        pids.append(pid)
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                stack.extend(int(child) for child in Path(f"/proc/{pid}/task/{task}/children").read_text().split())
        except OSError:
            continue
    return pids


def pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # every waited-for descendant, workers included
    return usage.ru_utime + usage.ru_stime


def run_stage(stage: str, cwd: Path) -> tuple[float, float, float]:
    """Run ``python -m stages.STAGE`` in ``cwd``; returns (seconds, CPU seconds, peak PSS of its tree in MiB)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cpu = _cpu_seconds()
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", f"stages.{stage}"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak = [0]

    def sample() -> None:
        while process.poll() is None:
            peak[0] = max(peak[0], sum(pss_kb(pid) for pid in process_tree(process.pid)))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    out, err = process.communicate()
    seconds = time.perf_counter() - start
    sampler.join()
    if process.returncode:
        sys.exit(f"data_speed: stages.{stage} failed ({process.returncode}):\n{out}\n{err}")
    return seconds, _cpu_seconds() - cpu, peak[0] / 1024


def measure(raw_dir: Path, workers: int, scratch: Path) -> dict:
    """prepare + tile on ``raw_dir`` with ``workers`` in a fresh scratch folder."""
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params.update(raw_dir=str(raw_dir), workers=workers)
    (scratch / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    prepare_s, prepare_cpu, prepare_mb = run_stage("prepare", scratch)
    tile_s, tile_cpu, tile_mb = run_stage("tile", scratch)
    data = json.loads((scratch / "metrics" / "data.json").read_text())
    return {
        "seconds": prepare_s + tile_s,
        "prepare_s": prepare_s,
        "tile_s": tile_s,
        "cpu_s": prepare_cpu + tile_cpu,
        "peak_mb": max(prepare_mb, tile_mb),
        "tiles": data["tiles_train"] + data["tiles_val"],
        "used": data["photos_used"],
    }


def best_of(runs: list[dict]) -> dict:
    """The fastest run (the least disturbed by other work on the machine), with the largest peak
    memory seen in any of them."""
    best = min(runs, key=lambda row: row["seconds"])
    return best | {"peak_mb": max(row["peak_mb"] for row in runs), "all_s": [round(r["seconds"], 2) for r in runs]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", type=int, nargs=2, default=[8, 32], metavar="N")
    parser.add_argument("--photos", type=Path, help="take photos from this folder instead of generating them")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each setting; the fastest counts")
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temporary one, removed)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="data_speed."))
    try:
        rows = {}
        for count in sorted(args.counts):
            raw = work / f"photos_{count}"
            shutil.rmtree(raw, ignore_errors=True)
            started = time.perf_counter()
            take(args.photos, count, raw) if args.photos else generate(raw, count)
            print(f"N={count}: photos ready in {time.perf_counter() - started:.1f} s", flush=True)
            runs: dict[int, list[dict]] = {1: [], 2: []}
            for _ in range(args.repeats):  # 1 and 2 workers taking turns: a change in the load hits both
                for workers in (1, 2):
                    runs[workers].append(measure(raw, workers, work / "scratch"))
            for workers in (1, 2):
                row = rows[count, workers] = best_of(runs[workers])
                print(
                    f"N={count:3d} workers={workers}: {row['seconds']:6.1f} s (prepare {row['prepare_s']:.1f}, "
                    f"tile {row['tile_s']:.1f}; CPU {row['cpu_s']:.1f} s; runs {row['all_s']}), "
                    f"{count / row['seconds']:5.2f} photos/s, peak PSS {row['peak_mb']:6.0f} MiB, "
                    f"{row['used']} photos used, {row['tiles']} tiles",
                    flush=True,
                )
            print(
                f"N={count:3d} speed-up 1 → 2 workers: {rows[count, 1]['seconds'] / rows[count, 2]['seconds']:.2f}×",
                flush=True,
            )
        small, large = sorted(args.counts)
        result = {
            "speedup": round(rows[large, 1]["seconds"] / rows[large, 2]["seconds"], 3),
            "photos_per_s": round(large / rows[large, 2]["seconds"], 3),
            "photos_per_s_1_worker": round(large / rows[large, 1]["seconds"], 3),
            "rss_ratio": round(rows[large, 2]["peak_mb"] / rows[small, 2]["peak_mb"], 3),
            "rss_ratio_1_worker": round(rows[large, 1]["peak_mb"] / rows[small, 1]["peak_mb"], 3),
            "peak_mb": {f"n{n}_w{w}": round(row["peak_mb"], 1) for (n, w), row in rows.items()},
            "seconds": {f"n{n}_w{w}": round(row["seconds"], 2) for (n, w), row in rows.items()},
            "cpu_s": {f"n{n}_w{w}": round(row["cpu_s"], 2) for (n, w), row in rows.items()},
            "counts": [small, large],
            "repeats": args.repeats,
            "photo": str(args.photos) if args.photos else "generated 4032x3024 JPEG",
            "cpus": os.cpu_count(),
            "targets": TARGETS,
        }
        result["met"] = {
            "speedup": result["speedup"] >= TARGETS["speedup"],
            "photos_per_s": result["photos_per_s"] >= TARGETS["photos_per_s"],
            "rss_ratio": result["rss_ratio"] <= TARGETS["rss_ratio"],
        }
        print(json.dumps(result))
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
