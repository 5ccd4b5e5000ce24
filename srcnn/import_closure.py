"""The project code a stage runs, found from its source: the static import closure of its entry
module through the project's own packages (every import statement counts, including the ones
inside functions), and a fingerprint of that code.

    code_of("stages.tile")            # {"stages/tile.py", "srcnn/tiling.py", ...}: what dvc.yaml must list
    code_fingerprint("stages.tile")   # sha256 of those files: cached samples go stale when it changes

The same closure checks the deps of dvc.yaml (tests/test_deps.py) and decides when a stage's
cached per-photo results are stale (srcnn/shards.py), so both always agree, however the stage
is started.
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
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
                base = ".".join(parts[: len(parts) - node.level + 1])
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


def code_fingerprint(entry_module: str, root: Path = ROOT) -> str:
    """sha256 of every project file that ``python -m entry_module`` runs (``code_of``), by path and content."""
    digest = hashlib.sha256()
    for name in sorted(code_of(entry_module, root)):
        digest.update(name.encode() + b"\0" + (root / name).read_bytes() + b"\0")
    return digest.hexdigest()
