"""The code's shape, read with ``ast`` (nothing runs): functions short enough to hold in one screen
(at most 60 lines in srcnn/ and stages/, 80 in benchmarks/), and benchmarks that import the project
as a package (``python -m benchmarks.NAME`` from the root): no ``sys.path`` edits, nothing from tests/."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import ROOT

MOST_LINES = {"srcnn": 60, "stages": 60, "benchmarks": 80}
NOT_CODE = {"__pycache__", "out"}  # compiled files; benchmarks/out/, the benchmarks' output (git ignores both)


def files(folder: str, pattern: str = "*") -> list[Path]:
    """The files of ``folder`` matching ``pattern``, outside NOT_CODE."""
    return sorted(
        path
        for path in (ROOT / folder).rglob(pattern)
        if path.is_file() and not NOT_CODE & set(path.relative_to(ROOT).parts)
    )


def modules(folder: str) -> list[Path]:
    return files(folder, "*.py")


def long_functions(folder: str, most: int) -> list[str]:
    """``file:function N lines`` for each function (or method) of ``folder`` over ``most`` lines."""
    found = []
    for path in modules(folder):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno is not None:
                lines = node.end_lineno - node.lineno + 1
                if lines > most:
                    found.append(f"{path.relative_to(ROOT)}:{node.name} {lines} lines")
    return found


@pytest.mark.parametrize("folder", list(MOST_LINES))
def test_no_function_is_longer_than_its_folder_allows(folder):
    found = long_functions(folder, MOST_LINES[folder])
    assert not found, f"over {MOST_LINES[folder]} lines in {folder}/ (split it into named steps): " + "; ".join(found)


def test_no_benchmark_edits_sys_path():
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in files("benchmarks")
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1)
        if "sys.path" in line
    ]
    assert not found, "sys.path in " + "; ".join(found) + " (benchmarks run as python -m benchmarks.NAME from the root)"


def test_no_benchmark_imports_from_the_tests():
    found = []
    for path in modules("benchmarks"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            found += [
                f"{path.relative_to(ROOT)}:{node.lineno} imports {name}"
                for name in names
                if name.split(".")[0] in ("tests", "conftest")
            ]
    assert not found, "; ".join(found) + " (what tests and benchmarks share lives in benchmarks/workfolder.py)"
