"""Every stage's deps in dvc.yaml cover exactly the project code it runs, so `dvc status` can never
say "up to date" over results that a code change has made stale, and a change reruns no stage
that does not run the changed code.

The code a stage runs is found by following the imports of its `python -m MODULE` entry point
through the project's own modules (every import statement in a file counts, including the ones
inside functions).
"""
from __future__ import annotations

import ast
import copy
import re
from pathlib import Path

import pytest
import yaml

from conftest import ROOT

PACKAGES = ("srcnn", "stages")


def module_file(name: str, root: Path = ROOT) -> Path | None:
    """The project file of a dotted module name, or None when it is not the project's."""
    if name.split(".")[0] not in PACKAGES:
        return None
    base = root.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_modules(path: Path, root: Path = ROOT) -> set[str]:
    """Dotted names of every module that ``path`` imports, resolved against the project."""
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
    if path.name == "__init__.py":
        package = ".".join(path.relative_to(root).parts[:-1])
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)  # `from srcnn import metrics`
    return names


def code_of(entry_module: str, root: Path = ROOT) -> set[str]:
    """Project files (relative paths) that ``python -m entry_module`` runs: the module, the
    modules it imports, transitively, and the packages' ``__init__.py`` on the way."""
    found: set[Path] = set()
    queue = [entry_module]
    while queue:
        name = queue.pop()
        parts = name.split(".")
        for depth in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__.py and a/b/__init__.py
            path = module_file(".".join(parts[:depth]), root)
            if path is not None and path not in found:
                found.add(path)
                queue.extend(imported_modules(path, root))
    return {path.relative_to(root).as_posix() for path in found}


def stale_deps(pipeline: dict, root: Path = ROOT) -> dict[str, dict[str, set[str]]]:
    """Per stage, the project code it runs but does not list in deps ("missing"), and the code it
    lists but does not run ("extra": a change there would rerun it for nothing)."""
    problems = {}
    for stage, spec in pipeline["stages"].items():
        entry = re.search(r"(?:^|\s)-m\s+(\S+)", spec["cmd"])
        assert entry, f"stage {stage}: cmd {spec['cmd']!r} does not run `python -m MODULE`"
        runs = code_of(entry.group(1), root)
        deps = [str(dep) for dep in spec.get("deps", [])]
        covered = {file for file in runs if any(file == dep or file.startswith(dep.rstrip("/") + "/") for dep in deps)}
        listed = {dep for dep in deps if dep.endswith(".py")}
        missing, extra = runs - covered, listed - runs
        if missing or extra:
            problems[stage] = {"missing": missing, "extra": extra}
    return problems


def pipeline() -> dict:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text())


def test_every_stage_lists_exactly_the_code_it_runs():
    problems = stale_deps(pipeline())
    assert not problems, "dvc.yaml deps do not match the code each stage runs:\n" + "\n".join(
        f"  {stage}: add {sorted(found['missing'])}, remove {sorted(found['extra'])}"
        for stage, found in problems.items())


def test_the_check_catches_a_removed_and_an_unneeded_entry():
    for stage, spec in pipeline()["stages"].items():
        modules = [dep for dep in spec["deps"] if dep.startswith("srcnn/")]
        for removed in (modules[0], modules[-1]):
            broken = copy.deepcopy(pipeline())
            broken["stages"][stage]["deps"].remove(removed)
            assert stale_deps(broken) == {stage: {"missing": {removed}, "extra": set()}}
    broken = pipeline()
    broken["stages"]["train"]["deps"].append("srcnn/enhance.py")
    assert stale_deps(broken) == {"train": {"missing": set(), "extra": {"srcnn/enhance.py"}}}


def test_imports_are_followed_through_every_form(tmp_path):
    (tmp_path / "srcnn").mkdir()
    (tmp_path / "stages").mkdir()
    files = {
        "stages/__init__.py": "",
        "stages/go.py": "import json\nfrom srcnn.a import x\n",
        "srcnn/__init__.py": "",
        "srcnn/a.py": "from . import b\nfrom .c import y\n\ndef late():\n    from .d import z\n",
        "srcnn/b.py": "import srcnn.e\n",
        "srcnn/c.py": "",
        "srcnn/d.py": "",
        "srcnn/e.py": "",
        "srcnn/unused.py": "",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    assert code_of("stages.go", tmp_path) == set(files) - {"srcnn/unused.py"}


@pytest.mark.parametrize("stage", ["samples", "prepare", "tile", "train", "evaluate"])
def test_every_stage_is_checked(stage):
    assert stage in pipeline()["stages"]
