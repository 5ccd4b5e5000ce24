"""The fault benchmark's command line: ``python -m benchmarks.faults [--kills N] [--pairs N]
[--repro-kills N] [--only COMMAND...] [--seed N] [--keep DIR]`` from the repository root (the
package's docstring says what it does). Builds the project, runs the references, then the kills of
each command, of ``dvc repro``, the pairs of writers and the special cases; prints the table and
the JSON line last."""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from . import __doc__ as PACKAGE_DOC
from .cases import broken_model_case, nested_outputs_case
from .checks import Counts
from .commands import commands
from .fault_run import FaultRun
from .pairs import pairs
from .report import print_table
from .repro import repro


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.faults", description=(PACKAGE_DOC or "").split("\n\n")[0]
    )
    parser.add_argument("--kills", type=int, default=10, help="kills per command (6 commands)")
    parser.add_argument("--pairs", type=int, default=20, help="pairs of writers started together on data/tiles")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary one)")
    parser.add_argument("--repro-kills", type=int, default=2, help="kills of dvc repro (each: a whole pipeline run)")
    parser.add_argument("--only", nargs="*", help="only these commands (e.g. tile train)")
    return parser.parse_args()


def run_all(args: argparse.Namespace, work: Path) -> tuple[dict[str, Counts], dict[str, dict[str, int]]]:
    """Every part, in ``work``: the counts per command (and of the pairs) and the special cases' figures."""
    run = FaultRun(args, work)
    run.build()
    run.references()
    table: dict[str, Counts] = {}
    for command in commands():
        if args.only and command.name not in args.only:
            continue
        counts = table[command.name] = Counts()
        attempts = 0
        while counts.kills < args.kills and attempts < 4 * args.kills:
            attempts += 1
            run.trial(command, counts, attempts)
    if args.repro_kills and (not args.only or "dvc repro" in args.only):
        repro(run, table.setdefault("dvc repro", Counts()))
    table["two writers"] = Counts()
    pairs(run, table["two writers"])
    cases = {
        "broken_models": broken_model_case(work / "broken"),
        "nested_outputs": nested_outputs_case(work / "nest"),
    }
    return table, cases


def main() -> None:
    args = parse_args()
    started = time.monotonic()
    if args.keep:
        shutil.rmtree(args.keep, ignore_errors=True)
        args.keep.mkdir(parents=True)
        work = args.keep.resolve()
    else:
        work = Path(tempfile.mkdtemp(prefix="faults-"))
    try:
        table, cases = run_all(args, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print_table(table, time.monotonic() - started, cases)


if __name__ == "__main__":
    main()
