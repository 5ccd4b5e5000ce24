"""The README's commands, run for real on a copy of the project with small generated photos."""
from __future__ import annotations

import json
import os
import stat

from conftest import dvc, run

STAGES = {"samples", "prepare", "tile", "train", "evaluate"}


def stale_stages(project) -> set[str]:
    return set(json.loads(dvc("status", "--json", cwd=project).stdout))


def test_repro_experiment_metrics_diff_and_nothing_to_redo(make_project):
    project = make_project()

    old_umask = os.umask(0o022)
    try:
        first = dvc("repro", cwd=project)
    finally:
        os.umask(old_umask)
    for stage in ("samples", "prepare", "tile", "train", "evaluate"):
        assert f"Running stage '{stage}'" in first.stdout, first.stdout
    scores = json.loads((project / "metrics/eval.json").read_text())
    assert scores["photos"] >= 1 and scores["tiles"] >= 1
    assert all(isinstance(value, (int, float)) for key, value in scores.items() if key != "ladder")
    assert all(isinstance(value, (int, float)) for rung in scores["ladder"].values() for value in rung.values())
    data = json.loads((project / "metrics/data.json").read_text())
    assert data["photos_used"] == 4 and data["tiles_train"] > 0 and data["tiles_val"] > 0
    assert (project / "models/srcnn.pt").is_file()
    outputs = [path for folder in ("data", "models", "metrics", "plots", "dvclive")
               for path in (project / folder).rglob("*")]
    modes = {path.relative_to(project).as_posix(): oct(stat.S_IMODE(path.stat().st_mode)) for path in outputs}
    assert {mode for mode in modes.values()} <= {"0o644", "0o755"}, modes  # as umask 022 makes any file
    assert "0o644" in {modes["metrics/train.json"], modes["metrics/eval.json"]} and modes["models/srcnn.pt"] == "0o644"
    assert stale_stages(project) == set()
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
    assert stale_stages(project) == set()

    # A code change makes exactly the stages that run that code stale.
    for module, stages in (("srcnn/pictures.py", {"evaluate"}), ("srcnn/files.py", STAGES),
                           ("srcnn/enhance.py", set())):
        original = (project / module).read_text()
        (project / module).write_text(original + "\n# changed\n")
        assert stale_stages(project) == stages, module
        (project / module).write_text(original)
    assert stale_stages(project) == set()
