"""Progress bars that redraw often on a terminal and only every few seconds in a log (dvc repro, CI)."""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm


def progress(iterable: Any = None, **options: Any) -> tqdm:
    interactive = sys.stderr.isatty()
    options.setdefault("mininterval", 0.2 if interactive else 15.0)
    options.setdefault("dynamic_ncols", True)
    return tqdm(iterable, **options)
