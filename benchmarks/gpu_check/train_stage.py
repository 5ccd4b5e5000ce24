"""The train stage as the GPU check runs it: ``stages/train.py``'s own ``main()``, with DVCLive's
``Live`` replaced by ``Curves``, which writes the curves the stage logs in DVCLive's layout.

``stages/train.py`` imports ``dvclive``; a GPU machine with PyTorch but without DVC or DVCLive
(docs/gpu.md, "Without DVC") runs the stage this way. Everything else is the stage itself: the same
shards, loader workers, ``srcnn.train.fit``, ``models/srcnn.pt`` and ``metrics/train.json``; the
per-epoch curves land in ``dvclive/plots/metrics/*.tsv`` and ``dvclive/metrics.json`` as DVCLive
writes them, so ``dvc plots show`` draws them once the folder is back in a project. Run it from a
project folder (one holding params.yaml and data/tiles), as ``python -m stages.train`` would be, with
the repository on PYTHONPATH (``pipeline.stage_env`` runs every stage so):

    PYTHONPATH=REPO python -m benchmarks.gpu_check.train_stage
    PYTHONPATH=REPO python -m torch.distributed.run --standalone --nproc_per_node 2 -m benchmarks.gpu_check.train_stage
"""

from __future__ import annotations

import json
import runpy
import shutil
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any


class Curves:
    """Stands in for ``dvclive.Live`` with the calls the train stage makes: ``log_metric`` appends
    ``step<TAB>value`` to ``DIR/plots/metrics/NAME.tsv``, ``make_summary`` writes the latest values
    to ``DIR/metrics.json``; any other call does nothing. Like ``Live(resume=False)`` it starts
    afresh (a resumed stage replays its curve so far)."""

    def __init__(self, directory: str = "dvclive", *args: object, **kwargs: object) -> None:
        self.directory, self.step = Path(directory), 0
        self.latest: dict[str, float] = {}
        shutil.rmtree(self.directory / "plots" / "metrics", ignore_errors=True)

    def log_metric(self, name: str, value: float, *args: object, **kwargs: object) -> None:
        path = self.directory / "plots" / "metrics" / f"{name}.tsv"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as tsv:
            if tsv.tell() == 0:
                tsv.write(f"step\t{Path(name).name}\n")
            tsv.write(f"{self.step}\t{value}\n")
        self.latest[name] = value

    def make_summary(self, *args: object, **kwargs: object) -> None:
        summary: dict[str, Any] = {}
        for name, value in self.latest.items():
            *groups, last = name.split("/")
            node = summary
            for group in groups:
                node = node.setdefault(group, {})
            node[last] = value
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "metrics.json").write_text(json.dumps({**summary, "step": self.step}, indent=4) + "\n")

    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *args, **kwargs: None


def main() -> None:
    stub = types.ModuleType("dvclive")
    stub.__dict__["Live"] = Curves
    sys.modules["dvclive"] = stub
    sys.argv = ["stages.train", *sys.argv[1:]]
    runpy.run_module("stages.train", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
