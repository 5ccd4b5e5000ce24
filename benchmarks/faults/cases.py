"""The special cases beside the kills: models whose weights are NaN, infinite or zero must stop
enhance with an error naming the model and write no changed photo; ``enhance DIR -o DIR/out`` run
three times must write the same outputs each time and never nest out/out. Both run enhance from
the project's own folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from benchmarks.workfolder import ROOT

from .project import write_jpegs


def enhance_exit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "srcnn", "enhance", *args], cwd=ROOT, capture_output=True, text=True)


def broken_model_case(work: Path) -> dict[str, int]:
    """NaN, infinite and all-zero models on 3 JPEGs: photos written changed (0 expected), runs that
    exited 1 naming the model (3 expected)."""
    from srcnn.archs import SRCNN
    from srcnn.inference import save_model

    write_jpegs(work / "jpegs", 3)
    changed = named = 0
    for fill in (float("nan"), float("inf"), 0.0):
        model = SRCNN(kernel1=9, kernel2=5, kernel3=5, filters1=8, filters2=4, residual=True)
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.fill_(fill)
        path = work / f"model_{fill}.pt"
        save_model(path, model, info={"params": {"scale": 1}})
        out = work / f"out_{fill}"
        result = enhance_exit(str(work / "jpegs"), "-o", str(out), "--model", str(path), "--force")
        named += result.returncode == 1 and str(path) in result.stderr
        for photo in sorted((work / "jpegs").iterdir()):
            written = out / (photo.stem + ".png")
            if written.exists():
                with Image.open(written) as image, Image.open(photo) as original:
                    changed += not np.array_equal(np.asarray(image), np.asarray(original.convert("RGB")))
    return {"changed": changed, "named": named}


def nested_outputs_case(work: Path) -> dict[str, int]:
    """``enhance DIR -o DIR/out`` three times: runs that exited 0 with the same outputs as the first
    (3 expected), nested out/out folders (0 expected)."""
    write_jpegs(work, 2)
    model = str(ROOT / "models" / "pretrained" / "restorer.pt")
    same, first = 0, None
    for _ in range(3):
        result = enhance_exit(str(work), "-o", str(work / "out"), "--model", model, "--force", "--overwrite")
        outputs = {path.name: path.read_bytes() for path in (work / "out").iterdir() if path.is_file()}
        first = first or outputs
        same += result.returncode == 0 and outputs == first
    return {"same_runs": same, "nested": int((work / "out" / "out").exists())}
