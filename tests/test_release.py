"""The promotion rule as code: a candidate ships only when it beats the shipped model at every rung,
on the val photos and on the held-out photos; the runs that made a shipped model can be rerun."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml
from conftest import ROOT, dvc, run

from srcnn.archs import ARCHS
from srcnn.files import file_sha256
from srcnn.gate import Comparison, Gate, gate_path, write_gate
from srcnn.inference import save_model
from srcnn.release import Refused, main, promote

RUNGS = ("q10", "q20", "q95")


def project(tmp_path, monkeypatch):
    """A folder with the shipped colour model, its card and chain, and a candidate evaluated against it."""
    monkeypatch.chdir(tmp_path)
    shipped = tmp_path / "models" / "pretrained"
    shipped.mkdir(parents=True)
    for name in ("restorer-colour.pt", "restorer-colour.ladder.json", "restorer-colour.params.yaml"):
        shutil.copy2(ROOT / "models" / "pretrained" / name, shipped / name)
    card = {"ladder_dirs": ["set5", "set14"], **card_ladders((1.5, 1.4, 0))}
    (shipped / "restorer-colour.json").write_text(json.dumps(card))
    model = ARCHS["srcnn"](kernel1=5, kernel2=3, kernel3=3, filters1=8, filters2=4)
    save_model("models/srcnn.pt", model, info={"params": {"channels": "ycbcr", "init": "x.pt"}, "steps": 10})
    comparison = Comparison("models/pretrained/restorer-colour.pt", file_sha256(shipped / "restorer-colour.pt"), {})
    gate = Gate((10, 90), {10: True, 20: True, 95: False}, file_sha256("models/srcnn.pt"), 2, {"colour": comparison})
    write_gate(gate_path("models/srcnn.pt"), gate)
    ladder = {r: {"gain": g, "shipped_gain": s} for r, g, s in zip(RUNGS, (1.6, 1.5, 0), (1.5, 1.4, 0), strict=True)}
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "eval.json").write_text(json.dumps({"shipped": {"colour": {"ladder": ladder}}}))
    return shipped


def card_ladders(colour_gains, all_gains=(1.0, 0.9, 0)):
    """A held-out card's ladders: the colour model is judged on its colour photos' RGB gains only."""
    return {
        key: {r: {"rgb_gain": g} for r, g in zip(RUNGS, gains, strict=True)}
        for key, gains in (("held_out_ladder", all_gains), ("held_out_colour_ladder", colour_gains))
    }


def held_out(tmp_path, gains, all_gains=(1.0, 0.9, 0)):
    path = tmp_path / "held_out.json"
    path.write_text(json.dumps({"ladder_dirs": ["set5", "set14"], **card_ladders(gains, all_gains)}))
    return path


def test_a_candidate_that_loses_one_held_out_rung_is_refused_and_nothing_is_written(tmp_path, monkeypatch):
    shipped = project(tmp_path, monkeypatch)
    before = file_sha256(shipped / "restorer-colour.pt")
    with pytest.raises(Refused, match=r"held out q20: \+1\.3000 dB against \+1\.4000"):
        promote("colour", held_out(tmp_path, (1.6, 1.3, 0)))
    assert file_sha256(shipped / "restorer-colour.pt") == before
    assert main(["promote", "colour", "--held-out", str(tmp_path / "held_out.json")]) == 1


def test_a_candidate_better_at_every_rung_ships_as_the_next_version(tmp_path, monkeypatch):
    shipped = project(tmp_path, monkeypatch)
    # behind on all held-out photos, two of them gray, which enhance restores with the gray photos' model
    command = promote("colour", held_out(tmp_path, (1.6, 1.5, 0), all_gains=(0.9, 0.8, 0)))
    assert "git tag -a restorer-colour-pretrained@v1.1.0" in command
    assert "dvc artifacts get REPO restorer-colour-pretrained --rev v1.1.0" in command
    assert file_sha256(shipped / "restorer-colour.pt") == file_sha256("models/srcnn.pt")
    chain = yaml.safe_load((shipped / "restorer-colour.params.yaml").read_text())
    assert chain["version"] == "1.1.0" and chain["runs"][-1]["params"]["init"] == "previous"


def test_a_colour_candidate_is_not_judged_without_colour_photos(tmp_path, monkeypatch):
    project(tmp_path, monkeypatch)
    (tmp_path / "metrics" / "eval.json").write_text(json.dumps({"shipped": {"colour": {"photos": 0, "ladder": {}}}}))
    with pytest.raises(Refused, match="val photos: none that the colour model is judged on"):
        promote("colour", held_out(tmp_path, (1.6, 1.5, 0)))
    card = json.loads((tmp_path / "models" / "pretrained" / "restorer-colour.json").read_text())
    del card["held_out_colour_ladder"]  # a card scored before the colour ladder existed
    (tmp_path / "models" / "pretrained" / "restorer-colour.json").write_text(json.dumps(card))
    project_eval = {"colour": {"ladder": {r: {"gain": 1, "shipped_gain": 0} for r in RUNGS}}}
    (tmp_path / "metrics" / "eval.json").write_text(json.dumps({"shipped": project_eval}))
    with pytest.raises(Refused, match="the shipped model's card has no held_out_colour_ladder"):
        promote("colour", held_out(tmp_path, (1.6, 1.5, 0)))


def test_the_runs_that_made_a_shipped_model_are_rerun_each_from_the_one_before(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    assert main(["rebuild", "colour", "--bench", "/photos", "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    runs = [line for line in lines if "dvc exp run" in line]
    assert len(runs) == 4 and "-S init=null" in runs[0] and "-S batch_size=512" in runs[0]
    assert all("-S init=models/release-start.pt" in run for run in runs[1:])
    assert '-S raw_dir=["/photos/urban40","/photos/train400"]' in runs[0] and "-S time_budget=0" in runs[0]


def test_dvc_artifacts_get_fetches_each_tagged_version_of_a_shipped_model(make_project, tmp_path):
    project = make_project()
    shipped = project / "models" / "pretrained" / "restorer.pt"
    first = file_sha256(shipped)
    run(["git", "tag", "-a", "restorer-pretrained@v1.0.0", "-m", "v1.0.0"], cwd=project)
    shutil.copyfile(project / "models" / "pretrained" / "restorer-colour.pt", shipped)  # the next version
    run(["git", "commit", "-qam", "next"], cwd=project)
    run(["git", "tag", "-a", "restorer-pretrained@v1.1.0", "-m", "v1.1.0"], cwd=project)
    old, new = tmp_path / "v1.0.0.pt", tmp_path / "newest.pt"
    dvc("artifacts", "get", str(project), "restorer-pretrained", "--rev", "v1.0.0", "-o", str(old), cwd=tmp_path)
    dvc("artifacts", "get", str(project), "restorer-pretrained", "-o", str(new), cwd=tmp_path)
    assert file_sha256(old) == first == file_sha256(ROOT / "models" / "pretrained" / "restorer.pt")
    assert file_sha256(new) == file_sha256(shipped) != first
