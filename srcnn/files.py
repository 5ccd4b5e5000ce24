"""Atomic outputs: a killed stage never leaves a file or folder that looks complete; files' hashes.

Files are written to a temporary name in the same folder and renamed into place; folders are
built under a temporary name and swapped in whole when the stage has finished them. Both end up
with the permissions the user's umask gives any new file or folder (0644 and 0755 under umask 022).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}")
    os.close(handle)
    temp = Path(name)
    try:
        yield temp
        if temp.exists():  # mkstemp makes it private; the output follows the umask like any new file
            temp.chmod(0o666 & ~_umask())
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def write_text_atomic(path: str | Path, text: str) -> None:
    with atomic_path(path) as temp:
        temp.write_text(text)


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``path``; on success it replaces ``path`` whole."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.*.tmp"):  # left by a stage that was killed
        shutil.rmtree(stale, ignore_errors=True)
    temp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    temp.chmod(0o777 & ~_umask())  # mkdtemp makes it private; the output is an ordinary folder
    try:
        yield temp
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            shutil.rmtree(old)
        os.replace(temp, path)
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def file_sha256(path: str | Path) -> str:
    """The sha256 of a file's bytes, in hex: what a gate or a fine-tuned model records of a checkpoint."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
