"""Every stage's deps in dvc.yaml cover exactly the project code it runs, so `dvc status` can never
say "up to date" over results that a code change has made stale, and a change reruns no stage
that does not run the changed code.

The code a stage runs is found by following the imports of its `python -m MODULE` entry point
through the project's own modules (every import statement in a file counts, including the ones
inside functions).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

from srcnn.import_closure import code_fingerprint, code_of


@functools.lru_cache
def runs_code(entry_module: str, root: Path) -> frozenset[str]:
    return frozenset(code_of(entry_module, root))  # the files do not change while the checks run


def stale_deps(pipeline: dict, root: Path = ROOT) -> dict[str, dict[str, set[str]]]:
    """Per stage, the project code it runs but does not list in deps ("missing"), and the code it
    lists but does not run ("extra": a change there would rerun it for nothing)."""
    problems: dict[str, dict[str, set[str]]] = {}
    for stage, spec in pipeline["stages"].items():
        entry = re.search(r"(?:^|\s)-m\s+(\S+)", spec["cmd"])
        assert entry, f"stage {stage}: cmd {spec['cmd']!r} does not run `python -m MODULE`"
        runs = runs_code(entry.group(1), root)
        deps = [str(dep) for dep in spec.get("deps", [])]
        covered = {file for file in runs if any(file == dep or file.startswith(dep.rstrip("/") + "/") for dep in deps)}
        listed = {dep for dep in deps if dep.endswith(".py")}
        missing, extra = runs - covered, listed - runs
        if missing or extra:
            problems[stage] = {"missing": set(missing), "extra": set(extra)}
    return problems


def pipeline() -> dict:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text())


def test_every_stage_lists_exactly_the_code_it_runs():
    problems = stale_deps(pipeline())
    assert not problems, "dvc.yaml deps do not match the code each stage runs:\n" + "\n".join(
        f"  {stage}: add {sorted(found['missing'])}, remove {sorted(found['extra'])}"
        for stage, found in problems.items()
    )


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
    # the fingerprint that makes cached samples stale (srcnn/shards.py) covers exactly that code
    before = code_fingerprint("stages.go", tmp_path)
    (tmp_path / "srcnn/unused.py").write_text("x = 1\n")
    assert code_fingerprint("stages.go", tmp_path) == before
    (tmp_path / "srcnn/d.py").write_text("z = 2\n")  # imported only inside a function
    assert code_fingerprint("stages.go", tmp_path) != before


@pytest.mark.parametrize("stage", list(pipeline()["stages"]))  # every stage of dvc.yaml, as it grows
def test_every_stage_is_checked(stage):
    listed = [dep for dep in pipeline()["stages"][stage]["deps"] if dep.endswith(".py")]
    assert f"stages/{stage}.py" in listed
    for removed in listed:  # each code file it lists is one it runs: without it, the check names it
        broken = pipeline()
        broken["stages"][stage]["deps"].remove(removed)
        assert stale_deps(broken) == {stage: {"missing": {removed}, "extra": set()}}, removed
    unused = sorted({path.relative_to(ROOT).as_posix() for path in (ROOT / "srcnn").glob("*.py")} - set(listed))[0]
    broken = pipeline()
    broken["stages"][stage]["deps"].append(unused)
    assert stale_deps(broken) == {stage: {"missing": set(), "extra": {unused}}}
