"""``dvc repro`` killed: from the older photos' outputs (no dvc.lock: every stage runs), killed after a
delay drawn within an uninterrupted run's duration, then run again: its outputs must be the stages'
references, ``dvc status`` clean, and a shard folder that passes check_complete after the kill must
match its manifest."""

from __future__ import annotations

import json

from benchmarks.workfolder import ALWAYS_RUN

from .checks import Checker, Counts, shards_unlike_manifest
from .commands import Command
from .fault_run import FaultRun
from .project import OUTPUTS, input_digests
from .runner import Outcome

ARGV = ["-m", "dvc", "repro"]
PATHS = [path for stage in ("prepare", "tile", "train", "evaluate") for path in OUTPUTS[stage]]
INPUTS = ["photos", "seed_tiles", "jpegs"]
COMMAND = Command("dvc repro", ARGV, [], "ref4", INPUTS, lambda checker: "")


def start(run: FaultRun) -> None:
    run.project.restore("old")
    (run.project.root / "dvc.lock").unlink(missing_ok=True)


def repro(run: FaultRun, counts: Counts) -> None:
    """The uninterrupted run, then ``--repro-kills`` kills, each followed by a rerun (counted in ``counts``)."""
    start(run)
    reference = run.runner.run(ARGV, 1800.0)
    checker = Checker(run.project, COMMAND, {}, counts)
    if reference.returncode != 0 or not run.same_as_reference(checker, PATHS, "ref4", "dvc repro's"):
        run.log(
            f"dvc repro: the uninterrupted run failed or differs ({reference.returncode}): "
            f"{reference.stderr.strip()[-300:]} {checker.problems}"
        )
        return
    run.durations["dvc repro"] = reference.seconds
    run.log(f"reference dvc repro: {reference.seconds:.1f} s, outputs as the stages' references")
    attempts = 0
    while counts.kills < run.args.repro_kills and attempts < 4 * run.args.repro_kills:
        attempts += 1
        kill_once(run, counts, reference.seconds)


def kill_once(run: FaultRun, counts: Counts, seconds: float) -> None:
    """One kill after a delay drawn within ``seconds``, its checks and the rerun; not counted where
    dvc repro finished first."""
    project = run.project
    start(run)
    digests = input_digests(project.root, INPUTS)
    delay = run.rng.uniform(0, seconds)
    killed = run.runner.run_killed(ARGV, run.limit("dvc repro"), delay, None, "group")
    if not killed.killed:
        return
    counts.kills += 1
    counts.timed += 1
    checker = Checker(project, COMMAND, {}, counts)
    if killed.orphans:
        checker.fail("hangs", f"{killed.orphans} processes of the killed dvc repro still running 5 s later")
    for folder in ("data/prepared", "data/tiles"):
        try:
            bad = shards_unlike_manifest(project.root / folder)
        except FileNotFoundError:
            continue
        if bad:
            checker.fail("corrupt", f"{folder} passes check_complete but its shards differ from its manifest")
    notes = check_rerun(run, checker, run.runner.run(ARGV, run.limit("dvc repro")))
    notes += run.temporaries(counts)
    run.end_kill(
        checker, INPUTS, digests, f"dvc repro #{counts.kills}: from old, killed after {delay:.2f} s: {'; '.join(notes)}"
    )


def check_rerun(run: FaultRun, checker: Checker, rerun: Outcome) -> list[str]:
    """The rerun after a kill: finished, the stages' references written, ``dvc status`` clean."""
    counts = checker.counts
    if rerun.returncode is None:
        checker.fail("hangs", "the rerun did not finish")
    elif rerun.returncode != 0:
        checker.fail("corrupt", f"the rerun failed ({rerun.returncode}): {rerun.stderr.strip()[-500:]}")
    elif run.same_as_reference(checker, PATHS, "ref4", "the rerun's"):
        status = run.runner.run(["-m", "dvc", "status", "--json"], 300.0)
        try:
            stale = set(json.loads(status.stdout)) - ALWAYS_RUN
        except ValueError:
            stale = {status.stdout.strip()[-300:]}
        if stale:
            checker.fail("corrupt", f"dvc status after the rerun: {sorted(stale)} stale")
        else:
            counts.reruns_ok += 1
            counts.resumed += "resuming from" in rerun.stderr
            resumed = " (train resumed)" if "resuming from" in rerun.stderr else ""
            return ["rerun ok, dvc status clean" + resumed]
    return []
