"""What a kill left, output by output: absent, as before the kill (old), as the uninterrupted run's
(new), or neither (corrupt); a shard folder that passes ``check_complete`` must match its manifest.
``Counts`` holds one command's tally; each ``readable_*`` says what the next stage will see of one
command's outputs: ``refused`` (incomplete), ``old``, ``new`` or ``corrupt``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from srcnn.shards import check_complete

from .project import OUTPUTS, Project, normalized, sha256, subset, visible

if TYPE_CHECKING:
    from .commands import Command


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


def shards_unlike_manifest(folder: Path) -> list[str]:
    """The shards of a folder that ``check_complete`` passes whose bytes differ from its manifest's
    sha256; FileNotFoundError where it does not pass (the next stage would refuse it)."""
    manifest = check_complete(folder)
    return [
        shard for shard, info in manifest["shards"].items() if sha256((folder / shard).read_bytes()) != info["sha256"]
    ]


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
            bad = shards_unlike_manifest(folder)
        except FileNotFoundError:
            return "refused"
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
