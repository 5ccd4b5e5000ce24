"""The README's commands, run for real on a copy of the project with small generated photos."""
from __future__ import annotations

import json

from conftest import dvc, run


def test_repro_experiment_metrics_diff_and_nothing_to_redo(make_project):
    project = make_project()

    first = dvc("repro", cwd=project)
    for stage in ("samples", "prepare", "tile", "train", "evaluate"):
        assert f"Running stage '{stage}'" in first.stdout, first.stdout
    scores = json.loads((project / "metrics/eval.json").read_text())
    assert scores["photos"] >= 1 and scores["tiles"] >= 1
    assert all(isinstance(value, (int, float)) for value in scores.values())
    data = json.loads((project / "metrics/data.json").read_text())
    assert data["photos_used"] == 4 and data["tiles_train"] > 0 and data["tiles_val"] > 0
    assert (project / "models/srcnn.pt").is_file()
    run(["git", "add", "-A"], cwd=project)
    run(["git", "commit", "-qm", "baseline"], cwd=project)

    experiment = dvc("exp", "run", "-S", "lr=0.002", cwd=project)
    ran = {stage for stage in ("samples", "prepare", "tile", "train", "evaluate")
           if f"Running stage '{stage}'" in experiment.stdout}
    assert ran == {"train", "evaluate"}, experiment.stdout

    diff = dvc("metrics", "diff", "--json", cwd=project)
    changes = json.loads(diff.stdout)
    assert "psnr_output" in changes["metrics/eval.json"], diff.stdout

    shown = dvc("exp", "show", "--json", cwd=project)
    assert "psnr_output" in shown.stdout and "0.002" in shown.stdout

    again = dvc("repro", cwd=project)
    assert "Running stage" not in again.stdout, again.stdout
