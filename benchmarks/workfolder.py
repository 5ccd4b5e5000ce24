"""What the tests and the benchmarks share to run the project's commands in a work folder: the
project's files to copy there, the environment its commands run in, generated photo-like images to
feed it, and how to read which stages a DVC run ran.

    from benchmarks.workfolder import copy_project, write_photos
    copy_project(work)                     # the project's tracked files (not its outputs, tests, benchmarks)
    write_photos(work / "photos", count=4)
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
DRIVERS = ("tests/", "benchmarks/")  # the code that drives the project from outside: never copied

# the pipeline's params shrunk so that a project of a few generated photos runs in seconds
TINY_PARAMS: dict[str, Any] = {
    "max_side": 192,
    "tile": 32,
    "stride": 32,
    "val_fraction": 0.25,
    "kernel1": 5,
    "kernel2": 1,
    "kernel3": 3,
    "filters1": 8,
    "filters2": 4,
    "epochs": 2,
    "steps_per_epoch": 3,
    "batch_size": 8,
    "crop": 24,
    "warmup_steps": 2,
    "shuffle_buffer": 64,  # about the tiles 4 photos make (8000 reads them a hundred times over to fill it)
    "eval_qualities": [10, 20, 40, 90],  # the headline rungs (srcnn.evaluation.HEADLINE_QUALITIES); the shipped
    # models are scored at each: a test that needs the whole ladder asks for it
    "eval_doubles": [],  # the double-JPEG rungs: a test that scores them asks for them
}

# stages that run on every `dvc repro` (always_changed in dvc.yaml: the scan of raw_dir), so `dvc status` lists them
ALWAYS_RUN = {
    name
    for name, stage in yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"].items()
    if stage.get("always_changed")
}


def project_files(skip: tuple[str, ...] = ("dvc.lock", "metrics/", "dvclive/", "plots/", *DRIVERS)) -> list[str]:
    """The project's files (tracked, or new and not ignored), relative to its root, less those under ``skip``."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    return [name for name in listed if name and not name.startswith(skip) and (ROOT / name).is_file()]


def copy_project(work: Path, skip: tuple[str, ...] = ("dvc.lock", "metrics/", "dvclive/", "plots/", *DRIVERS)) -> Path:
    """Copy ``project_files(skip)`` into ``work`` (made if missing); returns ``work``."""
    for name in project_files(skip):
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, work / name)
    return work


def command_env(who: str, **extra: str) -> dict[str, str]:
    """The environment a command runs in as a user's would: this interpreter's folder first on PATH
    (its dvc, its pip), no DVC analytics, a git identity named ``who``; ``extra`` added."""
    return dict(
        os.environ,
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        DVC_NO_ANALYTICS="1",
        GIT_AUTHOR_NAME=who,
        GIT_AUTHOR_EMAIL=f"{who}@example.com",
        GIT_COMMITTER_NAME=who,
        GIT_COMMITTER_EMAIL=f"{who}@example.com",
        **extra,
    )


def torchrun(processes: int, *args: str) -> list[str]:
    """``torchrun --standalone --nproc_per_node PROCESSES ARGS...`` run by this interpreter."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes), *args]


def synthetic_photo(seed: int, height: int = 150, width: int = 200) -> np.ndarray:
    """A photo-like RGB image: smooth light, hard-edged shapes and fine texture."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    image = np.zeros((height, width, 3))
    for channel in range(3):
        image[..., channel] = 90 + 60 * np.sin(x / rng.uniform(15, 40) + channel) * np.cos(y / rng.uniform(15, 40))
    for _ in range(6):  # rectangles like windows and facades
        top, left = rng.integers(0, height - 20), rng.integers(0, width - 20)
        image[top : top + rng.integers(8, 40), left : left + rng.integers(8, 40)] = rng.uniform(0, 255, 3)
    image += rng.normal(0, 6, image.shape)
    return image.clip(0, 255).astype(np.uint8)


def write_photos(folder: Path, count: int = 4) -> list[Path]:
    """``count`` synthetic photos as PNGs in ``folder`` (``photo_0.png`` ...)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number in range(count):
        path = folder / f"photo_{number}.png"
        Image.fromarray(synthetic_photo(number)).save(path)
        paths.append(path)
    return paths


def stages_run(output: str) -> set[str]:
    """The stages that a `dvc repro` or `dvc exp run` ran, by what it printed."""
    return set(re.findall(r"Running stage '([^']+)'", output))
