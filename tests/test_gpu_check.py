"""The GPU check (benchmarks/gpu_check.sh) runs only when a session is lent a GPU, which is seldom:
here it runs end to end in its ``--cpu`` mode, tiny sizes, so that the script cannot rot between
those sessions. Every part the GPU run reports must be in the JSON, the GPU-only ones as skipped,
and every CPU figure must be positive."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import ROOT

PARTS = ("mode", "complete", "seconds", "machine", "pipeline", "loader", "throughput", "gpu_busy", "quality",
         "seeds", "enhance", "largest_batch", "compile", "torchrun", "errors")


def positive(entry: dict, *keys: str) -> None:
    for key in keys:
        assert isinstance(entry.get(key), (int, float)) and entry[key] > 0, (key, entry)


def test_the_gpu_check_runs_on_the_cpu_and_reports_every_part(tmp_path):
    out = tmp_path / "out"
    # one thread: on a small machine shared with other work, spinning OpenMP threads can make a step 50× slower
    env = dict(os.environ, OUT=str(out), PYTHON=sys.executable, TMPDIR=str(tmp_path), OMP_NUM_THREADS="1")
    finished = subprocess.run(["bash", "benchmarks/gpu_check.sh", "--cpu"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stdout[-4000:] + finished.stderr[-4000:]
    assert sorted(path.name for path in out.iterdir()) == ["gpu_check.json", "gpu_check.log", "profile.txt"]
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
    assert isinstance(cpu["psnr_gain"], float) and cpu["psnr_gain_positive"] == (cpu["psnr_gain"] > 0)
    assert cpu["train"]["steps"] == 6  # the tiny params: 2 epochs of 3 steps

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
    assert set(quality["ladder_model_gain"]) == {"q20", "q60"} and isinstance(quality["ladder_model_gain"]["q20"], float)

    seeds = report["seeds"]  # --cpu: seed 0, ours and q20_only for 6 steps each, side by side
    assert seeds["steps"] == 6 and list(seeds["seeds"]) == ["0"]
    pair = seeds["seeds"]["0"]
    assert pair["steps"] == {"ours": 6, "q20_only": 6}
    assert set(pair["ours"]) == set(pair["q20_only"]) == {"q20", "q60"}
    assert pair["q20_only"]["q60"]["gain"] == 0.0  # q20_only was trained at 20 alone: enhance leaves q60 as it is
    assert pair["q20_shortfall"] == round(pair["q20_only"]["q20"]["gain"] - pair["ours"]["q20"]["gain"], 4)
    assert seeds["q20_shortfall_mean"] == pair["q20_shortfall"]
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
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from gpu_check import TRAIN_RUNNER, stage_command

    assert stage_command("python -m stages.samples data/samples") == [sys.executable, "-m", "stages.samples", "data/samples"]
    assert stage_command("python -m stages.train") == [sys.executable, str(TRAIN_RUNNER)]
    assert stage_command("torchrun --standalone --nproc_per_node 4 -m stages.train") == [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "4", str(TRAIN_RUNNER)]
