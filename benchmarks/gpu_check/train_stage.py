"""The train stage as the GPU check runs it: ``stages/train.py``'s own ``main()``, with DVCLive's
``Live`` replaced by an object that accepts every call and does nothing.

``stages/train.py`` imports ``dvclive``; a GPU machine with PyTorch but without DVC or DVCLive
(docs/gpu.md, "Without DVC") runs the stage this way. Everything else is the stage itself: the same
shards, loader workers, ``srcnn.train.fit``, ``models/srcnn.pt`` and ``metrics/train.json``; only
the per-epoch curves in ``dvclive/`` are not written. Run it from a project folder (one holding
params.yaml and data/tiles), as ``python -m stages.train`` would be:

    python /path/to/benchmarks/gpu_check/train_stage.py
    python -m torch.distributed.run --standalone --nproc_per_node 2 /path/to/benchmarks/gpu_check/train_stage.py
"""
from __future__ import annotations

import runpy
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class NoLive:
    """Stands in for ``dvclive.Live``: takes any arguments, any attribute and any call, and logs nothing."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        self.step = 0

    def __getattr__(self, name: str):
        return lambda *args, **kwargs: None


def main() -> None:
    sys.path[0] = str(ROOT)  # the project, not this script's folder, whose module names are the check's
    stub = types.ModuleType("dvclive")
    stub.Live = NoLive
    sys.modules["dvclive"] = stub
    sys.argv = ["stages.train", *sys.argv[1:]]
    runpy.run_module("stages.train", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
