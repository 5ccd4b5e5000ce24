"""The ``continue`` part: a shipped model trained on from where it is, and shipped only by the rule.

For each kind asked (``--continue colour``; colour first, it is furthest behind), in a work folder
holding a copy of models/pretrained/:

1. the pipeline's own stages (prepare → tile → train → evaluate, pipeline.py) with the params of
   the last run of the model's chain (models/pretrained/<model>.params.yaml), ``init`` the shipped
   model, ``batch_size`` as the device picks it (``auto``), ``raw_dir`` the chain's folders
   (``{bench}``: ``--bench``; a missing one made by the chain's ``before`` commands), training
   capped at the minutes the budget leaves; the evaluate stage scores the shipped models beside it;
2. ``benchmarks/quality.py --score`` of the result on the held-out folders of the model's card
   (``--bench``/set5 and set14);
3. ``python -m srcnn.release promote``: the result becomes the next version only if it beats the
   shipped model at every rung, on the val photos and held out. Promoted, the new files are written
   to the project's models/pretrained (not with ``--cpu``) and come back as ``promoted-<kind>.tar``
   with the commands that commit and tag them; refused, the refusal is printed and recorded, and the
   project is left as it was. Either way the candidate (model, gate, metrics, params, held-out
   figures) comes back as ``continue-<kind>.tar``.

``--cpu``: the sample photos (for the colour model its colour ones, the photos it is judged on), a few
steps, and held-out photos made from them, against the shipped model scored on those same photos in
place of its card (tests/test_gpu_check.py).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml
from PIL import Image

from srcnn import release
from srcnn.color import is_gray
from srcnn.files import atomic_path
from srcnn.gate import SHIPPED
from srcnn.images import load_rgb

from . import ROOT
from .check import Check, log
from .pipeline import KEPT, keep_outputs, run_command, run_quality

PRETRAINED = ROOT / "models" / "pretrained"
NOT_CARRIED = ("raw_dir", "time_budget", "init", "batch_size", "epochs")  # set by the part, not the chain


def chain_of(kind: str) -> dict[str, Any]:
    chain = yaml.safe_load((ROOT / SHIPPED[kind].with_suffix(".params.yaml")).read_text())
    if not isinstance(chain, dict) or not chain.get("runs"):
        raise RuntimeError(f"{SHIPPED[kind].with_suffix('.params.yaml')}: no 'runs' list")
    return chain


def chain_folders(chain: dict[str, Any], bench: Path | None, samples: Path) -> list[Path]:
    """The last run's raw_dir: ``{bench}`` is ``bench``, relative folders are the project's (data/samples,
    when the project has none, the check's own); a missing one is made by the chain's ``before`` commands."""
    raw = chain["runs"][-1]["params"].get("raw_dir", "data/samples")
    names = [raw] if isinstance(raw, str) else list(raw)
    if any("{bench}" in name for name in names) and bench is None:
        raise RuntimeError("the chain's photos lie under {bench}: give --bench, the folder holding them")

    def folder(name: str) -> Path:
        path = Path(name.replace("{bench}", str(bench)))
        path = path if path.is_absolute() else ROOT / path
        return samples if name == "data/samples" and not path.is_dir() else path

    if not all(folder(name).is_dir() for name in names):
        for run in chain["runs"]:
            for command in run.get("before", []):
                words = str(command).replace("{bench}", str(bench)).split()
                run_command([sys.executable if words[0] == "python" else words[0], *words[1:]], ROOT, 600)
    missing = [str(folder(name)) for name in names if not folder(name).is_dir()]
    if missing:
        raise RuntimeError(f"the chain's photo folders {missing} are missing")
    return [folder(name) for name in names]


def colour_copies(photos: Path, target: Path) -> Path:
    """--cpu's photos for the colour model: those of ``photos`` with colour (``srcnn.color.is_gray``)."""
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(photos.iterdir()):
        if not is_gray(load_rgb(path)):
            shutil.copyfile(path, target / path.name)
    return target


def small_copies(photos: Path, target: Path, count: int, side: int = 64) -> Path:
    """--cpu's held-out folder: ``count`` photos of ``photos`` made small."""
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(photos.iterdir())[:count]:
        with Image.open(path) as image:
            image.convert("RGB").resize((side, side)).save(target / f"{path.stem}.png")
    return target


def score(model: Path, folders: list[Path], out: Path) -> None:
    """``benchmarks/quality.py --score``, in this process (its start-up costs seconds)."""
    from benchmarks.quality import score_only

    log(f"   quality.py --score {model} --ladder-dirs {' '.join(map(str, folders))} --out {out}")
    try:
        score_only(model, folders, out)
    except SystemExit as stop:  # its command line's way to say what is wrong
        raise RuntimeError(f"quality.py --score {model}: {stop}") from None


def promote(kind: str, work: Path, held_out: Path) -> tuple[bool, str]:
    """``python -m srcnn.release promote`` in ``work`` (its paths are the project's): whether it shipped, and what
    it said."""
    log(f"   python -m srcnn.release promote {kind} --held-out {held_out}   (in {work})")
    with contextlib.chdir(work):
        try:
            said = f"release: promoted; now {release.promote(kind, held_out)}"
        except release.Refused as refusal:
            return False, f"release: {refusal}"
    return True, said


def run_continue(
    check: Check, work: Path, kind: str, settings: dict[str, Any], where: dict[str, Any], out: Path
) -> dict[str, Any]:
    """One kind's continuation (the module's docstring); ``where``: minutes, bench, samples, cpu, raw_dirs."""
    chain, shipped = chain_of(kind), ROOT / SHIPPED[kind]
    last = {key: value for key, value in chain["runs"][-1]["params"].items() if key not in NOT_CARRIED}
    cpu, bench = where["cpu"], where["bench"]
    if not cpu and bench is None:
        raise RuntimeError("the held-out photos of the card (and the chain's photos) lie under --bench: give it")
    raw_dirs = where["raw_dirs"] or (
        [colour_copies(where["samples"], work / "colour_samples") if kind == "colour" else where["samples"]]
        if cpu
        else chain_folders(chain, bench, where["samples"])
    )
    shutil.copytree(PRETRAINED, work / "models" / "pretrained", dirs_exist_ok=True)
    params = {**last, **settings, "init": str(shipped)}
    result = run_quality(check, work, raw_dirs, where["minutes"], params)
    result.update(kind=kind, version=chain["version"], init=str(SHIPPED[kind]))
    card = work / SHIPPED[kind].with_suffix(".json")
    if cpu:  # the shipped model scored on the same small photos, in place of its card
        folders = [small_copies(where["samples"], work / "held_out" / name, 1) for name in ("set5", "set14")]
        score(work / SHIPPED[kind], folders, card)
    else:
        folders = [bench / name for name in json.loads(card.read_text())["ladder_dirs"]]
    held_out = work / "held_out.json"
    score(work / "models" / "srcnn.pt", folders, held_out)
    promoted, said = promote(kind, work, held_out)
    result.update(promoted=promoted, verdict=said.splitlines()[-1] if said else "")
    stem = SHIPPED[kind].stem
    files = [f"models/pretrained/{stem}{suffix}" for suffix in (".pt", ".ladder.json", ".json", ".params.yaml")]
    if promoted:
        result["promoted_tar"] = keep_outputs(work, out / f"promoted-{kind}.tar", files)
        if not cpu:
            for name in files:  # each whole or not at all
                with atomic_path(ROOT / name) as temp:
                    shutil.copyfile(work / name, temp)
    result["kept"] = keep_outputs(work, out / f"continue-{kind}.tar", [*KEPT, "held_out.json"])
    log(f"   {kind}: {'promoted' if promoted else 'kept aside, not promoted'}: {result['verdict']}")
    return result
