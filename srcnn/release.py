"""The shipped models as versions: the runs that made each, rebuilt on demand, and the promotion rule.

    python -m srcnn.release rebuild colour --bench BENCH [--dry-run]   # its runs again, each from the one before
    python -m srcnn.release promote colour --held-out held_out.json      # models/srcnn.pt ships only if it is better

Beside each shipped model (``srcnn.gate.SHIPPED``: ``gray`` → models/pretrained/restorer.pt, ``colour``
→ restorer-colour.pt) lie its ``.params.yaml`` (its version, the commit that holds it, and its init
chain: each run's params that differ from params.yaml, and the steps it made), its ``.ladder.json``
and its ``.json`` (figures of ``benchmarks/quality.py --score`` on held-out photos).

``rebuild`` runs the chain with ``dvc exp run`` in this project, each run from the model of the one
before (copied to ``models/release-start.pt``); ``{bench}`` in a run's folders is ``--bench``. A run
that trained for a time (``time_budget``) is rerun for the steps it made, so a CPU gets there too,
slowly. Then the evaluate stage has compared the result with the shipped model; ``promote`` decides.

``promote`` is the rule: the candidate (``models/srcnn.pt``, evaluated against the shipped model of
that kind: the gray photos' one on every photo's luma, the colour one on the colour photos' RGB, as
``enhance`` gives it no photo with R = G = B) replaces it only when it gains more at every rung of
the ladder where either restores photos, on the val photos (``metrics/eval.json``, "shipped") and on
the held-out photos of the shipped model's card (``--held-out``: quality.py --score of the candidate
on the same folders). Else nothing is written and each rung it lost is named (exit 1). Promoted, it
writes the model, its gate, its card figures and its chain with the new run appended and the version
raised, and prints the commands that commit and tag it (a GTO tag,
``restorer-colour-pretrained@v1.1.0``: ``dvc artifacts get REPO restorer-colour-pretrained --rev v1.1.0``
fetches that version, without ``--rev`` the newest; ``dvc get REPO PATH --rev COMMIT`` any commit's).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from .files import file_sha256, write_text_atomic
from .gate import SHIPPED, GateError, gate_path, read_gate, write_gate
from .inference import load_model

START = Path("models/release-start.pt")  # where each run of a chain starts from (not the train stage's output)
CANDIDATE, EVALUATION = Path("models/srcnn.pt"), Path("metrics/eval.json")
ARTIFACTS = {"gray": "restorer-pretrained", "colour": "restorer-colour-pretrained"}  # dvc.yaml's names
# the held-out card's ladder and figure each kind is judged on (srcnn.evaluation.judged_rows): every
# photo's luma for the gray photos' model, the colour photos' RGB for the colour one
COLUMNS = {"gray": ("held_out_ladder", "gain"), "colour": ("held_out_colour_ladder", "rgb_gain")}


class Refused(ValueError):
    """A candidate that does not ship, and why."""


def chain_path(kind: str) -> Path:
    return SHIPPED[kind].with_suffix(".params.yaml")


def read_chain(kind: str) -> dict[str, Any]:
    chain = yaml.safe_load(chain_path(kind).read_text())
    if not isinstance(chain, dict) or not isinstance(chain.get("runs"), list) or not chain["runs"]:
        raise ValueError(f"{chain_path(kind)}: no 'runs' list")
    return chain


def run_commands(chain: dict[str, Any], bench: str) -> list[list[str]]:
    """The commands that rerun ``chain``: per run its ``before`` commands, then ``dvc exp run`` with its
    params (a time budget replaced by the steps it made; ``init: previous``: the run before's model),
    then the model copied to ``START`` for the next run."""
    commands = []
    for run in chain["runs"]:
        params = dict(run["params"])
        if params.get("time_budget"):
            steps_per_epoch = int(params.get("steps_per_epoch", 100))
            params.update(time_budget=0, epochs=math.ceil(int(run["steps"]) / steps_per_epoch))
        if params.get("init") == "previous":
            params["init"] = str(START)
        commands += [str(command).replace("{bench}", bench).split() for command in run.get("before", [])]
        settings = [
            f"{key}={value if isinstance(value, str) else json.dumps(value, separators=(',', ':'))}"
            for key, value in {"init": None, **params}.items()
        ]
        commands.append(
            ["dvc", "exp", "run", *(word for item in settings for word in ("-S", item.replace("{bench}", bench)))]
        )
        commands.append(["cp", str(CANDIDATE), str(START)])
    return commands


def lost_rungs(ours: dict[str, float], theirs: dict[str, float], where: str) -> list[str]:
    """The rungs where ``ours`` does not gain more than ``theirs``; rungs where both leave photos unchanged tie."""
    if set(ours) != set(theirs):
        return [f"{where}: other rungs ({', '.join(sorted(ours))} against {', '.join(sorted(theirs))})"]
    return [
        f"{where} {rung}: {ours[rung]:+.4f} dB against {theirs[rung]:+.4f}"
        for rung in sorted(ours, key=lambda name: (name[0] != "q", [int(part) for part in name[1:].split("_")]))
        if ours[rung] <= theirs[rung] and (ours[rung] or theirs[rung])
    ]


def verdict(kind: str, evaluation: dict[str, Any], held_out: dict[str, Any], card: dict[str, Any]) -> list[str]:
    """Why the candidate does not ship (empty: it does), from its evaluation, its held-out figures and
    the shipped model's card."""
    val = evaluation.get("shipped", {}).get(kind)
    if not val:
        return [f"{EVALUATION} has no comparison with the shipped {kind} model; run 'dvc repro evaluate'"]
    if not val["ladder"]:
        return [f"val photos: none that the {kind} model is judged on (its comparison in {EVALUATION} has no photo)"]
    reasons = lost_rungs(
        {rung: row["gain"] for rung, row in val["ladder"].items()},
        {rung: row["shipped_gain"] for rung, row in val["ladder"].items()},
        "val photos",
    )
    if held_out.get("ladder_dirs") != card.get("ladder_dirs"):
        return [*reasons, f"held out on {held_out.get('ladder_dirs')}, the card on {card.get('ladder_dirs')}"]
    key, column = COLUMNS[kind]
    if key not in held_out or key not in card:
        where = "the candidate's held-out JSON" if key not in held_out else "the shipped model's card"
        return [*reasons, f"{where} has no {key} (benchmarks/quality.py --score writes it)"]
    ours, theirs = held_out[key], card[key]
    return reasons + lost_rungs(
        {rung: row[column] for rung, row in ours.items()},
        {rung: row[column] for rung, row in theirs.items()},
        "held out",
    )


def promote(kind: str, held_out_path: Path) -> str:
    """Ship the candidate as the next version of the ``kind`` model, or Refused naming why."""
    shipped = SHIPPED[kind]
    try:
        gate = read_gate(gate_path(CANDIDATE), CANDIDATE)
    except GateError as error:
        raise Refused(f"{error}; run 'dvc repro'") from None
    comparison = (gate.shipped or {}).get(kind)
    if comparison is None or comparison.sha256 != file_sha256(shipped):
        raise Refused(f"{CANDIDATE} was not evaluated against the current {shipped}; run 'dvc repro evaluate'")
    card = json.loads(shipped.with_suffix(".json").read_text())
    held_out = json.loads(held_out_path.read_text())
    reasons = verdict(kind, json.loads(EVALUATION.read_text()), held_out, card)
    if reasons:
        raise Refused(f"{CANDIDATE} does not beat {shipped} at every rung: " + "; ".join(reasons))
    chain, (_, info) = read_chain(kind), load_model(CANDIDATE)
    major, minor, _ = (int(part) for part in str(chain["version"]).split("."))
    chain["version"] = f"{major}.{minor + 1}.0"
    params = {key: value for key, value in info.get("params", {}).items() if key not in ("init",)}
    chain["runs"].append({"params": {**params, "init": "previous"}, "steps": info.get("steps")})
    chain.pop("commit", None)  # the version's tag names its commit
    shutil.copyfile(CANDIDATE, shipped)
    write_gate(gate_path(shipped), dataclasses.replace(gate, shipped=None))
    write_text_atomic(shipped.with_suffix(".json"), json.dumps({**held_out, "model": shipped.name}, indent=1) + "\n")
    write_text_atomic(chain_path(kind), yaml.safe_dump(chain, sort_keys=False))
    tag = f"{ARTIFACTS[kind]}@v{chain['version']}"
    return (
        f"git add models/pretrained && git commit -m 'Ship {tag}' && git tag -a {tag} -m {tag}; "
        f"then 'dvc artifacts get REPO {ARTIFACTS[kind]} --rev v{chain['version']}' fetches it"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m srcnn.release", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    rebuild = commands.add_parser("rebuild", help="rerun the runs that made a shipped model")
    rebuild.add_argument("kind", choices=sorted(SHIPPED))
    rebuild.add_argument("--bench", required=True, help="the folder of the benchmark photos ({bench} in the runs)")
    rebuild.add_argument("--dry-run", action="store_true", help="print the commands only")
    ship = commands.add_parser("promote", help="ship models/srcnn.pt as the next version, if it is better")
    ship.add_argument("kind", choices=sorted(SHIPPED))
    ship.add_argument("--held-out", type=Path, required=True, help="quality.py --score's JSON of models/srcnn.pt")
    args = parser.parse_args(argv)
    try:
        if args.command == "promote":
            print(f"release: promoted; now {promote(args.kind, args.held_out)}")
            return 0
        for command in run_commands(read_chain(args.kind), args.bench):
            print("release: " + " ".join(command), flush=True)
            if not args.dry_run:
                subprocess.run(command, check=True)
    except (Refused, OSError, ValueError, KeyError, subprocess.CalledProcessError) as error:
        print(f"release: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
