"""Two writers of data/tiles started together (two tile stages, or a tile stage and pack-tiles, by
turns), each so that its first write would come when the other's does: each must finish, or stop
with a message naming the other's pid, and the folder must then be the reference of the writer that
wrote its manifest last."""

from __future__ import annotations

import subprocess
import time

from .checks import Counts, shards_unlike_manifest
from .commands import PACK
from .fault_run import FaultRun
from .project import OUTPUTS, input_digests, visible
from .runner import Outcome

TILES_MANIFEST = "data/tiles/manifest.json"


def pairs(run: FaultRun, counts: Counts) -> None:
    """``--pairs`` pairs, each counted in ``counts`` (kills: pairs; new: ran in turn; refused: one
    stopped naming the other; reruns_ok: every check passed)."""
    for number in range(run.args.pairs):
        one_pair(run, counts, number)


def one_pair(run: FaultRun, counts: Counts, number: int) -> None:
    project, rng = run.project, run.rng
    inputs = ["photos", "seed_tiles", "jpegs", "data/prepared"]
    pair = [
        ("tile", ["-m", "stages.tile"]),
        ("tile", ["-m", "stages.tile"]) if number % 2 == 0 else ("pack-tiles", PACK),
    ]
    state, overlays = rng.choice([("ref1", ()), ("ref2", ()), ("old", (("ref1", OUTPUTS["prepare"]),))])
    project.restore(state, overlays)
    digests = input_digests(project.root, inputs)
    # each started so that its first write would come when the other's does, give or take
    # 0.15 s (a tile stage holds the folder here for a few tenths of a second)
    firsts = [run.first_writes[name] for name, _ in pair]
    starts = [max(firsts) - first + rng.uniform(-0.15, 0.15) for first in firsts]
    if starts[1] < starts[0]:
        pair, starts = pair[::-1], starts[::-1]
    delay = starts[1] - starts[0]
    started = time.monotonic()
    writers = {f"{pair[0][0]} (1st)": run.runner.start(pair[0][1], stop=0)}
    time.sleep(delay)
    writers[f"{pair[1][0]} (2nd)"] = run.runner.start(pair[1][1], stop=0)
    outcomes = {label: run.runner.finish(process, started, run.limit("tile")) for label, process in writers.items()}
    problems, finished = judge_writers(outcomes, writers, counts)
    problems += check_last_writer(run, outcomes, finished, counts)
    if input_digests(project.root, inputs) != digests:
        problems.append("INPUTS_CHANGED")
        counts.inputs_changed += 1
    counts.kills += 1  # here: pairs
    counts.new += len(finished) == 2  # one after the other
    counts.refused += len(finished) == 1  # one stopped, naming the other
    counts.reruns_ok += not problems
    run.log(
        f"pair #{number + 1}: {pair[0][0]}, then {pair[1][0]} {delay:.2f} s later, from {state}: "
        f"{' and '.join(finished) or 'neither'} finished" + "".join(f"\n    {problem}" for problem in problems)
    )


def judge_writers(
    outcomes: dict[str, Outcome], writers: dict[str, subprocess.Popen], counts: Counts
) -> tuple[list[str], list[str]]:
    """The problems (a hang, a stop that does not name the other) and the writers that finished."""
    problems, finished = [], []
    for (label, outcome), other in zip(outcomes.items(), reversed(writers.values()), strict=True):
        if outcome.returncode is None:
            problems.append(f"HANG: {label} did not finish")
            counts.hangs += 1
        elif outcome.returncode == 0:
            finished.append(label)
        elif f"is being written by pid {other.pid}" not in outcome.stderr:
            problems.append(f"UNCLEAR: {label} stopped without naming the other: {outcome.stderr.strip()[-300:]}")
            counts.unclear += 1
    return problems, finished


def check_last_writer(run: FaultRun, outcomes: dict[str, Outcome], finished: list[str], counts: Counts) -> list[str]:
    """data/tiles must be complete, its shards as its manifest says, and as the reference of the
    writer that renamed its manifest last."""
    if not finished:
        counts.corrupt += 1
        return ["CORRUPT: neither writer finished"]
    project = run.project
    last = max(finished, key=lambda label: outcomes[label].renamed.get(TILES_MANIFEST, 0.0))
    reference = "packed" if last.startswith("pack-tiles") else "ref2"
    try:
        bad = shards_unlike_manifest(project.root / "data/tiles")
    except FileNotFoundError as error:
        bad = [str(error)]
    if bad or visible(project.files(["data/tiles"])) != visible(project.state_files(reference, ["data/tiles"])):
        counts.corrupt += 1
        return [f"CORRUPT: data/tiles is not what {last}, which wrote it last, writes {bad[:2]}"]
    return []
