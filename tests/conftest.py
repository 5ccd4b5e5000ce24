"""Shared fixtures: small generated photos and a throwaway copy of the project in its own git repo."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]

TINY_PARAMS = {
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
}

# a small network of each arch of srcnn.archs (its constructor's sizes), for fast tests
SMALL_ARCHS: dict[str, dict[str, Any]] = {
    "srcnn": dict(kernel1=5, kernel2=3, kernel3=3, filters1=8, filters2=4),
    "arcnn": dict(kernels=(5, 3, 1, 3), filters=(8, 4, 4)),
    "ffdnet": dict(depth=4, features=8),
    "ffdnet_res": dict(depth=6, features=8),
}


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


# stages that run on every `dvc repro` (always_changed in dvc.yaml: the scan of raw_dir), so `dvc status` lists them
ALWAYS_RUN = {
    name
    for name, stage in yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"].items()
    if stage.get("always_changed")
}


def stages_run(output: str) -> set[str]:
    """The stages that a `dvc repro` or `dvc exp run` ran, by what it printed."""
    return set(re.findall(r"Running stage '([^']+)'", output))


def write_photos(folder: Path, count: int = 4) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number in range(count):
        path = folder / f"photo_{number}.png"
        Image.fromarray(synthetic_photo(number)).save(path)
        paths.append(path)
    return paths


def run(command: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    """Run a command as a user would, with this interpreter's environment first on PATH."""
    env = dict(
        os.environ,
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        DVC_NO_ANALYTICS="1",
        GIT_AUTHOR_NAME="test",
        GIT_AUTHOR_EMAIL="test@example.com",
        GIT_COMMITTER_NAME="test",
        GIT_COMMITTER_EMAIL="test@example.com",
    )
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def dvc(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "dvc", *args], cwd=cwd, check=check)


def project_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    skip = ("dvc.lock", "metrics/", "dvclive/", "tests/", "benchmarks/")
    return [name for name in listed if name and not name.startswith(skip) and (ROOT / name).is_file()]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that builds a project (to run DVC or the stages in it) is slow: `pytest -m "not slow"` skips it."""
    for item in items:
        if "make_project" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def make_project(tmp_path: Path):
    """A function that builds a fresh copy of the project in a git repo, with generated photos
    in ``photos/`` and tiny params (plus any overrides), committed; returns its folder."""

    def build(**overrides) -> Path:
        project = tmp_path / "project"
        for name in project_files():
            (project / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, project / name)
        write_photos(project / "photos")
        params = yaml.safe_load((project / "params.yaml").read_text())
        params.update({**TINY_PARAMS, "raw_dir": "photos", **overrides})
        (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        run(["git", "init", "-q", "-b", "main"], cwd=project)
        run(["git", "add", "-A"], cwd=project)
        run(["git", "commit", "-qm", "project"], cwd=project)
        return project

    return build
