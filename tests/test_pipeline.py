"""The README's commands, run for real on a copy of the project with small generated photos."""

from __future__ import annotations

import json
import os
import stat

from conftest import ALWAYS_RUN, TINY_PARAMS, dvc, run, stages_run

STAGES = {"samples", "prepare", "tile", "train", "evaluate"}
# the docs' command for the experiments table (docs/experiments.md)
EXP_TABLE = ("exp", "show", "--no-pager", "--only-changed", "--keep", ".*_gain$", "--drop", ".*/")


def stale_stages(project) -> set[str]:
    return set(json.loads(dvc("status", "--json", cwd=project).stdout))


def leaves(tree: dict, prefix: str = "") -> set[str]:
    """The dotted names of a nested dict's leaves, as `dvc exp show` names its columns."""
    names = set()
    for key, value in tree.items():
        names |= leaves(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}"}
    return names


def metric_columns(shown: list[dict]) -> set[str]:
    """Every metric column of `dvc exp show --json`'s rows (commits and their experiments), as PATH:NAME."""
    columns = set()
    rows = list(shown)
    while rows:
        row = rows.pop()
        for path, file in ((row.get("data") or {}).get("metrics") or {}).items():
            columns |= {f"{path}:{name}" for name in leaves(file.get("data") or {})}
        rows += [rev for experiment in row.get("experiments") or [] for rev in experiment["revs"]]
    return columns


def test_repro_experiment_metrics_diff_and_nothing_to_redo(make_project, monkeypatch):
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
    assert all(isinstance(value, (int, float)) for key, value in scores.items() if key not in ("ladder", "shipped"))
    assert all(isinstance(value, (int, float)) for rung in scores["ladder"].values() for value in rung.values())
    data = json.loads((project / "metrics/data.json").read_text())
    assert data["photos_used"] == 4 and data["tiles_train"] > 0 and data["tiles_val"] > 0
    assert (project / "models/srcnn.pt").is_file()
    outputs = [
        path for folder in ("data", "models", "metrics", "plots", "dvclive") for path in (project / folder).rglob("*")
    ]
    modes = {path.relative_to(project).as_posix(): oct(stat.S_IMODE(path.stat().st_mode)) for path in outputs}
    assert {mode for mode in modes.values()} <= {"0o644", "0o755"}, modes  # as umask 022 makes any file
    assert "0o644" in {modes["metrics/train.json"], modes["metrics/eval.json"]} and modes["models/srcnn.pt"] == "0o644"
    assert stale_stages(project) == ALWAYS_RUN
    run(["git", "add", "-A"], cwd=project)
    run(["git", "commit", "-qm", "baseline"], cwd=project)

    experiment = dvc("exp", "run", "-S", "lr=0.002", cwd=project)
    ran = {
        stage
        for stage in ("samples", "prepare", "tile", "train", "evaluate")
        if f"Running stage '{stage}'" in experiment.stdout
    }
    assert ran == {"train", "evaluate"}, experiment.stdout

    diff = dvc("metrics", "diff", "--json", cwd=project)
    changes = json.loads(diff.stdout)
    assert "psnr_output" in changes["metrics/summary.json"], diff.stdout
    # the whole evaluation, ladder included, one option away
    detail = json.loads(dvc("metrics", "diff", "--all", "--json", "--targets", "metrics/eval.json", cwd=project).stdout)
    assert "ladder.q10.model_gain" in detail["metrics/eval.json"], detail

    shown = dvc("exp", "show", "--json", cwd=project)
    assert "psnr_output" in shown.stdout and "0.002" in shown.stdout
    shown = json.loads(shown.stdout)
    columns = metric_columns(shown)
    # the headline figures, and the gains against the shipped models (luma and RGB): few enough to read
    assert "metrics/summary.json:psnr_gain" in columns and len(columns) <= 16, sorted(columns)
    assert "metrics/summary.json:gain_over_shipped" in columns, sorted(columns)

    # The docs' table fits a 240-column terminal: the experiment and the headline figures, nothing cut.
    monkeypatch.setenv("COLUMNS", "240")
    table = dvc(*EXP_TABLE, cwd=project).stdout
    name = next(row for row in shown if row["rev"] != "workspace")["experiments"][0]["revs"][0]["name"]
    assert name in table and "psnr_gain" in table and "…" not in table, table
    assert max(len(line) for line in table.splitlines()) <= 240, table
    monkeypatch.delenv("COLUMNS")

    again = dvc("repro", cwd=project)
    assert stages_run(again.stdout) == ALWAYS_RUN, again.stdout
    assert stale_stages(project) == ALWAYS_RUN

    # A code change makes exactly the stages that run that code stale.
    for module, stages in (
        ("srcnn/pictures.py", {"evaluate"}),
        ("srcnn/files.py", STAGES),
        ("srcnn/enhance.py", set()),
    ):
        original = (project / module).read_text()
        (project / module).write_text(original + "\n# changed\n")
        assert stale_stages(project) == stages | ALWAYS_RUN, module
        (project / module).write_text(original)
    assert stale_stages(project) == ALWAYS_RUN


def test_travelled_pairs_train_and_the_ladder_scores_double_jpegs(make_project):
    project = make_project(degradation="travelled", eval_doubles=[[10, 30], [30, 10]])
    dvc("repro", cwd=project)
    prepared = json.loads((project / "data/prepared/report.json").read_text())["photos"]
    assert all(photo["degradation"]["kind"] for photo in prepared) and all("strength" in photo for photo in prepared)
    scores = json.loads((project / "metrics/eval.json").read_text())
    rungs = [f"q{quality}" for quality in TINY_PARAMS["eval_qualities"]]
    assert list(scores["ladder"]) == [*rungs, "d10_30", "d30_10"]
    assert all(1 <= scores["ladder"][rung]["told_quality"] <= 100 for rung in ("d10_30", "d30_10"))
    assert list(scores["shipped"]["gray"]["ladder"]) == [*rungs, "d10_30", "d30_10"]
    gate = json.loads((project / "models/srcnn.ladder.json").read_text())
    assert gate["rungs"].keys() == {rung[1:] for rung in rungs}  # the double JPEGs count at the ladder's rungs
