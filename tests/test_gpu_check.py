"""The GPU check (benchmarks/gpu_check.sh) needs a CUDA machine to measure anything; here it runs end
to end in its ``--cpu`` mode, tiny sizes, so that it keeps working on machines without one. Every
part a GPU run reports must be in the JSON, the GPU-only ones as skipped, every CPU figure must be
positive, and the figures read from the stages' metrics must be those the stages wrote. The
arithmetic of the results (GPU busy time, the seeds' shortfalls) is checked on figures worked out by hand."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from conftest import ROOT

from benchmarks.gpu_check.busy import busy_time
from benchmarks.gpu_check.check import PARTS as CHECK_PARTS
from benchmarks.gpu_check.pipeline import TRAIN_RUNNER, compare_seeds, pipeline_metrics, stage_command
from srcnn.files import file_sha256

PARTS = ("mode", "complete", "seconds", "machine", *CHECK_PARTS, "errors")  # the report's keys


def positive(entry: dict, *keys: str) -> None:
    for key in keys:
        assert isinstance(entry.get(key), (int, float)) and entry[key] > 0, (key, entry)


def metrics(work: Path, name: str) -> dict:
    return json.loads((work / "metrics" / name).read_text())


@pytest.mark.slow  # trains and runs the stages
def test_the_gpu_check_runs_on_the_cpu_and_reports_every_part(tmp_path):
    out, work = tmp_path / "out", tmp_path / "work"
    pretrained = ROOT / "models" / "pretrained"
    shipped_files = {path.name: file_sha256(path) for path in sorted(pretrained.iterdir())}
    # one thread: on a small machine shared with other work, spinning OpenMP threads can make a step 50× slower
    env = dict(os.environ, OUT=str(out), PYTHON=sys.executable, TMPDIR=str(tmp_path), OMP_NUM_THREADS="1")
    finished = subprocess.run(
        [
            "bash",
            "benchmarks/gpu_check.sh",
            "--cpu",
            "--work",
            str(work),
            "--quality-param",
            "arch=ffdnet_res",
            "--quality-param",
            "ffdnet_depth=16",
            # the colour run starts from the shipped luma model, named as in the project
            "--quality-run",
            "colour",
            "channels=ycbcr",
            "init=models/pretrained/restorer.pt",
            # the shipped colour model trained on through the stages, then the promotion rule: at an lr too
            # small to change it, it cannot beat itself, so it must be kept aside and nothing shipped
            "--continue",
            "colour",
            "--continue-param",
            "lr=1.0e-12",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert finished.returncode == 0, finished.stdout[-4000:] + finished.stderr[-4000:]
    assert sorted(path.name for path in out.iterdir()) == [
        "continue-colour.tar",
        "gpu_check.json",
        "gpu_check.log",
        "profile.txt",
        "quality-colour.tar",
        "quality.tar",
    ]
    assert "exit status 0" in (out / "gpu_check.log").read_text()
    report = json.loads((out / "gpu_check.json").read_text())
    assert set(PARTS) <= set(report)
    assert report["mode"] == "cpu" and report["complete"] and report["errors"] == [], report["errors"]
    assert report["machine"]["gpus"] == 0 and report["machine"]["cpu_count"] >= 1

    pipeline = report["pipeline"]
    assert set(pipeline) == {"gpu", "cpu", "ratio"} and "skipped" in pipeline["gpu"] and pipeline["ratio"] is None
    cpu = pipeline["cpu"]
    assert list(cpu["stages"]) == ["samples", "prepare", "tile", "train", "evaluate"]
    positive(cpu["stages"], *cpu["stages"])
    positive(cpu, "seconds")
    # the figures the stages wrote in the pipeline's folder (--work keeps it)
    evaluation = metrics(work / "cpu", "eval.json")
    assert cpu["psnr_gain"] == evaluation["psnr_gain"] and cpu["eval"]["psnr_output"] == evaluation["psnr_output"]
    assert cpu["psnr_gain_positive"] is (evaluation["psnr_gain"] > 0)
    assert cpu["train"] == metrics(work / "cpu", "train.json")
    assert cpu["train"]["steps"] == 6  # the tiny params: 2 epochs of 3 steps

    continued = report["continue"]["colour"]  # from the shipped model, with its chain's last params
    assert continued["train"]["init_sha256"] == shipped_files["restorer-colour.pt"] and continued["train"]["steps"] == 6
    assert continued["train"]["arch"] == "ffdnet_res" and continued["overrides"]["channels"] == "ycbcr"
    assert continued["eval"]["shipped"]["colour"]["ladder"]["q20"]["shipped_gain"] > 0
    assert continued["promoted"] is False and "does not beat" in continued["verdict"], continued.get("verdict")
    assert "val photos q20" in continued["verdict"] and "held out q20" in continued["verdict"]
    assert {path.name: file_sha256(path) for path in sorted(pretrained.iterdir())} == shipped_files
    with tarfile.open(out / "continue-colour.tar") as tar:  # kept aside: the candidate and its held-out figures
        assert {"models/srcnn.pt", "models/srcnn.ladder.json", "held_out.json", "metrics/eval.json"} <= set(
            tar.getnames()
        )
        held_out_file = tar.extractfile("held_out.json")
        assert held_out_file is not None
        held_out = json.loads(held_out_file.read())
    assert held_out["ladder_dirs"] == ["set5", "set14"] and "q20" in held_out["held_out_ladder"]

    throughput = report["throughput"]
    assert set(throughput) == {"gpu", "cpu", "ratio", "data"} and "skipped" in throughput["gpu"]
    assert "train tiles of the pipeline" in throughput["data"]
    positive(throughput["cpu"], "tiles_per_s", "ms_per_step", "steps")

    assert "skipped" in report["gpu_busy"] and report["gpu_busy"]["cpu_profiler_ran"]

    loader = report["loader"]
    assert set(loader) == {"batch_8", "batch_16"}
    for entry in loader.values():
        assert entry["workers"] == 0 and entry["tile"] == [32, 32]
        positive(entry, "batches", "tiles_per_s", "feeds_training_tiles_per_s")

    quality = report["quality"]  # --cpu: the sample photos, training capped at 3 s
    assert quality["minutes"] == 0.05 and quality["overrides"]["raw_dir"].endswith("samples")
    assert list(quality["stages"]) == ["prepare", "tile", "train", "evaluate"]
    assert set(quality["ladder_gain"]) == {"q20", "q60"} and isinstance(quality["q20_gain"], float)
    assert set(quality["ladder_model_gain"]) == {"q20", "q60"} and isinstance(
        quality["ladder_model_gain"]["q20"], float
    )

    # beside it, at the same time: the colour run; each run's model, gate, metrics and curves come back as a tar
    colour = report["quality_runs"]["colour"]
    assert colour["overrides"]["channels"] == "ycbcr" and colour["kept"] == "quality-colour.tar"
    assert colour["train"]["steps"] > 0 and set(colour["ladder_rgb_gain"]) == {"q20", "q60"}
    assert colour["train"]["init_sha256"] == file_sha256(ROOT / "models/pretrained/restorer.pt")
    assert quality["train"]["arch"] == colour["train"]["arch"] == "ffdnet_res" and "init" not in quality["train"]
    with tarfile.open(out / "quality-colour.tar") as tar:
        names = set(tar.getnames())
        assert {
            "models/srcnn.pt",
            "models/srcnn.ladder.json",
            "metrics/train.json",
            "metrics/eval.json",
            "params.yaml",
            "dvclive/metrics.json",
            "dvclive/plots/metrics/val/rgb_psnr.tsv",
        } <= names
        curve_file = tar.extractfile("dvclive/plots/metrics/val/psnr.tsv")
        assert curve_file is not None
        curve = curve_file.read().decode().splitlines()
    # DVCLive's layout: a header, then one row per epoch, the last the val PSNR train.json reports
    assert curve[0] == "step\tpsnr" and len(curve) == 1 + colour["train"]["epochs"]
    assert float(curve[-1].split("\t")[1]) == pytest.approx(colour["train"]["val_psnr"])

    # the pipeline's train stage, killed once its checkpoint holds an epoch, resumes and ends as planned
    resume = report["resume"]
    assert (
        resume["resumed"]
        and resume["killed_at_epoch"] >= 1
        and resume["steps"] == resume["steps_uninterrupted"] == 8 * 3
    )
    assert not resume["checkpoint_left"]

    seeds = report["seeds"]  # --cpu: seed 0, ours and q20_only for 6 steps each, side by side
    assert seeds["steps"] == 6 and list(seeds["seeds"]) == ["0"]
    pair = seeds["seeds"]["0"]
    assert pair["steps"] == {"ours": 6, "q20_only": 6}
    for model in ("ours", "q20_only"):  # each model's ladder as its own evaluate stage wrote it
        ladder = metrics(work / "seeds" / f"{model}_seed0", "eval.json")["ladder"]
        assert set(pair[model]) == set(ladder) == {"q20", "q60"}
        for rung, figures in ladder.items():
            assert pair[model][rung]["gain"] == figures["psnr_gain"], (model, rung)
            assert pair[model][rung]["model_gain"] == figures["model_gain"], (model, rung)
        assert metrics(work / "seeds" / f"{model}_seed0", "train.json")["steps"] == 6
    assert pair["q20_only"]["q60"]["gain"] == 0.0  # q20_only was trained at 20 alone: enhance leaves q60 as it is
    assert isinstance(pair["q20_shortfall"], float) and isinstance(seeds["q20_shortfall_mean"], float)
    assert set(seeds["stage_seconds"]) == {"ours_seed0", "q20_only_seed0"}

    enhance = report["enhance"]
    assert set(enhance) >= {"gpu", "gpu_tile_2048", "cpu", "ratio"} and enhance["model"] == "pipeline"
    assert "skipped" in enhance["gpu"] and "skipped" in enhance["gpu_tile_2048"]
    positive(enhance["cpu"], "seconds", "megapixels_per_s", "psnr_db")

    batch = report["largest_batch"]
    assert [entry["batch_size"] for entry in batch["tried"]] == [8, 16, 32] and batch["stopped_by"] == "cap"
    positive(batch, "batch_size", "tiles_per_s", "best_tiles_per_s")

    compiled = report["compile"]
    positive(compiled["off"], "tiles_per_s")
    positive(compiled["default"], "tiles_per_s")
    assert compiled["default"]["options"] == {"backend": "eager"} and "skipped" in compiled["reduce-overhead"]
    assert "skipped" in report["torchrun"]


def test_stage_commands_from_dvc_yaml_run_without_dvc():
    assert stage_command("python -m stages.samples data/samples") == [
        sys.executable,
        "-m",
        "stages.samples",
        "data/samples",
    ]
    assert stage_command("python -m stages.train") == [sys.executable, "-m", TRAIN_RUNNER]
    assert stage_command("torchrun --standalone --nproc_per_node 4 -m stages.train") == [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "4",
        "-m",
        TRAIN_RUNNER,
    ]


def write_eval(folder: Path, psnr_gain: float, ladder: dict[str, float]) -> None:
    """A metrics/eval.json with ``psnr_gain`` and a ladder of the given gains (no photo worse)."""
    (folder / "metrics").mkdir(parents=True)
    rungs = {
        name: {"psnr_gain": gain, "photos_worse": 0, "model_gain": gain, "model_photos_worse": 0}
        for name, gain in ladder.items()
    }
    (folder / "metrics" / "eval.json").write_text(
        json.dumps(
            {"psnr_input": 30.0, "psnr_output": round(30.0 + psnr_gain, 4), "psnr_gain": psnr_gain, "ladder": rungs}
        )
    )


@pytest.mark.parametrize("gain, positive", [(-0.0123, False), (0.0, False), (0.4821, True)])
def test_the_pipeline_figures_are_the_metrics_the_stages_wrote(tmp_path, gain, positive):
    write_eval(tmp_path, gain, {"q20": 1.0})
    train = {"steps": 1000, "val_psnr": 37.02, "parameters": 62465}
    (tmp_path / "metrics" / "train.json").write_text(json.dumps(train))

    figures = pipeline_metrics(tmp_path)

    assert figures["psnr_gain"] == gain and figures["psnr_gain_positive"] is positive
    assert figures["train"] == train
    assert figures["eval"] == {"psnr_input": 30.0, "psnr_output": round(30.0 + gain, 4), "psnr_gain": gain}


def test_the_q20_shortfall_per_seed_and_its_mean(tmp_path):
    # ours and q20_only at quality 20 for three seeds, worked out by hand: 1.52 − 1.45 = 0.07,
    # 2.26 − 2.13 = 0.13, 1.82 − 1.75 = 0.07; mean 0.27 / 3 = 0.09. Seed 3's ladder has no quality 20.
    gains = {0: (1.45, 1.52), 1: (2.13, 2.26), 2: (1.75, 1.82)}
    for seed, (ours, peer) in gains.items():
        write_eval(tmp_path / f"ours_seed{seed}", 0.5, {"q20": ours, "q60": 0.9})
        write_eval(tmp_path / f"q20_only_seed{seed}", 0.5, {"q20": peer, "q60": 0.0})
    write_eval(tmp_path / "ours_seed3", 0.5, {"q60": 0.9})
    write_eval(tmp_path / "q20_only_seed3", 0.5, {"q60": 0.0})

    compared = compare_seeds(tmp_path, [0, 1, 2, 3])

    assert {seed: entry["q20_shortfall"] for seed, entry in compared["seeds"].items()} == {
        "0": 0.07,
        "1": 0.13,
        "2": 0.07,
        "3": None,
    }
    assert compared["q20_shortfall_mean"] == 0.09
    assert (
        compared["seeds"]["1"]["ours"]["q20"]["gain"] == 2.13
        and compared["seeds"]["1"]["q20_only"]["q20"]["gain"] == 2.26
    )


def test_gpu_busy_time_is_the_union_of_the_gpu_intervals():
    # 0–10 and 5–15 overlap (15 µs), 25–26 lies within 20–30 (10 µs), 40–40 is empty: 25 µs busy
    assert busy_time([(20, 30), (0, 10), (25, 26), (5, 15), (40, 40)]) == 25
    assert busy_time([(0, 4), (4, 6)]) == 6  # back to back
    assert busy_time([]) == 0
