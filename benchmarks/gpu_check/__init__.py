"""The GPU check: training and enhance on a CUDA GPU, each against the same code on its CPU.

One run of at most 8 minutes; run it as ``bash benchmarks/gpu_check.sh`` (docs/gpu.md).

Where each part lives:

- ``__main__.py``  the command line and the order of the parts (``measure``)
- ``check.py``     the budget, the log and gpu_check.json: each part runs through ``Check.run``
- ``pipeline.py``  the stages of dvc.yaml run without DVC; the quality, seeds and torchrun parts
- ``release.py``   the continue part: a shipped model trained on, shipped only by srcnn.release's rule
- ``speed.py``     training throughput, the loader alone, the largest batch
- ``busy.py``      how busy the GPU is during training steps (torch.profiler)
- ``enhance.py``   ``restore_rgb`` on a 12 MP photo, GPU and CPU
- ``report.py``    GPU/CPU ratios and the summary printed at the end
- ``train_stage.py`` the train stage with DVCLive's ``Live`` replaced by a stand-in
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository: params.yaml, dvc.yaml, the shipped models
