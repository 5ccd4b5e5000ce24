"""The commands the fault benchmark kills: how each is run, the states it starts from (a first run,
or an update of older outputs), the state holding its reference outputs, the inputs it must never
change, how to read what a kill left, and the next stage run after it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .checks import (
    Checker,
    readable_enhanced,
    readable_evaluation,
    readable_model,
    readable_prepared,
    readable_tiles,
)
from .project import OUTPUTS, STATE_FILES

PACK = ["-m", "srcnn", "pack-tiles", "seed_tiles", "-o", "data/tiles", "--jpeg-quality", "20", "--tiles-per-shard", "8"]
ENHANCE = ["-m", "srcnn", "enhance", "jpegs", "-o", "out", "--force"]
ENHANCE_NEXT = ["-m", "srcnn", "enhance", "jpegs", "-o", "out_next"]  # as a user would after evaluate: the gate decides


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


def commands() -> list[Command]:
    """The six commands, in the order they are killed."""
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
