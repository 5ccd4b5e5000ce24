"""Shared fixtures: small generated photos and a throwaway copy of the project in its own git repo."""

from __future__ import annotations

import ast
import functools
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from benchmarks.workfolder import (  # the tests import these from here too
    ALWAYS_RUN,
    ROOT,
    TINY_PARAMS,
    command_env,
    copy_project,
    project_files,
    stages_run,
    synthetic_photo,
    write_photos,
)

__all__ = ["ALWAYS_RUN", "ROOT", "TINY_PARAMS", "project_files", "stages_run", "synthetic_photo", "write_photos"]

# The suite keeps every core busy (a test process per core, each starting commands that use PyTorch's
# OpenMP threads too): an idle OpenMP thread that spins, PyTorch's default, takes the core another
# process is waiting for (a tiny evaluate stage took 6 to 13 s of CPU beside other work, 4 s with its
# threads asleep). Waiting asleep changes no result: the same threads split the same work. Set before
# PyTorch is imported, here and in every command the tests start.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


# a small network of each arch of srcnn.archs (its constructor's sizes), for fast tests
SMALL_ARCHS: dict[str, dict[str, Any]] = {
    "srcnn": dict(kernel1=5, kernel2=3, kernel3=3, filters1=8, filters2=4),
    "arcnn": dict(kernels=(5, 3, 1, 3), filters=(8, 4, 4)),
    "ffdnet": dict(depth=4, features=8),
    "ffdnet_res": dict(depth=6, features=8),
}


def run(command: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    """Run a command as a user would, with this interpreter's environment first on PATH."""
    result = subprocess.run(command, cwd=cwd, env=command_env("test"), capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def dvc(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "dvc", *args], cwd=cwd, check=check)


STARTS_A_PROCESS = {"run", "dvc", "Popen", "check_call", "check_output", "make_project", "executable"}


@functools.cache
def process_starters() -> frozenset[str]:
    """The names of the test helpers, fixtures and tests that start a process (the CLI, DVC, git,
    pip), themselves or through another function of the tests (imported from another test module too)."""
    uses: dict[str, set[str]] = {}
    for path in Path(__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef):
                names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
                names |= {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}
                names |= {arg.arg for arg in node.args.args}  # the fixtures it asks for
                uses.setdefault(node.name, set()).update(names)
    starters = {name for name, used in uses.items() if used & STARTS_A_PROCESS}
    while grown := {name for name, used in uses.items() if used & starters} - starters:
        starters |= grown
    return frozenset(starters)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that starts a process (DVC, the CLI, git, pip), itself or through a helper or fixture,
    is slow: `pytest -m "not slow"` runs the others, in-process and quick. The slow ones run first,
    so that the quick ones fill the test processes' ends, not one long test after the others are done."""
    for item in items:
        name = getattr(item, "originalname", item.name)
        if name in process_starters() or process_starters() & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable: file order otherwise


@pytest.fixture
def make_project(tmp_path: Path):
    """A function that builds a fresh copy of the project in a git repo, with generated photos
    in ``photos/`` and tiny params (plus any overrides), committed; returns its folder."""

    def build(**overrides) -> Path:
        project = copy_project(tmp_path / "project")
        write_photos(project / "photos")
        params = yaml.safe_load((project / "params.yaml").read_text())
        params.update({**TINY_PARAMS, "raw_dir": "photos", **overrides})
        (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        run(["git", "init", "-q", "-b", "main"], cwd=project)
        run(["git", "add", "-A"], cwd=project)
        run(["git", "commit", "-qm", "project"], cwd=project)
        return project

    return build
