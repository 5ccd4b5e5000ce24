"""One fault run's shared state (the project, the runner, the seeded draws, the reference runs' times
and write counts), the uninterrupted reference runs every check compares against, and one kill of a
command: the starting state drawn, the kill, what it left, the next stage, the rerun.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.workfolder import synthetic_photo

from .checks import Checker, Counts
from .commands import ENHANCE, ENHANCE_NEXT, PACK, Command
from .project import (
    MUTABLE,
    OUTPUTS,
    STATE_FILES,
    Project,
    build_project,
    input_digests,
    normalized,
    project_env,
    visible,
    write_seed_tiles,
)
from .runner import Runner


class FaultRun:
    """What the parts of one run share; ``build`` and ``references`` first, then ``trial`` per kill."""

    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args, self.work = args, work
        self.rng = random.Random(args.seed)
        self.project = Project(work / "project", work / "states", project_env())
        self.runner = Runner(self.project)
        self.durations: dict[str, float] = {}
        self.writes: dict[str, int] = {}
        self.first_writes: dict[str, float] = {}

    def log(self, line: str) -> None:
        print(line, flush=True)

    def end_kill(self, checker: Checker, inputs: list[str], digests: dict[str, str], headline: str) -> None:
        """After a kill and its rerun: an input changed counts as such; then the kill's line and its problems."""
        if input_digests(self.project.root, inputs) != digests:
            checker.fail("inputs_changed", "an input changed during the rerun")
        self.log(headline + "".join(f"\n    {problem}" for problem in checker.problems))

    def limit(self, name: str) -> float:
        return max(120.0, 10 * self.durations.get(name, 12.0))

    def build(self) -> None:
        build_project(self.project)

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
        self.end_kill(
            checker,
            inputs,
            digests,
            f"{command.name} #{counts.kills}: from {start}, killed {when} ({how}): {'; '.join(notes)}",
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
