"""Fault injection: every command that writes files, killed (SIGKILL) at random moments, then run again.

    nice -n 15 python -m benchmarks.faults              # 10 kills per command (60), 2 of dvc repro, 20 pairs
    python -m benchmarks.faults --kills 2 --pairs 2 --repro-kills 0 --keep /tmp/faults   # a quick look, kept

In a copy of the project in a temporary git repo (generated photos, the tests' tiny params with
``precision: fp32``, ``loader_workers: 0`` and ``workers: 2``), each of ``python -m stages.prepare``,
``stages.tile``, ``stages.train``, ``stages.evaluate``, ``python -m srcnn pack-tiles`` and
``python -m srcnn enhance`` is first run uninterrupted (the reference, timed), then ``--kills`` times:

1. the project is put in a starting state, drawn: the command's inputs complete and its outputs
   absent (a first run), or its outputs from older inputs (an update: a photo changed and one
   added; a seed tile changed and eight added);
2. the command is started in a session of its own and killed with SIGKILL: every other time after a
   delay drawn uniformly within the reference run's duration, else just before its N-th write,
   rename or deletion of a file in the project (N drawn within the reference run's count; Python's
   audit hooks see each one). One kill in three hits the command's main process alone, as the
   OOM killer does, the others its whole process group;
3. what the kill left is checked: an output that the next stage would take for complete (a shard
   folder that ``srcnn.shards.check_complete`` passes, with ``report.json`` for data/prepared; a
   model; a metrics file; an enhanced photo) must equal the reference, or be exactly what was there
   before; every shard such a folder lists must match its sha256; no process of the command may
   outlive it by 5 s;
4. the next stage is run at once (tile after prepare, train after tile and pack-tiles, evaluate
   after train, enhance after evaluate): where the kill left its input incomplete it must stop with
   an error that names the input and no traceback, writing nothing; where the kill left it complete
   it must run and write the reference's outputs (after evaluate, enhance must use the gate only if
   it is the one written for this model). Where the kill left the input exactly as it was before,
   the next stage would read what it read anyway: not run;
5. the command is run again to completion: its outputs must equal the uninterrupted run's.
   Temporary files of the killed run still there afterwards are named and counted, not errors.

Before and after every kill, the sha256 of every input photo (the raw photos, the seed tiles, the
JPEGs to enhance) and of the files the command reads (the upstream outputs) must stay the same.

``dvc repro`` is killed ``--repro-kills`` times after a delay drawn within an uninterrupted run,
starting from the older photos' outputs; run again, it must write the stages' references and
leave ``dvc status`` clean.

Then ``--pairs`` times, two writers of data/tiles are started (two tile stages, or a tile stage and
pack-tiles, by turns), each so that its first write would come when the other's does, give or take
0.15 s. Each must finish, or stop with a message naming the
other's pid; the folder must then pass ``check_complete`` and equal the reference of the writer that
wrote its manifest last.

Compared byte for byte: shards, manifest.json, report.json, every metrics file, dvclive's curves,
the before/after pictures, enhanced photos. Not byte for byte, and why:
- ``seconds`` and ``tiles_per_second`` in metrics/train.json and in the model's info: wall-clock
  time (a resumed run counts the time of the epochs the killed run completed);
- models/srcnn.pt: compared as loaded (format, config, every tensor exactly, info less the two
  timings), since its bytes carry those timings;
- ``model_sha256`` in models/srcnn.ladder.json: checked against the sha256 of the model file
  beside it rather than the reference's (the model's bytes differ by their timings);
- data/.NAME.state.json and data/.NAME.lock beside the shard folders: not outputs (sizes and
  mtimes, the lock holder's pid);
- dvclive/ is a log written as training goes and read by no stage: checked after the rerun only.

Every command has a time limit (10 times its reference run, at least 2 minutes): one that runs
past it counts as a hang, and so does a process that outlives the command it belongs to. Prints
one line a kill, a table per command, and one JSON line ending with ``"corrupt": 0,
"inputs_changed": 0, "hangs": 0``; ``corrupt`` counts outputs that looked complete but were not
the reference's, next stages that ran on such data or wrote something else, reruns that failed
or differed, and pairs that left a folder other than the last writer's; ``unclear_errors``,
refusals with a traceback or without naming the input or the other writer.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
import torch
import yaml
from PIL import Image

from benchmarks.workfolder import ALWAYS_RUN, ROOT, TINY_PARAMS, project_files, synthetic_photo, write_photos
from srcnn.color import to_luma_u8
from srcnn.degrade import degrade
from srcnn.shards import check_complete
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
PACK = ["-m", "srcnn", "pack-tiles", "seed_tiles", "-o", "data/tiles", "--jpeg-quality", "20", "--tiles-per-shard", "8"]
ENHANCE = ["-m", "srcnn", "enhance", "jpegs", "-o", "out", "--force"]
ENHANCE_NEXT = ["-m", "srcnn", "enhance", "jpegs", "-o", "out_next"]  # as a user would after evaluate: the gate decides
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

KILL_AT = r'''"""Run python -m MODULE ARGS..., SIGKILLed just before its STOP-th write, rename or deletion of a
file under ROOT (0: never; the count, when the first came and when it renamed a file to manifest.json are
printed at exit).
HOW: group (its process group) or main."""
import atexit, json, os, runpy, signal, sys, time
root, stop, how, module = os.path.abspath(sys.argv[1]) + os.sep, int(sys.argv[2]), sys.argv[3], sys.argv[4]
del sys.argv[1:5]
sys.path[0] = os.getcwd()  # as python -m does
main, seen, manifests, first_write, started = os.getpid(), 0, [], 0.0, time.monotonic()
WRITES = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
PATH_EVENTS = {"os.rename": 0, "os.remove": 0, "os.mkdir": 0, "os.rmdir": 0, "os.truncate": 0}

def hook(event, args):
    global seen, first_write
    if event == "open":
        path, mode, flags = args
        if not ((isinstance(mode, str) and any(c in mode for c in "wax+")) or (mode is None and flags & WRITES)):
            return
    elif event in PATH_EVENTS:
        path = args[0]
    else:
        return
    if isinstance(path, int) or os.getpid() != main:
        return
    path = os.path.abspath(os.fsdecode(path))
    if not path.startswith(root) or "__pycache__" in path or os.sep + ".git" + os.sep in path:
        return
    seen += 1
    first_write = first_write or time.monotonic() - started
    if event == "os.rename" and os.path.basename(os.fsdecode(args[1])) == "manifest.json":
        manifests.append(time.time())
    if seen == stop:
        if how == "group":
            os.killpg(0, signal.SIGKILL)
        os.kill(main, signal.SIGKILL)

atexit.register(lambda: os.getpid() == main and print("kill_at: " + json.dumps(
    {"writes": seen, "first_write": first_write, "manifests": manifests}), file=sys.stderr))
sys.addaudithook(hook)
runpy.run_module(module, run_name="__main__", alter_sys=True)
'''


# ---------------------------------------------------------------- files and states


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


@dataclass
class Project:
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


# ---------------------------------------------------------------- running commands


@dataclass
class Outcome:
    returncode: int | None  # None: killed by the timeout (a hang)
    stdout: str
    stderr: str
    seconds: float
    killed: bool = False
    orphans: int = 0  # processes of the command alive after it was killed
    writes: int = 0  # writes, renames and deletions under the project (count mode of KILL_AT)
    first_write: float = 0.0  # seconds from its start to its first write (KILL_AT)
    manifests: list[float] = field(default_factory=list)  # when it wrote a manifest.json (KILL_AT), by the clock


def session_processes(session: int) -> list[int]:
    """Live processes of a session (a command started with start_new_session: its pid)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[3]) == session and fields[0] != "Z":
            found.append(int(entry.name))
    return found


class Runner:
    def __init__(self, project: Project, kill_at: Path) -> None:
        self.project, self.kill_at = project, kill_at
        self.outputs: dict[int, tuple[IO[str], IO[str]]] = {}  # a running process's stdout and stderr files

    def start(self, argv: list[str], stop: int | None = None, how: str = "group") -> subprocess.Popen:
        """``python ARGV`` in the project; with ``stop``, through KILL_AT (0: counting writes only). Its
        output goes to files, not pipes, which a process that outlives it would keep open."""
        command = [sys.executable, *argv]
        if stop is not None:
            command = [sys.executable, str(self.kill_at), str(self.project.root), str(stop), how, argv[1], *argv[2:]]
        # closed by finish, once the process has ended
        out, err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")  # noqa: SIM115
        process = subprocess.Popen(
            command,
            cwd=self.project.root,
            env=self.project.env,
            stdout=out,
            stderr=err,
            text=True,
            start_new_session=True,
        )
        self.outputs[process.pid] = (out, err)
        return process

    def finish(self, process: subprocess.Popen, started: float, limit: float, killed: bool = False) -> Outcome:
        """Wait for ``process`` (at most ``limit`` s from ``started``: then it is killed, a hang), and
        count and kill the processes of its session that outlive it."""
        try:
            returncode = process.wait(timeout=max(0.0, started + limit - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            returncode = None
        ended = time.monotonic()
        orphans = 0
        if killed or returncode is None:
            deadline = time.monotonic() + 5.0  # the kernel tears a killed group down at once: 5 s is plenty
            while session_processes(process.pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            left = session_processes(process.pid)
            orphans = len(left)
            for pid in left:  # so that the next run starts clean; counted as a hang
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        out, err = self.outputs.pop(process.pid)
        out.seek(0), err.seek(0)
        stdout, stderr = out.read(), err.read()
        out.close(), err.close()
        report = json.loads(
            next((line.removeprefix("kill_at: ") for line in stderr.splitlines() if line.startswith("kill_at: ")), "{}")
        )
        return Outcome(
            returncode,
            stdout,
            stderr,
            ended - started,
            killed,
            orphans,
            report.get("writes", 0),
            report.get("first_write", 0.0),
            report.get("manifests", []),
        )

    def run(self, argv: list[str], limit: float, stop: int | None = None) -> Outcome:
        started = time.monotonic()
        return self.finish(self.start(argv, stop), started, limit)

    def run_killed(self, argv: list[str], limit: float, delay: float | None, stop: int | None, how: str) -> Outcome:
        """Start ``argv``; SIGKILL it after ``delay`` seconds, or at its ``stop``-th write (KILL_AT)."""
        started = time.monotonic()
        process = self.start(argv, stop, how)
        killed = False
        if delay is not None:
            try:
                process.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                if how == "group":
                    os.killpg(process.pid, signal.SIGKILL)
                else:
                    os.kill(process.pid, signal.SIGKILL)
                killed = True
        outcome = self.finish(process, started, limit, killed=True)
        outcome.killed = killed or outcome.returncode == -signal.SIGKILL
        return outcome


# ---------------------------------------------------------------- a broken model, nested folders


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


# ---------------------------------------------------------------- the photos


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


def input_digests(root: Path, paths: list[str]) -> dict[str, str]:
    return {name: sha256(data) for name, data in tree(root, paths).items()}


# ---------------------------------------------------------------- the commands


@dataclass
class Command:
    name: str
    argv: list[str]
    starts: list[tuple[str, tuple[tuple[str, list[str]], ...]]]  # (state, overlays) to start from
    reference: str  # the state holding the uninterrupted run's outputs
    inputs: list[str]  # what it reads, which must never change
    readable: Callable[[Checker], str]  # what the kill left, as the next stage sees it: refused, old or new
    next_argv: list[str] | None = None
    next_outputs: list[str] = field(default_factory=list)
    next_reference: str = ""  # state holding the next stage's outputs when run on the reference
    refusal: str = ""  # what the next stage's error must name


@dataclass
class Counts:
    kills: int = 0
    timed: int = 0
    at_write: int = 0
    main_only: int = 0
    refused: int = 0  # the kill left the output incomplete, and the next stage refused it
    old: int = 0  # the kill left the outputs as they were
    new: int = 0  # the kill came after the outputs were complete; the next stage ran on them
    reruns_ok: int = 0
    resumed: int = 0
    corrupt: int = 0
    inputs_changed: int = 0
    hangs: int = 0
    unclear: int = 0  # a refusal with a traceback or without naming the input
    temporaries: int = 0  # temporary files of killed runs left after the rerun


class Checker:
    """The checks after one kill; each problem is added to ``problems`` and counted."""

    def __init__(self, project: Project, command: Command, before: dict[str, bytes], counts: Counts) -> None:
        self.project, self.command, self.before, self.counts = project, command, before, counts
        self.problems: list[str] = []

    def fail(self, kind: str, message: str) -> None:
        setattr(self.counts, kind, getattr(self.counts, kind) + 1)
        self.problems.append(f"{kind.upper()}: {message}")

    def file_state(self, name: str) -> str:
        """One output: absent, old (as before the kill), new (as the reference) or other."""
        now = self.project.files([name])
        if not visible(now):
            return "absent"
        model_now, model_before = self.project.model_bytes(), self.before.get("models/srcnn.pt")
        if normalized(visible(now), model_now) == normalized(visible(subset(self.before, name)), model_before):
            return "old"
        reference = self.project.state_files(self.command.reference, [name])
        if normalized(visible(now), model_now) == normalized(
            visible(reference), self.project.model_bytes(self.command.reference)
        ):
            return "new"
        return "other"

    def shard_folder(self, name: str, needs: str | None = None) -> str:
        """A shard folder after a kill: refused (check_complete fails, or ``needs`` is missing), else
        old or new, every shard matching the manifest's sha256."""
        folder = self.project.root / name
        try:
            manifest = check_complete(folder)
        except FileNotFoundError:
            return "refused"
        bad = [
            shard
            for shard, info in manifest["shards"].items()
            if sha256((folder / shard).read_bytes()) != info["sha256"]
        ]
        if bad:
            self.fail("corrupt", f"{name} passes check_complete but {', '.join(bad)} differ from its manifest")
            return "corrupt"
        if needs and not (folder / needs).is_file():
            return "refused"
        state = self.file_state(name)
        if state not in ("old", "new"):
            self.fail("corrupt", f"{name} passes check_complete but is neither what it was nor the reference")
            return "corrupt"
        return state


def subset(files: dict[str, bytes], name: str) -> dict[str, bytes]:
    return {key: value for key, value in files.items() if key == name or key.startswith(name + "/")}


def plain_files(checker: Checker, names: list[str]) -> list[str]:
    """Files written whole (atomically): each must be absent, old or new after a kill."""
    states = []
    for name in names:
        state = checker.file_state(name)
        if state == "other":
            checker.fail("corrupt", f"{name} is neither what it was nor the reference")
        states.append(state)
    return states


def readable_prepared(checker: Checker) -> str:
    return checker.shard_folder("data/prepared", needs="report.json")


def readable_tiles(checker: Checker) -> str:
    state = checker.shard_folder("data/tiles")
    if checker.command.name == "tile":
        plain_files(checker, ["metrics/data.json"])
    return state


def readable_model(checker: Checker) -> str:
    model, _ = plain_files(checker, ["models/srcnn.pt", "metrics/train.json"])
    return {"absent": "refused", "other": "corrupt"}.get(model, model)


def readable_evaluation(checker: Checker) -> str:
    states = plain_files(checker, OUTPUTS["evaluate"])
    gate = states[-1]
    return "new" if gate == "new" else "gate " + gate  # enhance runs either way; the gate decides what it does


def readable_enhanced(checker: Checker) -> str:
    out = checker.project.root / "out"
    reference = checker.project.state_files(checker.command.reference, ["out"])
    done = 0
    for path in sorted(out.rglob("*")) if out.is_dir() else []:
        name = str(path.relative_to(checker.project.root))
        if path.name.startswith("."):
            continue  # a temporary of the killed run
        if reference.get(name) != path.read_bytes():
            checker.fail("corrupt", f"{name} differs from the uninterrupted run's")
        done += 1
    return f"{done} photos"


# ---------------------------------------------------------------- the run


class FaultRun:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args, self.work = args, work
        self.rng = random.Random(args.seed)
        root = work / "project"
        env = dict(
            os.environ,
            PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            DVC_NO_ANALYTICS="1",
            GIT_AUTHOR_NAME="faults",
            GIT_AUTHOR_EMAIL="faults@example.com",
            GIT_COMMITTER_NAME="faults",
            GIT_COMMITTER_EMAIL="faults@example.com",
        )
        self.project = Project(root, work / "states", env)
        kill_at = work / "kill_at.py"
        kill_at.write_text(KILL_AT)
        self.runner = Runner(self.project, kill_at)
        self.durations: dict[str, float] = {}
        self.writes: dict[str, int] = {}
        self.first_writes: dict[str, float] = {}
        self.log_lines: list[str] = []

    def log(self, line: str) -> None:
        print(line, flush=True)

    def limit(self, name: str) -> float:
        return max(120.0, 10 * self.durations.get(name, 12.0))

    # -------- setup: the project, the old outputs, the references

    def build(self) -> None:
        root = self.project.root
        for name in project_files():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, root / name)
        params = yaml.safe_load((root / "params.yaml").read_text())
        params.update(PARAMS)
        (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        write_photos(root / "photos", 8)
        write_seed_tiles(root / "seed_tiles", 40)
        write_jpegs(root / "jpegs", 6)
        for command in (["git", "init", "-q", "-b", "main"], ["git", "add", "-A"], ["git", "commit", "-qm", "project"]):
            subprocess.run(command, cwd=root, env=self.project.env, check=True, capture_output=True)
        self.project.snapshot("empty")

    def reference(self, name: str, argv: list[str], timed: bool = True) -> None:
        outcome = self.runner.run(argv, limit=600.0, stop=0 if argv[0] == "-m" else None)
        if outcome.returncode != 0:
            sys.exit(f"faults: the uninterrupted {' '.join(argv)} failed ({outcome.returncode}):\n{outcome.stderr}")
        if timed:
            self.durations[name], self.writes[name] = outcome.seconds, outcome.writes
            self.first_writes[name] = outcome.first_write
        self.log(
            f"reference {name}: {outcome.seconds:.1f} s, {outcome.writes} writes, renames and deletions, "
            f"the first after {outcome.first_write:.1f} s"
        )

    def references(self) -> None:
        project, root = self.project, self.project.root
        stages = ("prepare", "tile", "train", "evaluate")
        # the older photos and seed tiles: what an update starts from
        self.reference("prepare", ["-m", "stages.prepare"], timed=False)
        self.reference("pack-tiles", PACK, timed=False)
        project.snapshot("oldpack")
        project.restore("oldpack", (("empty", OUTPUTS["pack-tiles"] + STATE_FILES["pack-tiles"]),))
        for stage in stages[1:]:
            self.reference(stage, ["-m", f"stages.{stage}"], timed=False)
        project.snapshot("old")
        # today's: one photo changed, one added; one seed tile changed, eight added
        photo = np.asarray(Image.open(root / "photos/photo_3.png")).copy()
        photo[40:60, 40:60] = 255 - photo[40:60, 40:60]
        Image.fromarray(photo).save(root / "photos/photo_3.png")
        Image.fromarray(synthetic_photo(8)).save(root / "photos/photo_8.png")
        write_seed_tiles(root / "seed_tiles", 48, changed=5)
        project.restore("empty")
        for number, stage in enumerate(stages, 1):
            self.reference(stage, ["-m", f"stages.{stage}"])
            project.snapshot(f"ref{number}")
        self.reference("enhance-next", ENHANCE_NEXT, timed=False)  # with the gate written for this model
        project.snapshot("ref4+gate")
        (root / "models/srcnn.ladder.json").unlink()
        shutil.rmtree(root / "out_next")
        self.reference("enhance-next", ENHANCE_NEXT, timed=False)  # with none: every JPEG restored
        project.snapshot("ref4-gate")
        project.restore("ref4")
        self.reference("enhance", ENHANCE)
        project.snapshot("enhanced")
        project.restore("ref1")
        self.reference("pack-tiles", PACK)
        project.snapshot("packed")
        self.reference("train on packed tiles", ["-m", "stages.train"], timed=False)
        project.snapshot("packed+model")

    # -------- the commands

    def commands(self) -> list[Command]:
        paths = {name: OUTPUTS[name] + STATE_FILES.get(name, []) for name in OUTPUTS}
        return [
            Command(
                "prepare",
                ["-m", "stages.prepare"],
                [("empty", ()), ("old", ())],
                "ref1",
                ["photos"],
                readable_prepared,
                ["-m", "stages.tile"],
                paths["tile"],
                "ref2",
                "data/prepared",
            ),
            Command(
                "tile",
                ["-m", "stages.tile"],
                [("ref1", ()), ("old", (("ref1", paths["prepare"]),))],
                "ref2",
                ["photos", "data/prepared"],
                readable_tiles,
                ["-m", "stages.train"],
                paths["train"],
                "ref3",
                "data/tiles",
            ),
            Command(
                "train",
                ["-m", "stages.train"],
                [("ref2", ()), ("old", (("ref2", paths["prepare"] + paths["tile"]),))],
                "ref3",
                ["photos", "data/prepared", "data/tiles"],
                readable_model,
                ["-m", "stages.evaluate"],
                paths["evaluate"],
                "ref4",
                "models/srcnn.pt",
            ),
            Command(
                "evaluate",
                ["-m", "stages.evaluate"],
                [("ref3", ()), ("old", (("ref3", paths["prepare"] + paths["tile"] + paths["train"]),))],
                "ref4",
                ["photos", "data/prepared", "data/tiles", "models/srcnn.pt"],
                readable_evaluation,
                ENHANCE_NEXT,
                ["out_next"],
                "ref4+gate",
            ),
            Command(
                "pack-tiles",
                PACK,
                [("ref1", ()), ("ref2", ()), ("oldpack", (("ref1", paths["prepare"]),))],
                "packed",
                ["seed_tiles"],
                readable_tiles,
                ["-m", "stages.train"],
                paths["train"],
                "packed+model",
                "data/tiles",
            ),
            Command("enhance", ENHANCE, [("ref4", ())], "enhanced", ["jpegs", "models"], readable_enhanced),
        ]

    def trial(self, command: Command, counts: Counts, number: int) -> bool:
        """One kill and its checks; False when the command finished before the kill came."""
        project, rng = self.project, self.rng
        state, overlays = rng.choice(command.starts)
        project.restore(state, overlays)
        before = project.files(OUTPUTS[command.name] + STATE_FILES.get(command.name, []))
        before_next = project.files(command.next_outputs)
        inputs = command.inputs + ["jpegs", "seed_tiles", "photos"]
        digests = input_digests(project.root, inputs)
        how = "main" if rng.random() < 1 / 3 else "group"
        if number % 2:
            delay, stop = rng.uniform(0, self.durations[command.name]), None
            when = f"after {delay:.2f} s"
        else:
            delay, stop = None, rng.randint(1, max(1, self.writes[command.name]))
            when = f"at write {stop}/{self.writes[command.name]}"
        killed = self.runner.run_killed(command.argv, self.limit(command.name), delay, stop, how)
        start = state + ("+" + "+".join(other for other, _ in overlays) if overlays else "")
        if not killed.killed:
            if killed.returncode is None:
                counts.hangs += 1
                self.log(f"{command.name}: HANG: did not finish within {self.limit(command.name):.0f} s")
                return True
            self.log(f"{command.name}: from {start}, finished before the kill {when} (not counted)")
            return False
        counts.kills += 1
        counts.timed += delay is not None
        counts.at_write += stop is not None
        counts.main_only += how == "main"
        checker = Checker(project, command, before, counts)
        if killed.orphans:
            checker.fail("hangs", f"{killed.orphans} processes of the killed command still running 5 s later")
        left = command.readable(checker)
        notes = [f"left {left}"]
        if input_digests(project.root, inputs) != digests:
            checker.fail(
                "inputs_changed",
                "an input changed: "
                + ", ".join(
                    name for name, digest in input_digests(project.root, inputs).items() if digests.get(name) != digest
                ),
            )
        if command.next_argv:
            notes.append(self.next_stage(command, checker, left, before_next))
        rerun = self.runner.run(command.argv, self.limit(command.name))
        if rerun.returncode is None:
            checker.fail("hangs", f"the rerun did not finish within {self.limit(command.name):.0f} s")
        elif rerun.returncode != 0:
            checker.fail("corrupt", f"the rerun failed ({rerun.returncode}): {rerun.stderr.strip()[-500:]}")
        elif self.same_as_reference(checker, OUTPUTS[command.name], command.reference, "the rerun's"):
            counts.reruns_ok += 1
            counts.resumed += "resuming from" in rerun.stderr
            notes.append("rerun ok" + (" (resumed)" if "resuming from" in rerun.stderr else ""))
        notes += self.temporaries(counts)
        if input_digests(project.root, inputs) != digests:
            checker.fail("inputs_changed", "an input changed during the rerun")
        self.log(
            f"{command.name} #{counts.kills}: from {start}, killed {when} ({how}): {'; '.join(notes)}"
            + "".join(f"\n    {problem}" for problem in checker.problems)
        )
        return True

    def same_as_reference(self, checker: Checker, paths: list[str], reference: str, whose: str) -> bool:
        """The visible files under ``paths`` as in state ``reference`` (normalized); else counted corrupt."""
        project = self.project
        now = normalized(visible(project.files(paths)), project.model_bytes())
        expected = normalized(visible(project.state_files(reference, paths)), project.model_bytes(reference))
        if now == expected:
            return True
        differ = sorted(name for name in set(now) | set(expected) if now.get(name) != expected.get(name))
        checker.fail("corrupt", f"{whose} outputs differ from the uninterrupted run's: {', '.join(differ[:6])}")
        return False

    def temporaries(self, counts: Counts) -> list[str]:
        """Temporaries of killed runs still in the project after the rerun (named, not errors: no
        stage takes them for outputs; the shard stages delete theirs, the others leave them)."""
        left = sorted(
            str(path.relative_to(self.project.root))
            for folder in MUTABLE
            for path in (self.project.root / folder).rglob(".*")
            if path.is_file() and (".tmp" in path.name or path.name.endswith(".partial"))
        )
        counts.temporaries += len(left)
        return [f"temporaries left: {', '.join(left)}"] if left else []

    def next_stage(self, command: Command, checker: Checker, left: str, before: dict[str, bytes]) -> str:
        """Run the next stage on what the kill left; see the module's docstring for what it must do."""
        counts, project = checker.counts, self.project
        assert command.next_argv is not None, "only a command with a next stage is followed by one"
        name = " ".join(command.next_argv[1:3])
        if left in ("old", "corrupt"):
            counts.old += left == "old"
            return f"{name} not run (its input is as it was)" if left == "old" else ""
        outcome = self.runner.run(command.next_argv, self.limit("train"))
        if outcome.returncode is None:
            checker.fail("hangs", f"{name} did not finish")
            return ""
        if left == "refused":
            if outcome.returncode == 0:
                checker.fail("corrupt", f"{name} ran on an incomplete {command.refusal}")
            elif project.files(command.next_outputs) != before:
                checker.fail("corrupt", f"{name} refused but wrote its outputs")
            elif "Traceback" in outcome.stderr or command.refusal not in outcome.stderr:
                checker.fail("unclear", f"{name} refused, unclearly: {outcome.stderr.strip()[-300:]}")
            else:
                counts.refused += 1
                return f"{name} refused: {outcome.stderr.strip().splitlines()[-1][:160]}"
            return ""
        if outcome.returncode != 0:
            checker.fail("corrupt", f"{name} failed on a complete input: {outcome.stderr.strip()[-300:]}")
            return ""
        reference = command.next_reference
        if command.name == "evaluate" and left != "new":
            reference = "ref4-gate"  # no gate for this model: every JPEG restored
        if not self.same_as_reference(checker, command.next_outputs, reference, f"{name} ran, but its"):
            return ""
        counts.new += 1
        return f"{name} ran, outputs as the reference's"

    # -------- dvc repro

    def repro(self, counts: Counts) -> None:
        """``dvc repro`` from the older photos' outputs (no dvc.lock: every stage runs), killed after a
        delay drawn within an uninterrupted run's duration, then run again: its outputs must be the
        stages' references, ``dvc status`` clean, and a shard folder that passes check_complete
        after the kill must match its manifest."""
        project, argv = self.project, ["-m", "dvc", "repro"]
        paths = [path for stage in ("prepare", "tile", "train", "evaluate") for path in OUTPUTS[stage]]
        inputs = ["photos", "seed_tiles", "jpegs"]
        command = Command("dvc repro", argv, [], "ref4", inputs, lambda checker: "")

        def start() -> None:
            project.restore("old")
            (project.root / "dvc.lock").unlink(missing_ok=True)

        start()
        reference = self.runner.run(argv, 1800.0)
        checker = Checker(project, command, {}, counts)
        if reference.returncode != 0 or not self.same_as_reference(checker, paths, "ref4", "dvc repro's"):
            self.log(
                f"dvc repro: the uninterrupted run failed or differs ({reference.returncode}): "
                f"{reference.stderr.strip()[-300:]} {checker.problems}"
            )
            return
        self.durations["dvc repro"] = reference.seconds
        self.log(f"reference dvc repro: {reference.seconds:.1f} s, outputs as the stages' references")
        attempts = 0
        while counts.kills < self.args.repro_kills and attempts < 4 * self.args.repro_kills:
            attempts += 1
            start()
            digests = input_digests(project.root, inputs)
            delay = self.rng.uniform(0, reference.seconds)
            killed = self.runner.run_killed(argv, self.limit("dvc repro"), delay, None, "group")
            if not killed.killed:
                continue
            counts.kills += 1
            counts.timed += 1
            checker = Checker(project, command, {}, counts)
            if killed.orphans:
                checker.fail("hangs", f"{killed.orphans} processes of the killed dvc repro still running 5 s later")
            for folder in ("data/prepared", "data/tiles"):
                try:
                    manifest = check_complete(project.root / folder)
                except FileNotFoundError:
                    continue
                if any(
                    sha256((project.root / folder / shard).read_bytes()) != info["sha256"]
                    for shard, info in manifest["shards"].items()
                ):
                    checker.fail("corrupt", f"{folder} passes check_complete but its shards differ from its manifest")
            notes = []
            rerun = self.runner.run(argv, self.limit("dvc repro"))
            if rerun.returncode is None:
                checker.fail("hangs", "the rerun did not finish")
            elif rerun.returncode != 0:
                checker.fail("corrupt", f"the rerun failed ({rerun.returncode}): {rerun.stderr.strip()[-500:]}")
            elif self.same_as_reference(checker, paths, "ref4", "the rerun's"):
                status = self.runner.run(["-m", "dvc", "status", "--json"], 300.0)
                try:
                    stale = set(json.loads(status.stdout)) - ALWAYS_RUN
                except ValueError:
                    stale = {status.stdout.strip()[-300:]}
                if stale:
                    checker.fail("corrupt", f"dvc status after the rerun: {sorted(stale)} stale")
                else:
                    counts.reruns_ok += 1
                    counts.resumed += "resuming from" in rerun.stderr
                    notes.append(
                        "rerun ok, dvc status clean" + (" (train resumed)" if "resuming from" in rerun.stderr else "")
                    )
            notes += self.temporaries(counts)
            if input_digests(project.root, inputs) != digests:
                checker.fail("inputs_changed", "an input photo changed")
            self.log(
                f"dvc repro #{counts.kills}: from old, killed after {delay:.2f} s: {'; '.join(notes)}"
                + "".join(f"\n    {problem}" for problem in checker.problems)
            )

    # -------- two writers

    def pairs(self, counts: Counts) -> None:
        """Two writers of data/tiles started together (see the module's docstring)."""
        project, rng = self.project, self.rng
        inputs = ["photos", "seed_tiles", "jpegs", "data/prepared"]
        for number in range(self.args.pairs):
            pair = [
                ("tile", ["-m", "stages.tile"]),
                ("tile", ["-m", "stages.tile"]) if number % 2 == 0 else ("pack-tiles", PACK),
            ]
            state, overlays = rng.choice([("ref1", ()), ("ref2", ()), ("old", (("ref1", OUTPUTS["prepare"]),))])
            project.restore(state, overlays)
            digests = input_digests(project.root, inputs)
            # each started so that its first write would come when the other's does, give or take
            # 0.15 s (a tile stage holds the folder here for a few tenths of a second)
            firsts = [self.first_writes[name] for name, _ in pair]
            starts = [max(firsts) - first + rng.uniform(-0.15, 0.15) for first in firsts]
            if starts[1] < starts[0]:
                pair, starts = pair[::-1], starts[::-1]
            delay = starts[1] - starts[0]
            started = time.monotonic()
            writers = {f"{pair[0][0]} (1st)": self.runner.start(pair[0][1], stop=0)}
            time.sleep(delay)
            writers[f"{pair[1][0]} (2nd)"] = self.runner.start(pair[1][1], stop=0)
            outcomes = {
                label: self.runner.finish(process, started, self.limit("tile")) for label, process in writers.items()
            }
            problems, finished = [], []
            for (label, outcome), other in zip(outcomes.items(), reversed(writers.values()), strict=True):
                if outcome.returncode is None:
                    problems.append(f"HANG: {label} did not finish")
                    counts.hangs += 1
                elif outcome.returncode == 0:
                    finished.append(label)
                elif f"is being written by pid {other.pid}" not in outcome.stderr:
                    problems.append(
                        f"UNCLEAR: {label} stopped without naming the other: {outcome.stderr.strip()[-300:]}"
                    )
                    counts.unclear += 1
            if not finished:
                problems.append("CORRUPT: neither writer finished")
                counts.corrupt += 1
            else:
                last = max(finished, key=lambda label: max(outcomes[label].manifests, default=0.0))
                reference = "packed" if last.startswith("pack-tiles") else "ref2"
                folder = project.root / "data/tiles"
                try:
                    manifest = check_complete(folder)
                    bad = [
                        shard
                        for shard, info in manifest["shards"].items()
                        if sha256((folder / shard).read_bytes()) != info["sha256"]
                    ]
                except FileNotFoundError as error:
                    bad = [str(error)]
                if bad or visible(project.files(["data/tiles"])) != visible(
                    project.state_files(reference, ["data/tiles"])
                ):
                    problems.append(f"CORRUPT: data/tiles is not what {last}, which wrote it last, writes {bad[:2]}")
                    counts.corrupt += 1
            if input_digests(project.root, inputs) != digests:
                problems.append("INPUTS_CHANGED")
                counts.inputs_changed += 1
            counts.kills += 1  # here: pairs
            counts.new += len(finished) == 2  # one after the other
            counts.refused += len(finished) == 1  # one stopped, naming the other
            counts.reruns_ok += not problems
            self.log(
                f"pair #{number + 1}: {pair[0][0]}, then {pair[1][0]} {delay:.2f} s later, from {state}: "
                f"{' and '.join(finished) or 'neither'} finished" + "".join(f"\n    {problem}" for problem in problems)
            )


# ---------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=10, help="kills per command (6 commands)")
    parser.add_argument("--pairs", type=int, default=20, help="pairs of writers started together on data/tiles")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary one)")
    parser.add_argument("--repro-kills", type=int, default=2, help="kills of dvc repro (each: a whole pipeline run)")
    parser.add_argument("--only", nargs="*", help="only these commands (e.g. tile train)")
    args = parser.parse_args()
    started = time.monotonic()
    if args.keep:
        shutil.rmtree(args.keep, ignore_errors=True)
        args.keep.mkdir(parents=True)
        work = args.keep.resolve()
    else:
        work = Path(tempfile.mkdtemp(prefix="faults-"))
    try:
        run = FaultRun(args, work)
        run.build()
        run.references()
        table: dict[str, Counts] = {}
        for command in run.commands():
            if args.only and command.name not in args.only:
                continue
            counts = table[command.name] = Counts()
            attempts = 0
            while counts.kills < args.kills and attempts < 4 * args.kills:
                attempts += 1
                run.trial(command, counts, attempts)
        if args.repro_kills and (not args.only or "dvc repro" in args.only):
            run.repro(table.setdefault("dvc repro", Counts()))
        pairs = table["two writers"] = Counts()
        run.pairs(pairs)
        cases = {
            "broken_models": broken_model_case(work / "broken"),
            "nested_outputs": nested_outputs_case(work / "nest"),
        }
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print_table(table, time.monotonic() - started, cases)


COLUMNS = (
    ("kills", "kills"),
    ("timed", "timed"),
    ("at_write", "at write"),
    ("main_only", "main only"),
    ("refused", "next refused"),
    ("old", "as before"),
    ("new", "next ran"),
    ("reruns_ok", "reruns ok"),
    ("resumed", "resumed"),
    ("temporaries", "temps left"),
    ("unclear", "unclear"),
    ("corrupt", "corrupt"),
    ("inputs_changed", "inputs changed"),
    ("hangs", "hangs"),
)


def print_table(table: dict[str, Counts], seconds: float, cases: dict[str, dict[str, int]]) -> None:
    """Per command: kills (after a delay, at a write; of the main process alone), what the next stage
    did (refused an incomplete input / not run, the input as before / ran on a complete one), reruns
    equal to the reference (train resumed from its checkpoint), temporaries left, and the problems."""
    print()
    print(f"{'command':<12}" + "".join(f"{title:>{len(title) + 2}}" for _, title in COLUMNS))
    total = Counts()
    commands = {name: counts for name, counts in table.items() if name != "two writers"}
    for name, counts in [*commands.items(), ("all", total)]:
        if name == "all":
            for key in vars(total):
                setattr(total, key, sum(getattr(counts, key) for counts in table.values()))
            total.kills = sum(counts.kills for counts in commands.values())
            total.reruns_ok = sum(counts.reruns_ok for counts in commands.values())
            total.refused = sum(counts.refused for counts in commands.values())
            total.new = sum(counts.new for counts in commands.values())
        print(f"{name:<12}" + "".join(f"{getattr(counts, key):>{len(title) + 2}}" for key, title in COLUMNS))
    pairs = table.get("two writers", Counts())
    print(
        f"two writers: {pairs.kills} pairs on data/tiles; {pairs.refused} with one stopped naming the other, "
        f"{pairs.new} ran in turn; {pairs.reruns_ok} with every check passed; unclear {pairs.unclear}, "
        f"corrupt {pairs.corrupt}, inputs changed {pairs.inputs_changed}, hangs {pairs.hangs}"
    )
    print(
        json.dumps(
            {
                "kills": total.kills,
                "by_command": {name: counts.kills for name, counts in commands.items()},
                "timed": total.timed,
                "at_write": total.at_write,
                "main_process_only": total.main_only,
                "next_stage_refused": total.refused,
                "next_stage_ran": total.new,
                "left_as_before": total.old,
                "reruns_ok": total.reruns_ok,
                "resumed": total.resumed,
                "pairs": pairs.kills,
                "pairs_one_stopped": pairs.refused,
                "pairs_in_turn": pairs.new,
                "pairs_ok": pairs.reruns_ok,
                "temporaries_left": total.temporaries,
                "unclear_errors": total.unclear,
                "seconds": round(seconds),
                "corrupt": total.corrupt,
                "inputs_changed": total.inputs_changed,
                "hangs": total.hangs,
                **{f"{case}_{key}": value for case, counts in cases.items() for key, value in counts.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
