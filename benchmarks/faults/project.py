"""The fault benchmark's project: a copy of the project in a temporary git repo with generated photos,
seed tiles and JPEGs (``build_project``), its saved states (``Project.snapshot`` and ``restore``), and
the file trees compared between them: what is compared byte for byte and what is normalized first.

    project = Project(work / "project", work / "states", project_env())
    build_project(project)   # then the state "empty": no outputs
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import torch
import yaml
from PIL import Image

from benchmarks.workfolder import TINY_PARAMS, command_env, copy_project, synthetic_photo, write_photos
from srcnn.color import to_luma_u8
from srcnn.degrade import degrade
from srcnn.tiling import join_pair

MUTABLE = ("data", "models", "metrics", "dvclive", "plots", "out", "out_next")  # what the commands write
PARAMS = {
    **TINY_PARAMS,
    "raw_dir": "photos",
    "precision": "fp32",
    "loader_workers": 0,
    "workers": 2,
    "photos_per_shard": 2,
}
OUTPUTS = {  # what each command writes that is compared (state and lock files beside the folders are not)
    "prepare": ["data/prepared"],
    "tile": ["data/tiles", "metrics/data.json"],
    "train": ["models/srcnn.pt", "metrics/train.json", "dvclive"],
    "evaluate": [
        "metrics/eval.json",
        "metrics/eval_photos.csv",
        "metrics/eval_ladder.csv",
        "plots/before_after",
        "models/srcnn.ladder.json",
    ],
    "pack-tiles": ["data/tiles"],
    "enhance": ["out"],
}
STATE_FILES = {
    "prepare": ["data/.prepared.state.json"],
    "tile": ["data/.tiles.state.json"],
    "pack-tiles": ["data/.tiles.state.json"],
}
TIMINGS = ("seconds", "tiles_per_second")  # wall-clock figures, never the same twice


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tree(root: Path, paths: list[str]) -> dict[str, bytes]:
    """Every file under ``paths`` (files or folders, relative to ``root``), hidden ones too."""
    found = {}
    for name in paths:
        path = root / name
        if path.is_file():
            found[name] = path.read_bytes()
        elif path.is_dir():
            for file in sorted(path.rglob("*")):
                if file.is_file():
                    found[str(file.relative_to(root))] = file.read_bytes()
    return found


def visible(files: dict[str, bytes]) -> dict[str, bytes]:
    """Without temporaries (hidden names): what a reader or a user sees."""
    return {name: data for name, data in files.items() if not Path(name).name.startswith(".")}


def subset(files: dict[str, bytes], name: str) -> dict[str, bytes]:
    """The files of ``files`` at ``name`` or under it."""
    return {key: value for key, value in files.items() if key == name or key.startswith(name + "/")}


def model_view(data: bytes) -> bytes:
    """A model checkpoint as what it holds: format, config, each tensor's dtype, shape and bytes, info less timings."""
    state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    tensors = {
        key: [str(value.dtype), list(value.shape), sha256(value.contiguous().numpy().tobytes())]
        for key, value in state["state_dict"].items()
    }
    info = {key: value for key, value in state.get("info", {}).items() if key not in TIMINGS}
    return json.dumps(
        {"format": state.get("format"), "config": state.get("config"), "tensors": tensors, "info": info},
        sort_keys=True,
        default=str,
    ).encode()


def normalized(files: dict[str, bytes], model_file: bytes | None) -> dict[str, bytes]:
    """``files`` with what is not compared byte for byte replaced by what is (see the docstring)."""
    result = {}
    for name, data in files.items():
        if name.endswith("srcnn.pt"):
            data = model_view(data)
        elif name == "metrics/train.json":
            data = json.dumps({k: v for k, v in json.loads(data).items() if k not in TIMINGS}).encode()
        elif name.endswith("srcnn.ladder.json"):
            gate = json.loads(data)
            belongs = model_file is not None and gate.get("model_sha256") == sha256(model_file)
            data = json.dumps({**gate, "model_sha256": "this model" if belongs else "another model"}).encode()
        result[name] = data
    return result


def input_digests(root: Path, paths: list[str]) -> dict[str, str]:
    return {name: sha256(data) for name, data in tree(root, paths).items()}


@dataclass
class Project:
    """The project's copy at ``root`` and its saved states under ``states`` (each a copy of the folders
    in MUTABLE); ``env``: what its commands run with."""

    root: Path
    states: Path
    env: dict[str, str]

    def snapshot(self, name: str) -> None:
        target = self.states / name
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        for folder in MUTABLE:
            if (self.root / folder).exists():
                shutil.copytree(self.root / folder, target / folder, symlinks=True)

    def restore(self, name: str, overlays: tuple[tuple[str, list[str]], ...] = ()) -> None:
        """The state ``name``, with ``paths`` taken from other states (``overlays``)."""
        for folder in MUTABLE:
            shutil.rmtree(self.root / folder, ignore_errors=True)
            if (self.states / name / folder).exists():
                shutil.copytree(self.states / name / folder, self.root / folder, symlinks=True)
        for other, paths in overlays:
            for path in paths:
                here, there = self.root / path, self.states / other / path
                if here.is_dir():
                    shutil.rmtree(here)
                else:
                    here.unlink(missing_ok=True)
                if there.is_dir():
                    shutil.copytree(there, here, symlinks=True)
                elif there.is_file():
                    here.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(there, here)

    def files(self, paths: list[str]) -> dict[str, bytes]:
        return tree(self.root, paths)

    def state_files(self, state: str, paths: list[str]) -> dict[str, bytes]:
        return tree(self.states / state, paths)

    def model_bytes(self, state: str | None = None) -> bytes | None:
        path = (self.states / state if state else self.root) / "models/srcnn.pt"
        return path.read_bytes() if path.is_file() else None


def write_jpegs(folder: Path, count: int) -> None:
    """Photos to enhance: JPEGs at quality 30, larger than the training photos."""
    folder.mkdir(parents=True, exist_ok=True)
    for number in range(count):
        Image.fromarray(synthetic_photo(100 + number, 300, 400)).save(folder / f"shot_{number}.jpg", quality=30)


def write_seed_tiles(folder: Path, count: int, changed: int | None = None) -> None:
    """The seed's format: 64×32 grey PNGs, clean | JPEG-20, cut from generated photos."""
    folder.mkdir(parents=True, exist_ok=True)
    for number in range(count):
        clean = synthetic_photo(200 + number // 4, 64, 64)
        if number == changed:
            clean = 255 - clean
        degraded = degrade(clean, 1, 20)
        top, left = 32 * (number % 4 // 2), 32 * (number % 2)
        pair = join_pair(
            to_luma_u8(clean[top : top + 32, left : left + 32]), to_luma_u8(degraded[top : top + 32, left : left + 32])
        )
        Image.fromarray(pair).save(folder / f"tile_{number:03d}.png")


def project_env() -> dict[str, str]:
    """The environment the commands run in: this interpreter's first on PATH, a git identity, no analytics."""
    return command_env("faults")


def build_project(project: Project) -> None:
    """The project's files, tiny fp32 params, 8 photos, 40 seed tiles and 6 JPEGs, committed; saved as "empty"."""
    root = project.root
    copy_project(root)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params.update(PARAMS)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    write_photos(root / "photos", 8)
    write_seed_tiles(root / "seed_tiles", 40)
    write_jpegs(root / "jpegs", 6)
    for command in (["git", "init", "-q", "-b", "main"], ["git", "add", "-A"], ["git", "commit", "-qm", "project"]):
        subprocess.run(command, cwd=root, env=project.env, check=True, capture_output=True)
    project.snapshot("empty")
