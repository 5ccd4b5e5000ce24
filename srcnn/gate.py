"""Which JPEG qualities a trained model may restore, as its own evaluation measured them.

    gate = decide_gate(gains, trained=(10, 90))                    # from srcnn.evaluation.ladder_gains
    gate = dataclasses.replace(gate, model_sha256=file_sha256("models/srcnn.pt"))
    write_gate("models/srcnn.ladder.json", gate)                  # the evaluate stage, beside the model
    gate = read_gate("models/srcnn.ladder.json", "models/srcnn.pt")   # enhance; None: missing or another model's
    gate.allows(87.4)                                              # False when the rungs around 87 were not safe

A model trained on a range of qualities helps less and less towards the top of the range, where
a JPEG is already close to its original, and whether it makes a photo a little worse there
changes from one training run to the next. So the trained range alone does not decide. The
evaluate stage degrades the clean val photos at each quality of ``eval_qualities`` (the ladder)
and runs the model on them (and the double JPEGs of ``eval_doubles``, each counted at the rungs that
decide the quality ``enhance`` tells for it: ``gate_rungs``); a rung is **safe** when there the model
gained at least ``MIN_PHOTO_GAIN_DB`` on every photo: a margin, not merely "no photo worse", since the val
photos are few, and where one of them barely gains, photos the evaluation did not see lose
(docs/quality.md measures it). A photo of quality q is restored only when it lies in the trained range
and the rungs around q are safe: the rung itself when q is within ``QUALITY_MARGIN`` of one (the
quality estimate's precision), else the rungs on both sides; a quality beyond the ladder's ends
was never measured and is not restored. The gate is written beside the checkpoint with the
checkpoint's sha256, so a retrained model is never judged by an older model's evaluation.

The evaluate stage also runs the models that ship with the project (``SHIPPED``: a luma one for
gray photos, a colour one for colour photos) on the same rungs, each as ``enhance`` applies it (its
own gate), and records per photo kind and rung whether the trained model, as ``enhance`` applies
it, **beat** the shipped one there (``beats_shipped``: on luma for gray photos, on RGB for colour
ones). ``enhance`` takes the trained model only where it did (``Gate.for_kind``), else the shipped one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .files import file_sha256, write_text_atomic
from .jpeg import QUALITY_MARGIN

if TYPE_CHECKING:  # the evaluate stage's tables; `srcnn enhance` reads gates without pandas (0.5 s a start)
    import pandas as pd

FORMAT = "srcnn-gate/2"  # /2: every photo must gain MIN_PHOTO_GAIN_DB (was: lose at most 0.1 dB)
MIN_PHOTO_GAIN_DB = 0.1
MIN_GAIN_OVER_SHIPPED_DB = 0.02  # the least mean gain over the shipped model that counts as beating it
SHIPPED = {  # per photo kind, the model that ships with the project (docs/pretrained.md), relative to the project
    "gray": Path("models/pretrained/restorer.pt"),
    "colour": Path("models/pretrained/restorer-colour.pt"),
}


def in_trained(quality: float | None, trained: tuple[int, int] | None) -> bool:
    """Whether a photo of JPEG ``quality`` lies in a model's ``trained`` qualities (± QUALITY_MARGIN):
    outside them the model was never shown such photos. No known range, or no quality, means yes."""
    if trained is None or quality is None:
        return True
    low, high = trained
    return low - QUALITY_MARGIN <= quality <= high + QUALITY_MARGIN


@dataclass(frozen=True)
class Comparison:
    """Where a trained model beat a shipped one (quality → verdict), and which file that was."""

    model: str
    sha256: str
    beaten: dict[int, bool]


@dataclass(frozen=True)
class Gate:
    """The trained qualities and the verdict of each evaluated rung (quality → safe)."""

    trained: tuple[int, int] | None
    rungs: dict[int, bool]
    model_sha256: str = ""
    photos: int = 0
    shipped: dict[str, Comparison] | None = None  # photo kind → comparison; None: not compared

    def for_kind(self, kind: str) -> Gate:
        """The gate of the trained model where it replaces the shipped model of photo ``kind``: only the
        safe rungs where it beat it (none when that was not compared)."""
        beaten = self.shipped[kind].beaten if self.shipped and kind in self.shipped else {}
        return Gate(
            self.trained, {q: safe and beaten.get(q, False) for q, safe in self.rungs.items()}, self.model_sha256
        )

    def allows(self, quality: float | None) -> bool:
        """Whether a photo of JPEG ``quality`` (None: no JPEG step) is restored (see the module docstring)."""
        if not in_trained(quality, self.trained):
            return False
        if quality is None or not self.rungs:
            return True
        deciding = deciding_rungs(quality, self.rungs)
        return bool(deciding) and all(self.rungs[rung] for rung in deciding)

    def unsafe(self) -> list[int]:
        return [quality for quality, safe in sorted(self.rungs.items()) if not safe]


def deciding_rungs(quality: float, rungs: Iterable[int]) -> list[int]:
    """The rungs that decide a photo of JPEG ``quality``: those within ``QUALITY_MARGIN`` of it, else
    the nearest on both sides; none beyond the ladder's ends (never measured)."""
    qualities = sorted(rungs)
    near = [rung for rung in qualities if abs(rung - quality) <= QUALITY_MARGIN]
    if near:
        return near
    below = [rung for rung in qualities if rung < quality]
    above = [rung for rung in qualities if rung > quality]
    return [below[-1], above[0]] if below and above else []


def gate_rungs(gains: pd.DataFrame) -> pd.Series:
    """The rung each row of ``ladder_gains``' results counts at, indexed by the row (repeated where it
    counts at two): a single JPEG's at its quality; a double JPEG's (``rung`` not ``q...``) at the rungs
    that decide the quality ``enhance`` tells for it (``deciding_rungs``), so that the model is used on
    such photos only where it gained on them too."""
    import pandas as pd

    single = gains["rung"].str.startswith("q") if "rung" in gains else pd.Series(True, index=gains.index)
    ladder = sorted({int(quality) for quality in gains.loc[single, "quality"]})
    pairs = [
        (index, int(quality) if is_single else rung)
        for index, quality, is_single in zip(gains.index, gains["quality"], single, strict=True)
        for rung in ([None] if is_single else deciding_rungs(quality, ladder))
    ]
    return pd.Series([rung for _, rung in pairs], index=[index for index, _ in pairs], dtype="int64")


def rung_is_safe(model_gains: pd.Series) -> bool:
    """The rule for one rung, on the per-photo PSNR gains of the model's output there."""
    return bool(len(model_gains) and model_gains.min() >= MIN_PHOTO_GAIN_DB)


def decide_gate(gains: pd.DataFrame, trained: tuple[int, int] | None) -> Gate:
    """The gate from per-photo ladder results (columns ``quality`` and ``model_gain``, one row a
    photo and rung, as ``srcnn.evaluation.ladder_gains`` gives): a rung outside the trained
    qualities is never safe. A double JPEG's row counts at the rungs that decide it (``gate_rungs``), so a
    quality is restored only where the model gained on the single and the double JPEGs it stands for."""
    keys = gate_rungs(gains)
    rungs = {
        int(quality): in_trained(quality, trained) and rung_is_safe(model_gains)
        for quality, model_gains in gains["model_gain"].loc[keys.index].groupby(keys.to_numpy(), sort=True)
    }
    photos = int(gains.groupby("rung" if "rung" in gains else "quality").size().max()) if len(gains) else 0
    return Gate(trained, rungs, photos=photos)


def applied_gains(gains: pd.DataFrame, gate: Gate, column: str) -> pd.Series:
    """Per row of ``ladder_gains``' results, the gain in ``column`` as ``enhance`` gets it under ``gate``
    (0 where the photo is left unchanged)."""
    allowed = gains["quality"].map(gate.allows).astype(bool)
    return gains[column].where(allowed, 0.0)


def beats(ours: pd.Series, theirs: pd.Series, keys: pd.Series) -> dict[int, bool]:
    """Per rung (``keys``: ``gate_rungs``), whether our per-photo gains beat theirs (same rows): by at
    least ``MIN_GAIN_OVER_SHIPPED_DB`` on average, and on no photo less."""
    difference = (ours - theirs).loc[keys.index].groupby(keys.to_numpy())
    return {int(rung): bool(rows.mean() >= MIN_GAIN_OVER_SHIPPED_DB and rows.min() >= 0) for rung, rows in difference}


def gate_path(model: str | Path) -> Path:
    """Where the gate of a checkpoint lives: ``models/srcnn.pt`` → ``models/srcnn.ladder.json``."""
    return Path(model).with_suffix(".ladder.json")


def write_gate(path: str | Path, gate: Gate) -> None:
    content: dict[str, Any] = {
        "format": FORMAT,
        "model_sha256": gate.model_sha256,
        "trained": list(gate.trained) if gate.trained else None,
        "photos": gate.photos,
        "rule": f"safe: every photo's gain >= {MIN_PHOTO_GAIN_DB} dB, in the trained qualities",
        "rungs": {str(quality): safe for quality, safe in sorted(gate.rungs.items())},
    }
    if gate.shipped is not None:
        content["beats_shipped"] = {
            kind: {"model": c.model, "sha256": c.sha256, "rungs": {str(q): v for q, v in sorted(c.beaten.items())}}
            for kind, c in gate.shipped.items()
        }
    write_text_atomic(path, json.dumps(content, indent=2) + "\n")


class GateError(ValueError):
    """A gate file that cannot be used for a checkpoint (says why)."""


class DamagedGateError(GateError):
    """A gate file of this very checkpoint whose verdicts cannot be read: not to be taken as "no evaluation"."""


def read_gate(path: str | Path, model: str | Path) -> Gate:
    """The gate of checkpoint ``model`` from ``path``; GateError when the file is missing, is not a
    gate, or was written for another checkpoint (a model retrained since its evaluation)."""
    path = Path(path)
    try:
        content = json.loads(path.read_text())
    except FileNotFoundError:
        raise GateError(f"{path} is missing") from None
    except (OSError, ValueError) as error:
        raise GateError(f"{path} is unreadable ({error})") from None
    if not isinstance(content, dict) or content.get("format") != FORMAT:
        raise GateError(f"{path} is not a gate file ('{FORMAT}')")
    if content.get("model_sha256") != file_sha256(model):
        raise GateError(f"{path} was written for another model than {model} (retrained since it was evaluated)")
    try:
        return Gate(
            _trained(content.get("trained")),
            _rungs(content.get("rungs")),
            content["model_sha256"],
            _integer(content.get("photos", 0), "photos"),
            _shipped(content.get("beats_shipped")),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise DamagedGateError(f"{path}: a damaged gate file ({error}); 'dvc repro evaluate' writes it again") from None


def _integer(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip().isdigit():
        raise ValueError(f"{what}: {value!r} is not a whole number")
    return int(value)


def _trained(value: Any) -> tuple[int, int] | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != 2:
        raise ValueError(f"trained: {value!r} is not [low, high]")
    low, high = (_integer(quality, "trained") for quality in value)
    return low, high


def _rungs(value: Any) -> dict[int, bool]:
    if not isinstance(value, dict):
        raise ValueError(f"rungs: {value!r} is not a mapping of quality to verdict")
    for safe in value.values():
        if not isinstance(safe, bool):
            raise ValueError(f"rungs: {safe!r} is not a verdict (true or false)")
    return {_integer(quality, "rungs"): safe for quality, safe in value.items()}


def _shipped(value: Any) -> dict[str, Comparison] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError(f"beats_shipped: {value!r} is not a mapping of photo kind to comparison")
    return {
        kind: Comparison(str(entry["model"]), str(entry["sha256"]), _rungs(entry["rungs"]))
        for kind, entry in value.items()
    }
