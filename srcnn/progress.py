"""Progress bars that redraw often on a terminal and only every few seconds in a log (dvc repro, CI):
of photos, and of the tiles within one large photo (``tiles_progress``)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from tqdm import tqdm


def progress(iterable: Any = None, **options: Any) -> tqdm:
    interactive = sys.stderr.isatty()
    options.setdefault("mininterval", 0.2 if interactive else 15.0)
    options.setdefault("dynamic_ncols", True)
    return tqdm(iterable, **options)


def tiles_progress(name: str) -> Callable[[int, int], None]:
    """An ``on_tile(done, total)`` for ``srcnn.inference.restore_rgb``: a bar of the tiles of one
    photo, under the bar of photos, for photos of more than one tile; gone when the photo is done."""
    bar: tqdm | None = None

    def on_tile(done: int, total: int) -> None:
        nonlocal bar
        if total <= 1:
            return
        if bar is None:
            bar = progress(total=total, desc=f"  {name}", unit="tile", leave=False, position=1)
        bar.update(done - bar.n)
        if done == total:
            bar.close()

    return on_tile
