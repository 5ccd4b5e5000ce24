"""Training robustness through the real commands: resume after SIGKILL, divergence, DDP (the exp queue:
test_archs.py)."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import dvc, run

from benchmarks.workfolder import torchrun


def loss_curve(project) -> list[float]:
    with open(project / "dvclive/plots/metrics/loss.tsv") as handle:
        return [float(row["loss"]) for row in csv.DictReader(handle, delimiter="\t")]


def kill_training_after_its_first_checkpoint(project) -> None:
    """`dvc repro -f -s train` (the train stage alone, its data up to date), killed (SIGKILL, the whole
    process group) once the first epoch's checkpoint is written."""
    checkpoint = project / "data/train_checkpoint.pt"
    env = dict(os.environ, PATH=f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ['PATH']}")
    killed = subprocess.Popen(
        [sys.executable, "-m", "dvc", "repro", "-f", "-s", "train"],
        cwd=project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and time.monotonic() < deadline and killed.poll() is None:
        time.sleep(0.05)
    assert checkpoint.exists(), "no checkpoint appeared while training"
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait()
    assert not (project / "models/srcnn.pt").exists()


def test_training_killed_mid_run_resumes_to_the_same_result(make_project):
    project = make_project(precision="fp32", epochs=8, steps_per_epoch=15)
    dvc("repro", "train", cwd=project)  # up to train: the evaluate stage has no part in this
    uninterrupted = json.loads((project / "metrics/train.json").read_text())
    model_bytes = (project / "models/srcnn.pt").read_bytes()
    assert not (project / "data/train_checkpoint.pt").exists()  # removed once training is complete

    kill_training_after_its_first_checkpoint(project)

    resumed = dvc("repro", "train", cwd=project)
    assert "resuming" in resumed.stdout + resumed.stderr
    result = json.loads((project / "metrics/train.json").read_text())
    assert result["loss"] == uninterrupted["loss"] and result["val_psnr"] == uninterrupted["val_psnr"]
    assert len(loss_curve(project)) == 8
    import torch

    before = torch.load(__import__("io").BytesIO(model_bytes), weights_only=True)["state_dict"]
    after = torch.load(project / "models/srcnn.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(before[key], after[key]) for key in before)


def test_a_code_change_starts_training_afresh(make_project):
    project = make_project(precision="fp32", epochs=8, steps_per_epoch=15)
    dvc("repro", "tile", cwd=project)
    kill_training_after_its_first_checkpoint(project)
    model_code = project / "srcnn/archs/srcnn.py"
    model_code.write_text(model_code.read_text() + "\n# the same network, but other code\n")
    rerun = dvc("repro", "train", cwd=project)
    assert "Running stage 'train'" in rerun.stdout
    assert "resuming" not in rerun.stdout + rerun.stderr  # the checkpoint was made by other code
    assert len(loss_curve(project)) == 8
    assert json.loads((project / "metrics/train.json").read_text())["steps"] == 8 * 15


class Interrupted(Exception):
    """Stands for a kill right after an epoch's checkpoint was written."""


def test_a_checkpoint_resumes_only_the_same_run(tmp_path, capsys):
    import dataclasses

    import torch

    from srcnn.archs import SRCNN
    from srcnn.params import Params, params_with
    from srcnn.train import fit

    pairs = torch.randint(0, 256, (6, 2, 24, 24), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    params = params_with(
        epochs=2,
        steps_per_epoch=3,
        batch_size=4,
        crop=16,
        tile=24,
        stride=24,
        filters1=4,
        filters2=4,
        precision="fp32",
        device="cpu",
    )

    def train(params: Params, checkpoint: Path | None = None, on_epoch=None, code: str = "") -> tuple[SRCNN, int]:
        """A model trained by fit from the same initial weights, and the steps this call ran."""
        torch.manual_seed(0)
        model, steps = SRCNN(5, 1, 3, 4, 4), list[int]()
        fit(model, pairs, pairs, params, checkpoint, on_epoch=on_epoch, on_step=steps.append, code=code)
        return model, len(steps)

    def interrupt(record: dict[str, float]) -> None:
        raise Interrupted

    checkpoint = tmp_path / "checkpoint.pt"

    def killed_after_its_first_epoch(params: Params) -> None:
        checkpoint.unlink(missing_ok=True)
        with pytest.raises(Interrupted):
            train(params, checkpoint, on_epoch=interrupt)
        capsys.readouterr()

    def same_weights(a: SRCNN, b: SRCNN) -> bool:
        return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))

    uninterrupted, steps = train(params)
    assert steps == 6
    killed_after_its_first_epoch(params)
    resumed, steps = train(params, checkpoint)
    assert "resuming" in capsys.readouterr().err and steps == 3  # only the second epoch ran
    assert same_weights(resumed, uninterrupted)  # bit for bit on a CPU in fp32

    killed_after_its_first_epoch(params)
    other_code, steps = train(params, checkpoint, code="other code")
    assert "resuming" not in capsys.readouterr().err and steps == 6
    assert same_weights(other_code, uninterrupted)  # from scratch: the same as a run never interrupted

    other_lr = dataclasses.replace(params, lr=0.002)
    killed_after_its_first_epoch(params)
    other, steps = train(other_lr, checkpoint)
    assert "resuming" not in capsys.readouterr().err and steps == 6
    assert same_weights(other, train(other_lr)[0])


def test_divergence_stops_with_a_message_naming_lr_and_leaves_no_model(make_project):
    project = make_project(lr=10.0, warmup_steps=0, lr_schedule="constant", epochs=3)
    result = dvc("repro", cwd=project, check=False)
    assert result.returncode != 0
    assert "diverged" in result.stderr and "lr=10.0" in result.stderr, result.stderr
    assert not (project / "models/srcnn.pt").exists()
    assert not (project / "data/train_checkpoint.pt").exists()


@pytest.mark.skipif(not __import__("torch").distributed.is_available(), reason="torch.distributed missing")
def test_two_gloo_processes_each_on_their_own_shards_train_as_well_as_one(make_project):
    from conftest import synthetic_photo
    from PIL import Image

    project = make_project(precision="fp32", epochs=4, steps_per_epoch=15, batch_size=8, photos_per_shard=1)
    for number in range(4, 12):
        Image.fromarray(synthetic_photo(number)).save(project / f"photos/photo_{number}.png")
    dvc("repro", "train", cwd=project)
    single = json.loads((project / "metrics/train.json").read_text())
    run(
        torchrun(2, "-m", "stages.train"),
        cwd=project,
    )
    double = json.loads((project / "metrics/train.json").read_text())
    assert len(loss_curve(project)) == 4 and double["steps"] == single["steps"] == 60
    assert abs(double["val_psnr"] - single["val_psnr"]) < 0.3, (single, double)


# Two processes whose clocks disagree: right before the processes read the clock (every
# CLOCK_STEPS steps), the second is held up (in on_step) for longer than the whole budget, so that
# by its own clock the time is up while by the first's it is not.
RANKS_WITH_A_SLOW_ONE = """
import sys
import time

import torch
import torch.distributed as dist

from srcnn.archs import SRCNN
from srcnn.params import params_with
from srcnn.train import CLOCK_STEPS, fit

dist.init_process_group("gloo")
rank = dist.get_rank()
params = params_with(epochs=1000, steps_per_epoch=5, batch_size=4, crop=16, tile=24, stride=24, filters1=4,
                     filters2=4, precision="fp32", device="cpu", time_budget=0.05)  # 3 s
pairs = torch.randint(0, 256, (16, 2, 24, 24), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
torch.manual_seed(0)
model = SRCNN(5, 1, 3, 4, 4)
pause = lambda step: time.sleep(4) if rank == 1 and step == CLOCK_STEPS else None  # rank 1 falls behind
history = fit(model, pairs, pairs, params, on_step=pause)
torch.save({"weights": model.state_dict(), "steps": history.steps}, f"{sys.argv[1]}/rank{rank}.pt")
dist.destroy_process_group()
"""


@pytest.mark.skipif(not __import__("torch").distributed.is_available(), reason="torch.distributed missing")
@pytest.mark.slow  # two training processes
def test_processes_under_a_time_budget_stop_together_with_the_same_weights(tmp_path):
    import torch
    from conftest import ROOT

    script = tmp_path / "ranks.py"
    script.write_text(RANKS_WITH_A_SLOW_ONE)
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    ranks = subprocess.Popen(
        torchrun(2, str(script), str(tmp_path)),
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = ranks.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(ranks.pid, signal.SIGKILL)
        output, _ = ranks.communicate()
        pytest.fail(f"the processes hung (one left training while the other waited for it):\n{output}")
    assert ranks.returncode == 0, output
    first, second = (torch.load(tmp_path / f"rank{rank}.pt", weights_only=True) for rank in (0, 1))
    assert first["steps"] == second["steps"] < 1000 * 5, (first["steps"], second["steps"])  # the clock stopped both
    assert all(torch.equal(first["weights"][key], second["weights"][key]) for key in first["weights"])


def test_batch_size_auto_trains_a_cpu_as_before_and_fills_a_gpu_with_the_lr_lr_scaling_gives():
    import dataclasses
    import math

    import torch

    from srcnn.archs import SRCNN
    from srcnn.params import ParamsError, params_with
    from srcnn.train import batch_and_lr, fit

    cpu, gpu = torch.device("cpu"), torch.device("cuda", 0)
    params = params_with(batch_size="auto", lr=1e-3, lr_scaling="none")
    assert batch_and_lr(params, cpu) == (16, 1e-3) and batch_and_lr(params, gpu) == (512, 1e-3)
    assert batch_and_lr(params_with(batch_size="auto", lr_scaling="sqrt"), gpu) == (
        512,
        pytest.approx(1e-3 * math.sqrt(32)),
    )
    assert batch_and_lr(params_with(batch_size=64, lr_scaling="linear"), gpu) == (64, pytest.approx(4e-3))
    assert batch_and_lr(params_with(batch_size=64, lr_scaling="sqrt"), cpu) == (64, pytest.approx(2e-3))
    for key, value in (("batch_size", "big"), ("batch_size", 0), ("lr_scaling", "cube")):
        with pytest.raises(ParamsError, match=key):
            params_with(**{key: value})

    # on a CPU, auto is the batch of 16 it always was: the same weights, bit for bit
    pairs = torch.randint(0, 256, (40, 2, 24, 24), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    tiny = params_with(epochs=1, steps_per_epoch=3, crop=16, tile=24, stride=24, precision="fp32", device="cpu")

    def trained(batch_size) -> list[torch.Tensor]:
        torch.manual_seed(0)
        model = SRCNN(5, 1, 3, 4, 4)
        fit(model, pairs, pairs, dataclasses.replace(tiny, batch_size=batch_size))
        return list(model.state_dict().values())

    auto, sixteen, eight = trained("auto"), trained(16), trained(8)
    assert all(torch.equal(a, b) for a, b in zip(auto, sixteen, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(auto, eight, strict=True))
