"""Restoration quality of the real pipeline against three peers, each trained for the same time.

    python benchmarks/quality.py --raw-dir BENCH/urban40 --minutes 15
    python benchmarks/quality.py --raw-dir BENCH/urban40 --minutes 15 \\
        --scale 3 --eval-dirs BENCH/set5 BENCH/set14

BENCH: a folder of benchmark photos, urban40 (Urban100's img_001–040), set5 and set14.

1. Copies the project (git-tracked and untracked-not-ignored files, no data or outputs) into a work
   folder, sets raw_dir, time_budget=--minutes (epochs made large so the clock binds), and for
   --scale N > 1 scale=N, jpeg_quality=null; then runs ``dvc repro evaluate`` there: that is "ours",
   the default params but SRCNN 9-5-5 at batch 32 (``LONG_RUN_MODEL``).
2. Trains the peers for the same minutes:
   - "q20_only", the model of before: the same params but jpeg_quality 20 and conditioned
     false, by ``dvc repro evaluate`` in a second work folder (WORK-q20-only; its own prepare and
     tiles, at quality 20); not for --scale > 1, which has no JPEG step;
   - with ``srcnn.train.fit`` on ours' tiles: plain SRCNN 9-1-5 the seed's way (no residual, Adam at
     a fixed lr 1e-3, no warm-up), and AR-CNN (srcnn/archs/arcnn.py, Dong et al. ICCV 2015) with the
     project's loop and params (residual too).
3. Evaluates all of them on the same val photos (ours', each at the quality prepare degraded it
   at; whole photos, MATLAB-style BT.601 luma, ``border`` pixels cropped); on the ladder: those
   photos clean, degraded afresh at each quality of ``eval_qualities`` (PSNR gain and photos made
   worse per quality; a conditioned model is told each quality's strength, the others ignore it),
   restored as ``enhance`` restores them: only at the qualities where the model's gate allows it
   (srcnn/gate.py; ours' and q20_only's as their evaluate stage wrote it, the others' decided on the
   same val photos). As the gate is decided on those very photos, --ladder-dirs scores the ladder
   again on held-out photos (e.g. Set5 and Set14) under the same gates: the test of the gate;
   and once more on those of them whose reference is no decoded JPEG already (``srcnn.history.jpeg_history``:
   Set5's woman.png was saved at quality 75, and removing those artifacts is no loss). And
   with --eval-dirs on every image of those folders degraded the same way at --eval-quality
   (whole images; bicubic is the input for --scale > 1), next to the papers' figures.

Prints a table; the last line is one JSON object (ours, each peer, ``model``: our checkpoint, kept in
benchmarks/out/, which ``enhance`` accepts). --only-ours, -S key=value and --work DIR are for short
experiments: -S sets any param of params.yaml, --work reuses a work folder so that only the stages
whose params changed rerun; every run appends its figures to benchmarks/out/experiments.jsonl.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from srcnn.archs import ARCNN  # noqa: E402
from srcnn.dataset import MemoryTiles, read_tiles  # noqa: E402
from srcnn.degrade import crop_to_multiple, degrade  # noqa: E402
from srcnn.evaluation import evaluate_ladder, evaluate_photos, summarize  # noqa: E402
from srcnn.images import is_photo_name, load_rgb  # noqa: E402
from srcnn.gate import Gate, gate_path, read_gate  # noqa: E402
from srcnn.history import jpeg_history  # noqa: E402
from srcnn.inference import load_model, trained_qualities  # noqa: E402
from srcnn.archs import SRCNN  # noqa: E402
from srcnn.params import Params, load_params  # noqa: E402
from srcnn.photos import read_prepared  # noqa: E402
from srcnn.shards import load_manifest, shard_paths  # noqa: E402
from srcnn.train import fit  # noqa: E402

OUT = ROOT / "benchmarks" / "out"
SKIP = ("data/", "models/", "metrics/", "dvclive/", "plots/", "dvc.lock", "tests/", "benchmarks/", "dvc_plots/")
TARGET_GAIN = 2.0
# the seed's training: plain output, Adam at a fixed learning rate, no warm-up, MSE
SEED_WAY = dict(kernel1=9, kernel2=1, kernel3=5, filters1=64, filters2=32, residual=False, lr=1.0e-3,
                lr_schedule="constant", warmup_steps=0, loss="mse")
PAPERS = {  # Y channel, dB; scale 3, `scale` pixels cropped (Dong et al. 2014/2016)
    "set5": {"bicubic": 30.39, "SRCNN (91 images)": 32.39, "SRCNN (ImageNet)": 32.75},
    "set14": {"bicubic": 27.54, "SRCNN (ImageNet)": 29.30},
}
PAPERS_JPEG = "LIVE1, JPEG 20, luma: JPEG 30.07 dB, AR-CNN 31.40 dB (+1.33), DnCNN-3 31.59 dB (+1.52)"
# a run of many minutes trains the larger SRCNN 9-5-5 at batch 32: the quick start's 9-3-5 at batch 16
# is sized for a short run on a CPU without bf16 units (docs/training.md)
LONG_RUN_MODEL = dict(kernel2=5, batch_size=32)
# the model of before: trained at JPEG quality 20 only, not told a photo's compression
Q20_ONLY = dict(jpeg_quality=20, conditioned=False)


def project_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split("\n")
    return [name for name in listed if name and not name.startswith(SKIP) and (ROOT / name).is_file()]


def run(command: list[str], cwd: Path) -> None:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
               DVC_NO_ANALYTICS="1", GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.com",
               GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@example.com")
    result = subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    for line in lines:
        if (line.startswith(("prepare:", "tile:", "train:", "evaluate:")) and "%|" not in line) or result.returncode:
            print(f"  | {line}", flush=True)
    if result.returncode:
        sys.exit(f"quality: {' '.join(command)} failed in {cwd} ({result.returncode})")


def make_project(work: Path, settings: dict[str, Any]) -> Path:
    """The project's files in ``work`` (a git repo), with ``settings`` written into params.yaml."""
    work.mkdir(parents=True, exist_ok=True)
    for name in project_files():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, work / name)
    params = yaml.safe_load((work / "params.yaml").read_text())
    params.update(settings)
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    load_params(work / "params.yaml")  # a bad -S value stops here, with the key named
    if not (work / ".git").exists():
        run(["git", "init", "-q", "-b", "main"], cwd=work)
    run(["git", "add", "-A"], cwd=work)
    run(["git", "commit", "-qm", "benchmark", "--allow-empty"], cwd=work)
    return work


def evaluate(model: torch.nn.Module, photos: list, border: int) -> dict[str, float]:
    """Means over (name, clean, degraded, JPEG quality) photos of PSNR and SSIM, by srcnn.evaluation."""
    summary = summarize(evaluate_photos(model, photos, border))
    return {"psnr_input": summary["psnr_input"], "psnr_output": summary["psnr_output"], "gain": summary["psnr_gain"],
            "ssim_input": summary["ssim_input"], "ssim": summary["ssim_output"], "images": summary["photos"]}


def ladder(model: torch.nn.Module, photos: list, params: Params, trained: tuple[int, int] | None,
           gate: Gate | None = None) -> tuple[dict[str, dict[str, float | int]], Gate]:
    """PSNR gain and photos made worse at each quality of eval_qualities, on the clean ``photos``, as
    ``enhance`` restores them (only where ``gate`` allows: by default the gate these photos decide,
    as the evaluate stage decides it); and the model's own figures there (``model_*``)."""
    table, gate = evaluate_ladder(model, [(name, clean) for name, clean, _, _ in photos], params.border, params.scale,
                                  params.eval_qualities, trained=trained, gate=gate)
    return {f"q{row['quality']}": {"gain": round(float(row["psnr_gain"]), 4), "worse": int(row["photos_worse"]),
                                   "worst_gain": round(float(row["worst_gain"]), 4), "applied": bool(row["applied"]),
                                   "model_gain": round(float(row["model_gain"]), 4),
                                   "model_worse": int(row["model_photos_worse"]),
                                   "model_worst_gain": round(float(row["model_worst_gain"]), 4)}
            for row in table.to_dict("records")}, gate


def degrade_folder(source: Path, params: Params, quality: int | None) -> list:
    """Every image of ``source`` whole (cut to a multiple of scale) as (name, clean, degraded, quality),
    degraded as the pipeline degrades (bicubic down-up for scale > 1, then JPEG at ``quality`` unless None)."""
    paths = sorted(path for path in source.iterdir() if path.is_file() and is_photo_name(path))
    if not paths:
        sys.exit(f"quality: {source} holds no images")
    photos = []
    for path in paths:
        clean = crop_to_multiple(load_rgb(path), params.scale)
        photos.append((f"{path.stem}.png", clean, degrade(clean, params.scale, quality), quality))
    return photos


def val_photos(project: Path) -> list:
    """The project's prepared val photos as (name, clean, degraded, the JPEG quality prepare used)."""
    return [(report["name"], clean, degraded, report["jpeg_quality"])
            for report, clean, degraded in read_prepared(project / "data" / "prepared", "val")]


def train_peer(name: str, model: torch.nn.Module, params: Params, project: Path) -> dict[str, Any]:
    tiles = project / "data" / "tiles"
    manifest = load_manifest(tiles)
    train = MemoryTiles(*read_tiles(shard_paths(tiles, manifest, "train")), seed=params.seed)
    val = read_tiles(shard_paths(tiles, manifest, "val"))
    print(f"quality: training {name} for {params.time_budget:g} min ...", flush=True)
    history = fit(model, train, val, params)
    model.eval()
    return {"steps": history.steps, "seconds": round(history.seconds, 1),
            "parameters": sum(p.numel() for p in model.parameters())}


def ladder_targets(results: dict[str, Any], key: str = "ladder") -> dict[str, bool]:
    """The quality targets on ours' ladder (and against q20_only's at quality 20, when it ran), on the
    val photos or (``key="held_out_ladder"``) on the held-out ones."""
    rungs = results["ours"][key]
    checks = {"no_rung_below_0": all(rung["gain"] >= 0 for rung in rungs.values()),
              "q60_up_no_photo_below_-0.1": all(rung["worst_gain"] >= -0.1 for name, rung in rungs.items()
                                                if int(name[1:]) >= 60)}
    if "q10" in rungs:
        checks["q10_at_least_1.0"] = rungs["q10"]["gain"] >= 1.0
    if "q40" in rungs:
        checks["q40_at_least_0.9"] = rungs["q40"]["gain"] >= 0.9
    if "q20_only" in results and "q20" in rungs:
        checks["q20_within_0.1_of_q20_only"] = rungs["q20"]["gain"] >= results["q20_only"][key]["q20"]["gain"] - 0.1
    return checks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--raw-dir", required=True, type=Path, help="folder of clean photos (urban40)")
    parser.add_argument("--minutes", type=float, default=15.0, help="training budget of each model")
    parser.add_argument("--scale", type=int, default=1, help=">1: super-resolution (jpeg_quality null)")
    parser.add_argument("--eval-dirs", nargs="*", type=Path, default=[], help="extra test folders (Set5, Set14)")
    parser.add_argument("--eval-quality", type=int, default=None,
                        help="JPEG quality of the --eval-dirs images (default: jpeg_quality when it is one "
                             "number, 20 for a range, none for --scale > 1)")
    parser.add_argument("--ladder-dirs", nargs="*", type=Path, default=[],
                        help="held-out photo folders (e.g. Set5, Set14): the ladder on them, restored under "
                             "the gate each model's val photos decided, which those photos never saw")
    parser.add_argument("--only-ours", action="store_true", help="skip the peers (short experiments)")
    parser.add_argument("--peers", nargs="*", default=["q20_only", "plain_srcnn", "arcnn"],
                        choices=["q20_only", "plain_srcnn", "arcnn"], help="which peers to train (default: all)")
    parser.add_argument("-S", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                        help="set a param for this run (YAML value), e.g. -S lr=3.0e-3")
    parser.add_argument("--work", type=Path, help="work folder to create or reuse (default: a new temp folder)")
    parser.add_argument("--label", default="", help="name of this run in experiments.jsonl")
    args = parser.parse_args()
    if not args.raw_dir.is_dir():
        sys.exit(f"quality: --raw-dir {args.raw_dir} is not a folder")
    for folder in args.eval_dirs + args.ladder_dirs:
        if not folder.is_dir():
            sys.exit(f"quality: {folder} (--eval-dirs / --ladder-dirs) is not a folder")
    settings: dict[str, Any] = {"raw_dir": str(args.raw_dir.resolve()), "time_budget": args.minutes,
                                "epochs": 1_000_000, **LONG_RUN_MODEL}
    if args.scale > 1:
        settings.update(scale=args.scale, jpeg_quality=None)
    for item in args.settings:
        key, _, value = item.partition("=")
        settings[key] = yaml.safe_load(value)
    work = args.work or Path(tempfile.mkdtemp(prefix="srcnn-quality-"))
    project = make_project(work.resolve(), settings)
    params = load_params(project / "params.yaml")
    print(f"quality: project in {project}; {args.minutes:g} min per model; params set: {settings}", flush=True)

    started = time.perf_counter()
    run([sys.executable, "-m", "dvc", "repro", "evaluate"], cwd=project)
    OUT.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    checkpoint = OUT / f"ours-{stamp}.pt"
    shutil.copy2(project / "models" / "srcnn.pt", checkpoint)
    ours, ours_info = load_model(checkpoint)
    train_info = json.loads((project / "metrics" / "train.json").read_text())
    models: dict[str, tuple[torch.nn.Module, dict[str, Any]]] = {
        "ours": (ours, {key: train_info.get(key) for key in ("steps", "seconds", "parameters")})}
    trained = {"ours": trained_qualities(ours_info)}  # each model's trained JPEG qualities, as enhance reads them
    gates = {"ours": read_gate(gate_path(project / "models" / "srcnn.pt"), project / "models" / "srcnn.pt")}
    print(f"quality: ours trained and evaluated by dvc repro in {time.perf_counter() - started:.0f} s", flush=True)
    peers = set() if args.only_ours else set(args.peers)
    if "q20_only" in peers and params.jpeg_quality is not None:
        peer = make_project(Path(f"{project}-q20-only"), {**settings, **Q20_ONLY})
        print(f"quality: training q20_only (jpeg_quality 20, not conditioned) by dvc repro in {peer} ...", flush=True)
        run([sys.executable, "-m", "dvc", "repro", "evaluate"], cwd=peer)
        peer_model, peer_checkpoint = load_model(peer / "models" / "srcnn.pt")
        trained["q20_only"] = trained_qualities(peer_checkpoint)
        gates["q20_only"] = read_gate(gate_path(peer / "models" / "srcnn.pt"), peer / "models" / "srcnn.pt")
        peer_info = json.loads((peer / "metrics" / "train.json").read_text())
        models["q20_only"] = (peer_model, {key: peer_info.get(key) for key in ("steps", "seconds", "parameters")})
    if "plain_srcnn" in peers:
        torch.manual_seed(params.seed)
        seed_way = dataclasses.replace(params, **SEED_WAY)
        plain = SRCNN.from_params(seed_way)
        models["plain_srcnn"] = (plain, train_peer("plain SRCNN 9-1-5 (seed's way)", plain, seed_way, project))
    if "arcnn" in peers:
        torch.manual_seed(params.seed)
        arcnn = ARCNN(residual=params.residual)
        models["arcnn"] = (arcnn, train_peer("AR-CNN (our loop)", arcnn, params, project))

    val = val_photos(project)
    results: dict[str, Any] = {}
    for name in models:
        trained.setdefault(name, trained_qualities({"params": {"jpeg_quality": params.jpeg_quality}}))
    for name, (model, extra) in models.items():
        print(f"quality: evaluating {name} ...", flush=True)
        rungs, gates[name] = ladder(model, val, params, trained[name], gates.get(name))
        results[name] = {**evaluate(model, val, params.border), **extra, "ladder": rungs,
                         "unsafe_rungs": gates[name].unsafe()}
    held_out = [photo for folder in args.ladder_dirs for photo in degrade_folder(folder, params, None)]
    # references that are decoded JPEGs already: a model that removes their artifacts moves away
    # from them, so their "gain" is no gain against the scene (docs/quality.md)
    history = {name: jpeg_history(clean) for name, clean, _, _ in val + held_out}
    fresh = [photo for photo in held_out if history[photo[0]] is None]
    for name, (model, _) in models.items():
        if held_out:
            print(f"quality: the ladder of {name} on {len(held_out)} held-out photos ...", flush=True)
            results[name]["held_out_ladder"] = ladder(model, held_out, params, trained[name], gates[name])[0]
        if 0 < len(fresh) < len(held_out):
            results[name]["held_out_fresh_ladder"] = ladder(model, fresh, params, trained[name], gates[name])[0]
    eval_quality = (args.eval_quality if args.eval_quality is not None
                    else None if params.jpeg_quality is None
                    else params.jpeg_quality if isinstance(params.jpeg_quality, int) else 20)
    sets: dict[str, Any] = {}
    for folder in args.eval_dirs:
        pairs = degrade_folder(folder, params, eval_quality)
        figures = {name: evaluate(model, pairs, params.border) for name, (model, _) in models.items()}
        sets[folder.name] = {"input": figures["ours"]["psnr_input"],
                             **{name: figures[name]["psnr_output"] for name in figures},
                             "ssim": {name: figures[name]["ssim"] for name in figures},
                             "papers": PAPERS.get(folder.name.lower(), {}) if params.scale == 3 else {}}

    jpeg = params.jpeg_quality
    input_name = ("bicubic" if params.scale > 1 else f"JPEG {jpeg}" if isinstance(jpeg, int)
                  else f"JPEG {jpeg[0]}–{jpeg[1]} (each photo its own)")
    set_input = "bicubic" if params.scale > 1 else f"JPEG {eval_quality}"
    print(f"\nval photos of {args.raw_dir.name}: {results['ours']['images']}, {input_name} input, luma, border {params.border}, "
          f"{args.minutes:g} min of training each")
    print(f"{'model':<14}{'params':>9}{'steps':>8}{'PSNR in':>10}{'PSNR out':>10}{'gain':>8}{'SSIM in':>9}{'SSIM out':>9}")
    for name, row in results.items():
        print(f"{name:<14}{row['parameters']:>9}{row['steps']:>8}{row['psnr_input']:>10.2f}{row['psnr_output']:>10.2f}"
              f"{row['gain']:>+8.2f}{row['ssim_input']:>9.4f}{row['ssim']:>9.4f}")
    rungs = list(results["ours"]["ladder"])
    saved = {name: quality for name, quality in history.items() if quality is not None}
    print("references that are decoded JPEGs already (quality): "
          + (", ".join(f"{name} ({quality})" for name, quality in saved.items()) or "none"))
    for key, photos in (("ladder", f"the {results['ours']['images']} val photos"),
                        ("held_out_ladder", f"{len(held_out)} held-out photos of {', '.join(str(folder) for folder in args.ladder_dirs)}"),
                        ("held_out_fresh_ladder", f"the {len(fresh)} of them whose reference is no decoded JPEG")):
        if key not in results["ours"]:
            continue
        print(f"\n{key}: {photos} clean, degraded at each JPEG quality; PSNR gain in dB (photos made worse), "
              f"as enhance restores them")
        print(f"{'model':<14}" + "".join(f"{rung:>14}" for rung in rungs))
        for name, row in results.items():
            cells = (f"{row[key][rung]['gain']:+.2f} ({row[key][rung]['worse']})"
                     + ("" if row[key][rung]["applied"] else "*") for rung in rungs)
            print(f"{name:<14}" + "".join(f"{cell:>14}" for cell in cells))
            cells = (f"{row[key][rung]['model_gain']:+.2f} ({row[key][rung]['model_worse']})" for rung in rungs)
            print(f"{'  model alone':<14}" + "".join(f"{cell:>14}" for cell in cells))
    print("* left unchanged, as enhance leaves such photos: outside the qualities the model was trained on, or where "
          "the evaluation of the val photos found it unsafe (srcnn/gate.py); 'model alone': the model run there anyway")
    ladder_checks = {key: ladder_targets(results, key) for key in ("ladder", "held_out_ladder", "held_out_fresh_ladder")
                     if key in results["ours"]}
    if params.scale == 1 and params.jpeg_quality == 20:
        print(f"papers: {PAPERS_JPEG}")
    for set_name, figures in sets.items():
        line = ", ".join(f"{name} {figures[name]:.2f}" for name in ["input", *models])
        papers = ", ".join(f"{name} {value:.2f}" for name, value in figures["papers"].items())
        print(f"{set_name} (PSNR dB, {set_input} input): {line}" + (f"   papers: {papers}" if papers else ""))
    ahead = all(results["ours"]["gain"] > results[name]["gain"] for name in results if name != "ours")
    summary = {"label": args.label, "raw_dir": str(args.raw_dir), "minutes": args.minutes, "scale": params.scale,
               "jpeg_quality": params.jpeg_quality, "eval_quality": eval_quality,
               "eval_qualities": list(params.eval_qualities), "settings": {k: v for k, v in settings.items() if k != "raw_dir"},
               "val_photos": results["ours"]["images"], **results, "sets": sets, "target_gain": TARGET_GAIN,
               "target_met": results["ours"]["gain"] >= TARGET_GAIN and ahead, "ladder_targets": ladder_checks,
               "jpeg_history": saved,
               "model": str(checkpoint),
               "work": str(project), "seconds": round(time.perf_counter() - started, 1)}
    with open(OUT / "experiments.jsonl", "a") as log:
        log.write(json.dumps(summary) + "\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
