"""`dvc plots show` and `dvc plots diff` on a real run: every declared plot is in the HTML."""

from __future__ import annotations

import json

import yaml
from conftest import dvc, run

EXPECTED = {
    "Loss per epoch",
    "Train PSNR per epoch (dB)",
    "Val PSNR per epoch (dB)",
    "plots/before_after",
    "metrics/eval_photos.csv",
}


def declared_plots(project) -> dict[str, str]:
    """Plot id → the text that names it in the HTML (its title), from dvc.yaml."""
    config = yaml.safe_load((project / "dvc.yaml").read_text())
    plots: dict[str, str] = {}
    for entry in config.get("plots", []):
        name, props = next(iter(entry.items())) if isinstance(entry, dict) else (entry, {})
        plots[name] = str((props or {}).get("title", name))
    for stage in config["stages"].values():
        for entry in stage.get("plots", []):
            name, props = next(iter(entry.items())) if isinstance(entry, dict) else (entry, {})
            plots[name] = str((props or {}).get("title", name))
    return plots


def test_plots_show_and_diff_have_curves_and_before_after_pictures(make_project):
    project = make_project()
    dvc("repro", cwd=project)
    plots = declared_plots(project)
    assert set(plots) >= EXPECTED
    pictures = sorted(path.name for path in (project / "plots/before_after").glob("*.png"))
    assert pictures

    shown = dvc("plots", "show", "-o", "shown", cwd=project)
    html = (project / "shown/index.html").read_text()
    for name, title in plots.items():
        if name == "plots/before_after":
            for picture in pictures:
                assert f"before_after/{picture}" in html or f"before_after_{picture}" in html, picture
        else:
            assert title in html, (name, shown.stdout)
    rows = json.loads(dvc("plots", "show", "--json", cwd=project).stdout)["data"]
    epochs = [point for plot in rows["Val PSNR per epoch (dB)"] for point in plot["content"]["data"]["values"]]
    assert len(epochs) == 2  # TINY_PARAMS: two epochs

    run(["git", "add", "-A"], cwd=project)
    run(["git", "commit", "-qm", "baseline"], cwd=project)
    dvc("exp", "run", "-S", "lr=0.003", cwd=project)
    dvc("plots", "diff", "HEAD", "-o", "diffed", cwd=project)  # HEAD against the experiment in the workspace
    html = (project / "diffed/index.html").read_text()
    for name, title in plots.items():
        if name != "plots/before_after":
            assert title in html, name
    for picture in pictures:  # one copy of each picture per revision
        assert html.count(f"before_after/{picture}") + html.count(f"before_after_{picture}") >= 2, picture
    data = json.loads(dvc("plots", "diff", "HEAD", "--json", cwd=project).stdout)["data"]
    gains = data["metrics/eval_photos.csv"][0]["content"]["data"]["values"]
    assert {row["rev"] for row in gains} == {"HEAD", "workspace"}


def test_a_fresh_clone_shows_every_plot_the_before_after_pictures_included(make_project, tmp_path):
    project = make_project()
    dvc("repro", cwd=project)
    run(["git", "add", "-A"], cwd=project)
    run(["git", "commit", "-qm", "run"], cwd=project)
    pictures = sorted(path.name for path in (project / "plots/before_after").glob("*.png"))
    assert pictures
    assert sum((project / "plots/before_after" / name).stat().st_size for name in pictures) < 150_000 * len(pictures)
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(project), str(clone)], cwd=tmp_path)
    shown = dvc("plots", "show", "-o", "shown", cwd=clone)
    assert "failed to load" not in shown.stdout + shown.stderr, shown.stdout + shown.stderr
    html = (clone / "shown/index.html").read_text()
    for name, title in declared_plots(clone).items():
        if name != "plots/before_after":
            assert title in html, name
    for picture in pictures:
        assert f"before_after/{picture}" in html or f"before_after_{picture}" in html, picture
        assert list((clone / "shown").rglob(f"*{picture}")), picture  # the picture itself beside the page
