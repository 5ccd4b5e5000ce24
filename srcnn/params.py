"""The one loader of ``params.yaml``: every key typed, ranged and checked before any work starts.

    from srcnn.params import load_params, params_with
    params = load_params("params.yaml")
    params.lr  # 0.001
    params = params_with(epochs=2)  # the project's params.yaml with some keys changed (tests, benchmarks)

``params.yaml`` is the one source of values, defaults included: every key must be set there. It is
flat so that ``dvc exp run -S lr=0.0003`` works verbatim. An unknown or missing key, a value of the
wrong type or out of range raises ``ParamsError`` naming the key, the value and what is allowed.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml


class ParamsError(ValueError):
    """A bad value in params.yaml; the message names the key, the value and what is allowed."""


@dataclasses.dataclass(frozen=True)
class Params:
    """Every key of params.yaml, typed. The values, defaults included, live only in params.yaml."""

    # prepare
    raw_dir: str | tuple[str, ...]  # one folder, or several (a list in params.yaml): read it as ``raw_dirs``
    max_side: int
    scale: int
    jpeg_quality: int | tuple[int, int] | None  # one quality, a [low, high] range (each photo drawn in it), or none
    degradation: str  # single: one JPEG a photo; travelled: re-saved, shifted, resized (srcnn.degrade.travel)
    val_fraction: float
    seed: int
    strict: bool
    workers: int
    photos_per_shard: int
    # tile
    tile: int
    stride: int
    channels: str  # y: the model restores luma (tiles are luma); ycbcr: all three channels (tiles are RGB)
    # model
    arch: str
    kernel1: int
    kernel2: int
    kernel3: int
    filters1: int
    filters2: int
    residual: bool
    conditioned: bool
    ffdnet_depth: int
    ffdnet_features: int
    # train
    init: str | None  # a checkpoint to start from (srcnn.finetune), or None: from scratch
    lr: float
    lr_scaling: str  # how lr follows the batch: srcnn.train.batch_and_lr
    lr_schedule: str
    warmup_steps: int
    epochs: int
    steps_per_epoch: int
    batch_size: int | str  # a number, or auto (srcnn.train.batch_and_lr)
    crop: int
    loss: str
    precision: str
    device: str
    time_budget: float
    shuffle_buffer: int
    tile_reuse: int
    loader_workers: int
    # evaluate
    crop_border: int | str
    eval_photos: int
    eval_qualities: tuple[int, ...]
    eval_doubles: tuple[tuple[int, int], ...]  # double-JPEG rungs (QF1, QF2), shifted by 4 px between the saves

    @property
    def raw_dirs(self) -> tuple[str, ...]:
        """The photo folders of ``raw_dir``: the one folder, or each of the list."""
        return (self.raw_dir,) if isinstance(self.raw_dir, str) else self.raw_dir

    @property
    def border(self) -> int:
        """Pixels cropped at each border before PSNR/SSIM: ``scale`` for super-resolution, else 0."""
        if self.crop_border == "auto":
            return self.scale if self.scale > 1 else 0
        return int(self.crop_border)


_RULES: dict[str, tuple[str, Any]] = {
    # key: (kind, rule) — kind picks the type check, rule the range or the allowed values
    "raw_dir": ("folders", None),
    "max_side": ("int", (16, 1_000_000)),
    "scale": ("int", (1, 8)),
    "jpeg_quality": ("quality", (1, 100)),
    "degradation": ("choice", ("single", "travelled")),
    "val_fraction": ("float", (0.0, 1.0, "open")),
    "seed": ("int", (0, 2**31 - 1)),
    "strict": ("bool", None),
    "workers": ("int", (0, 1024)),
    "photos_per_shard": ("int", (1, 1_000_000)),
    "tile": ("int", (8, 4096)),
    "stride": ("int", (1, 4096)),
    "channels": ("choice", ("y", "ycbcr")),
    "arch": ("choice", ("srcnn", "arcnn", "ffdnet", "ffdnet_res")),
    "kernel1": ("odd", (1, 31)),
    "kernel2": ("odd", (1, 31)),
    "kernel3": ("odd", (1, 31)),
    "filters1": ("int", (1, 1024)),
    "filters2": ("int", (1, 1024)),
    "residual": ("bool", None),
    "conditioned": ("bool", None),
    "ffdnet_depth": ("int", (3, 100)),
    "ffdnet_features": ("int", (1, 1024)),
    "init": ("checkpoint", None),
    "lr": ("float", (0.0, 100.0, "open")),
    "lr_scaling": ("choice", ("none", "sqrt", "linear")),
    "lr_schedule": ("choice", ("constant", "cosine")),
    "warmup_steps": ("int", (0, 10_000_000)),
    "epochs": ("int", (1, 1_000_000)),
    "steps_per_epoch": ("int", (1, 10_000_000)),
    "batch_size": ("auto_or_int", (1, 65536)),
    "crop": ("int", (8, 4096)),
    "loss": ("choice", ("mse", "l1", "charbonnier")),
    "precision": ("choice", ("auto", "fp32", "bf16", "fp16")),
    "device": ("choice", ("auto", "cpu", "cuda", "mps")),
    "time_budget": ("float", (0.0, 1e6, "closed")),
    "shuffle_buffer": ("int", (1, 10_000_000)),
    "tile_reuse": ("int", (1, 1000)),
    "loader_workers": ("int", (-1, 256)),
    "crop_border": ("auto_or_int", (0, 64)),
    "eval_photos": ("int", (0, 10_000_000)),
    "eval_qualities": ("qualities", (1, 100)),
    "eval_doubles": ("quality_pairs", (1, 100)),
}


def _fail(key: str, value: Any, allowed: str) -> ParamsError:
    return ParamsError(f"params: {key}={value!r} is not allowed: {key} must be {allowed}")


def _whole(value: Any, low: int, high: int) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and low <= value <= high


def _folders(key: str, value: Any) -> str | tuple[str, ...]:
    """One folder (a path), or a list of distinct folders none of which holds another."""
    allowed = "a folder (a non-empty path), or a non-empty list of them"
    if isinstance(value, str):
        if not value.strip():
            raise _fail(key, value, allowed)
        return value
    if (
        not isinstance(value, (list, tuple))
        or not value
        or not all(isinstance(item, str) and item.strip() for item in value)
    ):
        raise _fail(key, value, allowed)
    where = {folder: Path(folder).resolve() for folder in value}  # links followed: a link to a folder is that folder
    for index, folder in enumerate(value):
        for other in value[:index]:
            if where[folder] == where[other]:
                raise _fail(key, value, f"{allowed}, each folder once: {other!r} and {folder!r} are the same folder")
            inner, outer = (folder, other) if where[other] in where[folder].parents else (other, folder)
            if where[outer] in where[inner].parents:
                raise _fail(
                    key,
                    value,
                    f"{allowed}, none inside another: {inner!r} is inside {outer!r} (its photos would be read twice)",
                )
    return tuple(value)


def _quality(key: str, value: Any, rule: tuple[int, int]) -> int | tuple[int, int] | None:
    """One JPEG quality, a [low, high] range of them, or None (no JPEG step)."""
    low, high = rule
    allowed = (
        f"a whole number from {low} to {high}, a range [low, high] of such numbers with "
        f"low <= high (each photo gets one quality drawn from it), or null for no JPEG step"
    )
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        if len(value) != 2 or not all(_whole(item, low, high) for item in value) or value[0] > value[1]:
            raise _fail(key, value, allowed)
        return (value[0], value[1])
    if not _whole(value, low, high):
        raise _fail(key, value, allowed)
    return int(value)


def _qualities(key: str, value: Any, rule: tuple[int, int]) -> tuple[int, ...]:
    low, high = rule
    if not isinstance(value, (list, tuple)) or not value or not all(_whole(item, low, high) for item in value):
        raise _fail(key, value, f"a non-empty list of whole numbers from {low} to {high}")
    return tuple(value)


def _quality_pairs(key: str, value: Any, rule: tuple[int, int]) -> tuple[tuple[int, int], ...]:
    low, high = rule
    if not isinstance(value, (list, tuple)) or not all(
        isinstance(pair, (list, tuple)) and len(pair) == 2 and all(_whole(item, low, high) for item in pair)
        for pair in value
    ):
        raise _fail(key, value, f"a list of [first, second] JPEG qualities, each a whole number from {low} to {high}")
    return tuple((pair[0], pair[1]) for pair in value)


def _checkpoint(key: str, value: Any, rule: None) -> str | None:
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise _fail(
            key, value, "the path of a model checkpoint (.pt) to start training from, or null to start from scratch"
        )
    return value


def _bool(key: str, value: Any, rule: None) -> bool:
    if not isinstance(value, bool):
        raise _fail(key, value, "true or false")
    return value


def _choice(key: str, value: Any, rule: tuple[str, ...]) -> str:
    if value not in rule:
        raise _fail(key, value, "one of " + ", ".join(rule))
    return str(value)


def _int(key: str, value: Any, rule: tuple[int, int], allowed: str = "", odd: bool = False) -> int:
    low, high = rule
    allowed = allowed or f"a whole number from {low} to {high}"
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(key, value, allowed)
    if not low <= value <= high or (odd and value % 2 == 0):
        raise _fail(key, value, allowed)
    return value


def _odd(key: str, value: Any, rule: tuple[int, int]) -> int:
    return _int(key, value, rule, f"an odd whole number from {rule[0]} to {rule[1]}", odd=True)


def _auto_or_int(key: str, value: Any, rule: tuple[int, int]) -> int | str:
    if value == "auto":
        return "auto"
    return _int(key, value, rule, f"a whole number from {rule[0]} to {rule[1]} (or auto)")


def _float(key: str, value: Any, rule: tuple[float, float, str]) -> float:
    """A finite number inside the range, its ends included (closed) or not (open)."""
    low, high, bounds = rule
    allowed = (
        f"a number greater than {low} and less than {high}" if bounds == "open" else f"a number from {low} to {high}"
    )
    number = value
    if isinstance(value, str):  # PyYAML reads 1e-4 (no dot) as a string
        try:
            number = float(value)
        except ValueError:
            raise _fail(key, value, allowed) from None
    if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number):
        raise _fail(key, value, allowed)
    inside = low < number < high if bounds == "open" else low <= number <= high
    if not inside:
        raise _fail(key, value, allowed)
    return float(number)


# each kind of _RULES: its validator, called with the key, the value read and the rule; returns the value typed
_VALIDATORS: dict[str, Callable[[str, Any, Any], Any]] = {
    "folders": lambda key, value, rule: _folders(key, value),
    "quality": _quality,
    "qualities": _qualities,
    "quality_pairs": _quality_pairs,
    "checkpoint": _checkpoint,
    "bool": _bool,
    "choice": _choice,
    "int": _int,
    "odd": _odd,
    "auto_or_int": _auto_or_int,
    "float": _float,
}


def _check(key: str, value: Any) -> Any:
    kind, rule = _RULES[key]
    return _VALIDATORS[kind](key, value, rule)


def validate(raw: dict[str, Any]) -> Params:
    """Check a complete mapping of params (as read from YAML) and return them typed."""
    if not isinstance(raw, dict):
        raise ParamsError(f"params: expected a mapping of key: value, got {type(raw).__name__}")
    unknown = sorted(set(raw) - set(_RULES))
    if unknown:
        raise ParamsError(f"params: unknown key(s) {', '.join(map(str, unknown))}; known keys are: {', '.join(_RULES)}")
    values = {key: _check(key, value) for key, value in raw.items()}
    missing = [key for key in _RULES if key not in values]
    if missing:
        raise ParamsError(
            f"params: missing key(s) {', '.join(missing)}; every key of the project's params.yaml must be set"
        )
    params = Params(**values)
    if params.crop > params.tile:
        raise _fail("crop", params.crop, f"at most tile ({params.tile})")
    if params.stride > params.tile:
        raise _fail("stride", params.stride, f"at most tile ({params.tile}), or tiles would leave gaps")
    if params.degradation == "travelled" and (not isinstance(params.jpeg_quality, tuple) or params.scale != 1):
        raise _fail(
            "degradation",
            params.degradation,
            f"single unless jpeg_quality is a [low, high] range and scale is 1 (travelled draws two qualities "
            f"a photo from the range; got jpeg_quality={params.jpeg_quality!r}, scale={params.scale})",
        )
    return params


DEFAULTS = Path(__file__).resolve().parents[1] / "params.yaml"


class _UniqueKeys(yaml.SafeLoader):
    """YAML's safe loader, refusing a key written twice in one mapping (YAML would keep the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise ParamsError(f"params: key '{key}' is written twice (lines {seen[key]} and {line}); keep one")
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def _read_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_UniqueKeys)  # noqa: S506 - a SafeLoader subclass


def params_with(**overrides: Any) -> Params:
    """The project's own params.yaml with some keys changed: for tests, benchmarks and notebooks."""
    raw = yaml.safe_load(DEFAULTS.read_text()) or {}
    try:
        return validate({**raw, **overrides})
    except ParamsError as error:
        raise ParamsError(f"{DEFAULTS} with {overrides}: {error}") from None


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate a params file; raises ParamsError naming the file and the bad key."""
    path = Path(path)
    try:
        raw = _read_yaml(path.read_text()) or {}
    except FileNotFoundError:
        raise ParamsError(f"params: {path} not found; run from the project root") from None
    except ParamsError as error:
        raise ParamsError(f"{path}: {error}") from None
    except yaml.YAMLError as error:
        raise ParamsError(f"params: {path} is not valid YAML: {error}") from None
    try:
        return validate(raw)
    except ParamsError as error:
        raise ParamsError(f"{path}: {error}") from None
