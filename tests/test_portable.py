"""The photo tool starts on an OS without POSIX record locks (Windows): ``fcntl`` blocked in a fresh
interpreter, ``srcnn.enhance`` and ``python -m srcnn enhance --help`` still work, and the data stages,
which need the lock, say why they cannot run there."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import ROOT

# as on Windows: `import fcntl` raises ImportError
NO_FCNTL = "import sys; sys.modules['fcntl'] = None; "


def python(code: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", NO_FCNTL + code], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_enhance_imports_without_fcntl() -> None:
    result = python(
        "import srcnn.enhance, srcnn.__main__; print('fcntl' in sys.modules and sys.modules['fcntl'])", ROOT
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "None", result.stdout


def test_enhance_help_without_fcntl() -> None:
    code = "import runpy; sys.argv = ['srcnn', 'enhance', '--help']; runpy.run_module('srcnn', run_name='__main__')"
    result = python(code, ROOT)
    assert result.returncode == 0, result.stderr
    assert "--model" in result.stdout and "PHOTO" in result.stdout, result.stdout


def test_shard_writing_without_fcntl_says_why(tmp_path: Path) -> None:
    code = (
        "from srcnn.shards import ShardFolderError, writing\n"
        "try:\n"
        f"    with writing(__import__('pathlib').Path({str(tmp_path / 'shards')!r})): pass\n"
        "except ShardFolderError as error: print(error)\n"
    )
    result = python(code, ROOT)
    assert result.returncode == 0, result.stderr
    assert "shards" in result.stdout and "fcntl" in result.stdout and "WSL" in result.stdout, result.stdout
