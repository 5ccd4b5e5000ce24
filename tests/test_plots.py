"""`dvc plots show` and `dvc plots diff` on a real run, and `dvc plots show` in a fresh clone of it: every
declared plot is in the HTML, the before/after pictures included."""

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


def test_plots_show_and_diff_have_curves_and_before_after_pictures_and_a_fresh_clone_shows_them(make_project, tmp_path):
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
    fresh_clone_shows_every_plot(project, pictures, tmp_path / "clone")

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


def fresh_clone_shows_every_plot(project, pictures: list[str], clone) -> None:
    """A fresh clone of ``project`` (its run committed) shows every plot, the before/after pictures
    (small, in git) included."""
    assert sum((project / "plots/before_after" / name).stat().st_size for name in pictures) < 150_000 * len(pictures)
    run(["git", "clone", "-q", str(project), str(clone)], cwd=project.parent)
    assert not (clone / "fresh").exists()  # (the project's own `dvc plots show -o shown` is in its commit)
    shown = dvc("plots", "show", "-o", "fresh", cwd=clone)
    assert "failed to load" not in shown.stdout + shown.stderr, shown.stdout + shown.stderr
    html = (clone / "fresh/index.html").read_text()
    for name, title in declared_plots(clone).items():
        if name != "plots/before_after":
            assert title in html, name
    for picture in pictures:
        assert f"before_after/{picture}" in html or f"before_after_{picture}" in html, picture
        assert list((clone / "fresh").rglob(f"*{picture}")), picture  # the picture itself beside the page
