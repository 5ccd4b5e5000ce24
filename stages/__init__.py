"""One thin entry point per DVC stage: `python -m stages.NAME`, as dvc.yaml runs them."""

from __future__ import annotations

import sys
from collections.abc import Callable


def run_stage(name: str, main: Callable[[], None]) -> None:
    """Run a stage's ``main``; Ctrl-C ends it with exit 130 and one line, without a traceback
    (every write is atomic, so nothing half-written is left)."""
    try:
        main()
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr)
        sys.exit(130)
