"""The smaller promises of safety: raw_dir never trains on the project's outputs, a split too small
is named, gray photos in a colour model are warned of, a NaN model gets no gate, Ctrl-C ends
quietly, stale temporaries are swept, and one output folder never mixes two runs' photos:
python -m pytest tests/test_safety_small.py"""

from __future__ import annotations

import json
import sys

import yaml
from conftest import run, write_photos


def set_params(project, **values) -> None:
    params = yaml.safe_load((project / "params.yaml").read_text())
    params.update(values)
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def test_a_raw_dir_of_the_project_root_leaves_out_the_projects_outputs(make_project):
    project = make_project()
    for output in ("plots/before_after", "data/samples", "models", "dvc_plots", "docs/images"):  # and the pages
        write_photos(project / output, count=1)
    set_params(project, raw_dir=".")
    result = run([sys.executable, "-m", "stages.scan"], cwd=project)
    listing = json.loads((project / "data/raw_files.json").read_text())
    assert sorted(photo["name"] for photo in listing["photos"]) == [f"photos__photo_{n}.png" for n in range(4)]
    left_out = [other["file"] for other in listing["others"]]
    expected = {"data/", "models/", "plots/", "dvc_plots/", "docs/"}
    assert expected <= {file.removeprefix("./") for file in left_out}, left_out
    assert "before_after" not in result.stdout + result.stderr


def test_a_raw_dir_of_one_photo_is_told_why_a_split_is_empty(make_project):
    project = make_project()
    for extra in sorted((project / "photos").iterdir())[1:]:
        extra.unlink()
    run([sys.executable, "-m", "stages.prepare"], cwd=project)
    result = run([sys.executable, "-m", "stages.tile"], cwd=project, check=False)
    assert result.returncode == 1
    assert "smaller than" not in result.stderr, result.stderr
    assert "all went to" in result.stderr and "at least 2 different photos" in result.stderr, result.stderr


def test_gray_photos_with_a_colour_model_stop_the_tile_stage(make_project):
    from PIL import Image

    project = make_project(channels="ycbcr")
    for path in (project / "photos").iterdir():
        with Image.open(path) as photo:
            photo.convert("L").convert("RGB").save(path)
    run([sys.executable, "-m", "stages.prepare"], cwd=project)
    result = run([sys.executable, "-m", "stages.tile"], cwd=project, check=False)
    assert result.returncode == 1
    assert "every train photo is gray" in result.stderr and "channels: y" in result.stderr, result.stderr
    set_params(project, channels="y")
    run([sys.executable, "-m", "stages.tile"], cwd=project)


def test_the_evaluate_stage_refuses_a_nan_model_as_enhance_does_and_writes_no_gate(make_project):
    import math

    import torch
    from test_enhance import busy_model, enhance

    from srcnn.inference import save_model

    project = make_project()
    run([sys.executable, "-m", "stages.prepare"], cwd=project)
    run([sys.executable, "-m", "stages.tile"], cwd=project)
    model = busy_model()
    with torch.no_grad():
        model.reconstruct.weight.fill_(math.nan)
    save_model(project / "models/srcnn.pt", model, info={"params": {"scale": 1}})
    result = run([sys.executable, "-m", "stages.evaluate"], cwd=project, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    message = "models/srcnn.pt: the model is broken: its weights reconstruct.weight hold NaN"
    assert message in result.stderr, result.stderr
    assert not (project / "models/srcnn.ladder.json").exists()
    photo = project / "photos/photo_0.png"
    restored = enhance(str(photo), "-o", "out", "--model", "models/srcnn.pt", cwd=project)
    assert restored.returncode != 0 and message in restored.stderr, restored.stderr


def test_ctrl_c_in_a_stage_ends_with_exit_130_and_one_line(make_project):
    import signal
    import subprocess

    from benchmarks import stop_at

    project = make_project()
    stage = subprocess.Popen(
        stop_at.command(project / "data/prepared", 1, "pause", "stages.prepare", pattern="*.tar"),
        cwd=project,
        env=stop_at.environment(project),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert stage.stdout is not None and stage.stdout.readline() == b"paused\n"
    stage.send_signal(signal.SIGINT)  # as Ctrl-C would, half-way through writing the shards
    _, stderr = stage.communicate(timeout=120)
    text = stderr.decode()
    assert stage.returncode == 130 and "Traceback" not in text, text
    assert "prepare: interrupted\n" in text and text.count("interrupted") == 1, text  # after a progress bar


def test_a_write_sweeps_the_temporaries_that_killed_writes_of_the_same_file_left(tmp_path):
    import os
    import subprocess

    from srcnn.files import write_text_atomic

    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(ended.stdout)
    stale = [tmp_path / f".report.{dead}-k1ll3d00.tmp.json", tmp_path / ".report.0ld0ne00.tmp.json"]
    kept = [
        tmp_path / f".report.{os.getpid()}-wr1t1ng0.tmp.json",  # a write under way in a running process
        tmp_path / f".other.{dead}-k1ll3d00.tmp.json",  # another file's: swept when that file is written
    ]
    for temporary in stale + kept:
        temporary.write_text("half")
    os.utime(stale[1], (0, 0))  # written long before this process started, by a writer that left no id
    write_text_atomic(tmp_path / "report.json", "{}\n")
    assert (tmp_path / "report.json").read_text() == "{}\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(["report.json", *(path.name for path in kept)])


def test_a_second_run_with_other_photos_of_the_same_names_refuses_to_keep_a_mix(tmp_path):
    from conftest import ROOT
    from test_enhance import enhance, write_model
    from test_safety import jpeg

    model = write_model(tmp_path / "model.pt")
    for folder, seed in (("first", 1), ("second", 7)):
        (tmp_path / folder).mkdir()
        for number in range(2):
            jpeg(tmp_path / folder / f"p{number}.jpg", seed + number)
    out = tmp_path / "out"
    assert enhance(str(tmp_path / "first"), "-o", str(out), "--model", str(model), cwd=ROOT).returncode == 0
    written = {path.name: path.read_bytes() for path in out.iterdir()}
    again = enhance(str(tmp_path / "first"), "-o", str(out), "--model", str(model), cwd=ROOT)
    assert again.returncode == 0 and "2 kept" in again.stdout, again.stdout + again.stderr
    other = enhance(str(tmp_path / "second"), "-o", str(out), "--model", str(model), cwd=ROOT)
    assert other.returncode == 1, other.stdout + other.stderr
    assert "p0.png exists and is not this photo's restoration" in other.stderr and "p1.png" in other.stderr
    assert {path.name: path.read_bytes() for path in out.iterdir()} == written
    replaced = enhance(str(tmp_path / "second"), "-o", str(out), "--model", str(model), "--overwrite", cwd=ROOT)
    assert replaced.returncode == 0 and {path.name: path.read_bytes() for path in out.iterdir()} != written
