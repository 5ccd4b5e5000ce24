"""Restore your own photos with a trained model, any size, colour or grayscale.

    python -m srcnn enhance PHOTO... -o OUTDIR [--model MODEL.pt] [--overwrite]
    python -m srcnn enhance ~/Pictures/trip -o restored/            # a folder: its photos, subfolders too
    python -m srcnn enhance photo.jpg -o photo_restored.png         # one photo: -o may name the file

The model is ``--model``'s for every photo, else one of the two that ship with the project
(docs/pretrained.md): ``models/pretrained/restorer-colour.pt`` for colour photos,
``models/pretrained/restorer.pt`` (luma) for gray ones (R = G = B in an RGB file counts as gray);
the pipeline's own (``models/srcnn.pt``, once ``dvc repro`` has trained it) takes their place only
for the photo kinds and JPEG qualities where its evaluation found it better than the shipped one
(``models/srcnn.ladder.json``; srcnn/gate.py). A shipped model that is missing or damaged is named,
and the models there are used. The first line printed says which model restores which photos, and
why.

A luma model (``channels: y``) runs on luma (Y of YCbCr); colour (Cb, Cr) is kept from the input,
bicubic-upscaled first when the model was trained for super-resolution (``scale`` > 1). A colour
model (``channels: ycbcr``, as its checkpoint records) restores Y, Cb and Cr. EXIF orientation is
applied, the ICC profile and the other EXIF fields are kept, grayscale stays grayscale (a colour
model sees it as R = G = B; the output is the gray of its luma). Big photos go through
in overlapping tiles, so memory stays bounded and there are no seams. Each output is written under
a temporary name and renamed when complete; existing outputs are kept unless ``--overwrite`` (one
that is not the photo's restoration, another photo's of the same name, counts as a failure).
A colour model restores each photo twice, as it is and turned half a turn, and averages the two
(``COLOUR_PASSES``); a luma model once. ``--passes N`` sets that for both (8: every flip and
rotation, ``--self-ensemble``).

How strongly each photo was compressed is read from its JPEG luma quantization table
(``srcnn.jpeg``) and from its pixels, on any of the 64 offsets of the 8×8 grid (a JPEG re-saved,
cropped and re-saved, or saved as PNG, TIFF, BMP, WebP: ``srcnn.history.jpeg_trace``); the larger
damage is given to the model, and ``enhance`` prints the quality it assumed, one line a photo. A
photo with no JPEG history is written unchanged; ``--quality Q`` restores every photo, JPEG files
too, as a JPEG of quality Q (lower smooths more, higher keeps more detail); a JPEG whose quality lies outside the
qualities the model was trained on (± 2), or where the model's own evaluation found it unsafe
(``models/srcnn.ladder.json`` beside ``models/srcnn.pt``, written by the evaluate stage for that
very checkpoint; srcnn/gate.py), or whose table is much flatter than the standard ones the models
are trained on (``MIN_STEEPNESS``), is written unchanged unless ``--force``. "Unchanged": the
very bytes of the file when the output has its format (and no ``scale`` enlarges it), else the
pixels as read, alpha included where the output's format holds it (enlarged by ``scale``, bicubic,
for a super-resolution model). A checkpoint that does not say which qualities it was trained on
(or was trained with no JPEG step) has no range to check: every photo is restored, as before.

Nothing lossy happens that was not asked for: WebP outputs are lossless and JPEG outputs quality
95 unless ``--output-quality``. No run writes over one of its own input photos, with or without
``--overwrite``, and two photos with the same output are both refused. A photo the model fails on
(out of memory, a backend error) is named and skipped; the others are still done (exit status 1).
"""

from __future__ import annotations

import argparse
import importlib.resources
import math
import re
import shutil
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from .archs import arch_of, channels_of
from .checks import BrokenModelError, check_restored, from_another_photo
from .color import is_gray, to_gray_float, to_gray_u8
from .compare import Comparisons
from .device import PRECISIONS, DeviceError, pick_device, pick_precision
from .files import atomic_path, file_sha256
from .gate import DamagedGateError, Gate, GateError, gate_path, in_trained, read_gate
from .history import JpegTrace, pixel_trace, told_damage
from .images import MAX_PIXELS, ImageError, bit_depth, load_deep, load_pixels, load_rgb
from .inference import PASSES, CheckpointError, load_model, model_scale, restore_rgb, trained_qualities
from .jpeg import estimate_quality, luma_qtable, steepness, strength_for_quality
from .metadata import Metadata, copy_times, pillow_options, png_chunks, read_metadata, with_png_chunks
from .photos import list_photo_files
from .progress import progress, tiles_progress
from .quantized import can_quantize

GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"})
FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".bmp": "BMP",
}
KEEPS_ALPHA = frozenset({"PNG", "WEBP", "TIFF"})
KEEPS_16_BITS = frozenset({"PNG"})  # the formats enhance writes with 16 bits per channel
ALPHA_MODES = frozenset({"RGBA", "LA", "La", "RGBa", "PA"})
JPEG_QUALITY = 95  # JPEG outputs without --output-quality
TRAINED_MODEL = Path("models/srcnn.pt")  # the train stage's output, relative to the project a user runs in


def shipped_models_folder() -> Path:
    """Where the models that ship with the project are: installed (``pip install``), the package data
    ``srcnn/pretrained/`` (pyproject.toml maps it to models/pretrained/); in the repository itself,
    models/pretrained/."""
    installed = Path(str(importlib.resources.files("srcnn"))) / "pretrained"
    return installed if installed.is_dir() else Path(__file__).resolve().parents[1] / "models" / "pretrained"


PRETRAINED_MODEL = shipped_models_folder() / "restorer.pt"  # luma: for gray photos
PRETRAINED_COLOUR_MODEL = shipped_models_folder() / "restorer-colour.pt"  # YCbCr: for colour photos
PROJECT = PRETRAINED_MODEL.parents[2]  # what --help names the shipped models from: the repository, or site-packages
SHIPPED_MODELS = {"gray": PRETRAINED_MODEL, "colour": PRETRAINED_COLOUR_MODEL}
ORIENTATION = 0x0112
# the least ``srcnn.jpeg.steepness`` of a JPEG's table that is restored: the models are trained on the
# standard tables (1.0); on Set5 and Set14 the shipped model made none of 14 photos worse at 0.75, at
# quality 20, 50 and 80, and 3 of 14 worse at 0.5 and quality 80 (benchmarks/table_shapes.py)
MIN_STEEPNESS = 0.7

# the colour model's passes per photo: its three outputs share a network the size of the luma
# model's, and one pass left it short on RGB; two gained +1.66 dB over one pass's +1.57 on the 17
# colour photos of Set5 and Set14 at quality 20, for twice the time (docs/enhance.md)
COLOUR_PASSES = 2


def default_passes(model: torch.nn.Module) -> int:
    """enhance's passes for ``model`` without ``--passes``: ``COLOUR_PASSES`` for a colour model, 1 for a luma one."""
    return COLOUR_PASSES if channels_of(model) == 3 else 1


@dataclass(frozen=True)
class Settings:
    device: torch.device
    dtype: torch.dtype | None
    tile: int
    scale: int
    quality: int | None = None  # --quality: the quality every photo is restored as (JPEG files too)
    trained: tuple[int, int] | None = None  # the JPEG qualities the model was trained on (trained_qualities)
    force: bool = False  # --force: restore JPEGs outside the trained or evaluated-safe qualities too
    gate: Gate | None = None  # the qualities the model's evaluation found safe (None: not evaluated)
    output_quality: int | None = None  # --output-quality: JPEG and WebP outputs (None: 95, lossless WebP)
    auto: bool = False  # --precision auto: each photo's precision by its size (device.pick_precision); else dtype
    int8: bool = True  # whether the model has an int8 copy (srcnn.quantized.can_quantize): auto may pick it
    passes: int = 1  # the mean of the model over this many flips and rotations of the photo (srcnn.inference)
    keep_times: bool = True  # the input's access and modification times on its output (--no-keep-times: not)


@dataclass(frozen=True)
class Restorer:
    """A model, the file it came from, and how enhance runs it."""

    path: Path
    model: torch.nn.Module
    settings: Settings


@dataclass(frozen=True)
class Restorers:
    """The restorer of gray photos and that of colour photos: the same one, except for the two
    shipped models (a luma model restores gray photos best, a colour model colour ones)."""

    gray: Restorer
    colour: Restorer
    # the pipeline's model, tried first where it beat gray's or colour's (its gate holds only those rungs)
    first: dict[str, Restorer] = field(default_factory=dict)

    @classmethod
    def one(cls, restorer: Restorer) -> Restorers:
        return cls(restorer, restorer)

    def paths(self) -> str:
        gray, colour = (
            f"{self.first[kind].path} or {restorer.path}" if kind in self.first else str(restorer.path)
            for kind, restorer in (("gray", self.gray), ("colour", self.colour))
        )
        return gray if gray == colour else f"{colour} for colour photos, {gray} for gray ones"

    def choose(self, header: Header, rgb: np.ndarray) -> tuple[Restorer, Decision]:
        """The restorer of a photo and what it does: the pipeline's model where it beat the shipped one
        at the photo's quality (``first``), else the shipped one."""
        # a black-and-white photo saved as RGB: the gray photos' model restores it better than the colour
        # model (benchmarks/results/bw-in-rgb-2026-12-07.log); it stays an RGB file
        neutral = not header.gray and is_gray(rgb)
        restorer, decision = self.choose_of_kind("gray" if header.gray or neutral else "colour", header, rgb)
        if neutral and decision.strength is not None and self.gray is not self.colour:
            decision = replace(decision, line=f"{decision.line}; R = G = B: restored as a gray photo")
        return restorer, decision

    def choose_of_kind(self, kind: str, header: Header, rgb: np.ndarray) -> tuple[Restorer, Decision]:
        """``choose`` among the restorers of photos of ``kind`` (gray or colour)."""
        # the pixels may show a stronger compression than the file's table (a JPEG re-saved, cropped) or, with
        # no table, a JPEG they were decoded from: looked for once, only below the table's quality, if needed
        traces: list[JpegTrace] = []
        for restorer in (self.first[kind], getattr(self, kind)) if kind in self.first else (getattr(self, kind),):
            settings = restorer.settings
            if not traces and settings.quality is None and (header.qtable is not None or settings.trained is not None):
                traces.append(pixel_trace(rgb, header.qtable))
            decision = decide(header.qtable, settings, traces[0] if traces else None)
            if kind not in self.first:
                return restorer, decision
            if decision.strength is not None or restorer is not self.first[kind]:
                return restorer, replace(decision, line=f"{decision.line} [{restorer.path}]")
        raise AssertionError("unreachable")


@dataclass(frozen=True)
class Decision:
    strength: float | None  # what the model is told; None: the photo is written unchanged
    line: str  # what enhance says about the photo
    precision: str = ""  # what it was restored in (fp32, bf16, fp16, int8); "" when not restored


def decide(qtable: list[int] | None, settings: Settings, trace: JpegTrace | None = None) -> Decision:
    """Whether and how to restore a photo with JPEG luma table ``qtable`` (None: not a JPEG file)
    whose pixels show ``trace`` (``pixel_trace``: for a JPEG file, a compression stronger than its
    table's; None: not looked for). The larger damage of table and pixels is what the model is told."""
    damage = told_damage(qtable, trace)
    quality: float
    if settings.quality is not None:  # the user's say: lower smooths more, higher keeps more detail
        quality, strength = settings.quality, strength_for_quality(settings.quality)
        said = f"JPEG quality {quality} (from --quality)"
        qtable = None  # the table no longer decides: its shape is not checked
    elif damage is not None and damage.by_pixels and qtable is not None and trace is not None:
        quality, strength = damage.quality, damage.strength
        said = pixels_said(quality, trace, math.floor(estimate_quality(qtable) + 0.5))
        qtable = None  # the table no longer decides: its shape is not checked
    elif damage is not None and qtable is not None:
        quality, strength = damage.quality, damage.strength
        said = f"JPEG quality ~{math.floor(quality + 0.5)} (from its quantization table)"
    elif damage is not None:
        quality, strength = damage.quality, damage.strength
        said = (
            f"JPEG quality ~{quality} (not a JPEG file, but its pixels are a decoded JPEG: "
            f"saved again at {quality} they barely change)"
        )
    elif settings.trained is None:
        return Decision(strength_for_quality(None), "no JPEG history; restored as never compressed")
    else:
        small = f", {trace.note}" if trace is not None and trace.note.startswith("too small") else ""
        return Decision(
            None,
            f"no JPEG history (not a JPEG{small}); left unchanged "
            "(pass --quality Q to restore it as a JPEG of quality Q)",
        )
    if not in_trained(quality, settings.trained):
        assert settings.trained is not None  # no known range is in it
        low, high = settings.trained
        why = f"outside the qualities the model was trained on ({low if low == high else f'{low}–{high}'})"
    elif qtable is not None and (slope := steepness(qtable)) < MIN_STEEPNESS:
        why = (
            f"its quantization table is flatter than the ones the model was trained on: it kept fine detail "
            f"the model would take for artifacts (steepness {slope:.2f}; standard tables 1.00, "
            f"restored from {MIN_STEEPNESS})"
        )
    elif settings.gate is not None and not settings.gate.allows(quality):
        why = (
            f"where the model's evaluation did not find it safe (quality {', '.join(map(str, settings.gate.unsafe()))})"
        )
    else:
        return Decision(strength, said)
    if not settings.force:
        return Decision(None, f"{said}, {why}; left unchanged (pass --force to restore it anyway)")
    said += f", {why}; restored anyway (--force)"
    return Decision(strength, said)


def pixels_said(quality: float, trace: JpegTrace, table_quality: int) -> str:
    """What enhance says of a JPEG file restored as ``quality``, the compression its pixels show."""
    if trace.resize < 1.0:
        return (
            f"JPEG quality ~{quality:g} (its pixels show a save at ~{trace.quality}, then a shrink to "
            f"{trace.resize:.1%} of each side, under its table's ~{table_quality})"
        )
    return (
        f"JPEG quality ~{trace.quality} (its pixels show a compression stronger than its table's "
        f"~{table_quality}, on a grid at offset {trace.offset[0]},{trace.offset[1]})"
    )


def nested(photo: Path, out: Path, folder: Path) -> bool:
    """Whether ``photo`` lies in the output folder ``out`` and ``out`` lies inside the input ``folder``
    (not the folder itself: restoring a folder into itself is refused photo by photo)."""
    inner = out.resolve()
    return inner != folder.resolve() and photo.resolve().is_relative_to(inner)


def plan_outputs(inputs: list[Path], out: Path, suffix: str) -> tuple[list[tuple[Path, Path]], list[str], list[Path]]:
    """Each photo to restore and where its result goes; notes on files left out; folders without photos.

    A folder among ``inputs`` is read the way ``prepare`` reads ``raw_dir`` (subfolders too, only
    photo files): its photos go to ``out/<path inside the folder>`` with ``suffix``. A single
    photo goes to ``out`` itself when ``out`` names an image file, else to ``out/<name><suffix>``.
    """
    if len(inputs) == 1 and not inputs[0].is_dir() and out.suffix.lower() in FORMATS:
        return [(inputs[0], out)], [], []
    pairs, notes, empty = [], [], []
    for item in inputs:
        if not item.is_dir():
            pairs.append((item, out / (item.stem + suffix)))
            continue
        photos, others = list_photo_files(item)
        inside = [photo for photo in photos if nested(photo, out, item)]
        if inside:  # the outputs of an earlier run into a folder inside the input folder
            notes.append(f"{out}/: the output folder lies inside {item}/; its {len(inside)} photos left out")
            photos = [photo for photo in photos if photo not in inside]
        if not photos:
            empty.append(item)
        elif others:
            notes.append(f"{item}/: {len(others)} files that are not photos left out")
        pairs.extend((photo, out / photo.relative_to(item).with_suffix(suffix)) for photo in photos)
    return pairs, notes, empty


def upscale(pixels: np.ndarray, scale: int) -> np.ndarray:
    """Bicubic enlargement by ``scale``: the input a super-resolution SRCNN expects. uint8 stays
    uint8; anything else (16-bit, float) comes back float64, each channel enlarged in float."""
    if scale == 1:
        return pixels
    height, width = pixels.shape[:2]
    size = (width * scale, height * scale)
    if pixels.dtype == np.uint8:
        return np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.BICUBIC))
    planes = pixels.reshape(height, width, -1).astype(np.float32)
    enlarged = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(planes[..., channel]), "F").resize(size, Image.Resampling.BICUBIC)
        )
        for channel in range(planes.shape[2])
    ]
    return np.stack(enlarged, axis=-1).astype(np.float64).reshape(size[1], size[0], *pixels.shape[2:])


@dataclass(frozen=True)
class Header:
    """What a photo file says about itself, read without decoding its pixels."""

    format: str | None  # Pillow's name for its format (a multi-picture JPEG counts as JPEG); None: unreadable
    gray: bool
    metadata: Metadata  # EXIF (its orientation is applied, and left out of what is written), ICC, XMP
    qtable: list[int] | None  # JPEG luma quantization table; None: not a JPEG
    bits: int = 8  # per channel: 16 for a 16-bit photo
    alpha: bool = False  # whether it has transparency
    frames: int = 1  # pictures in the file: more for an animation or a multi-page TIFF


def read_header(photo: Path) -> Header:
    try:
        with Image.open(photo) as image:  # header only: the pixels come from load_rgb
            kind = "JPEG" if image.format == "MPO" else image.format
            frames = 1 if kind == "JPEG" else getattr(image, "n_frames", 1)  # an MPO's other pictures are no frames
            alpha = image.mode in ALPHA_MODES or (image.mode == "P" and "transparency" in image.info)
            bits = bit_depth(image)  # before the metadata: reading a PNG's EXIF may decode it
            return Header(
                kind,
                image.mode in GRAY_MODES,
                read_metadata(image),
                luma_qtable(image),
                bits,
                alpha,
                frames,
            )
    except Exception:
        return Header(None, False, Metadata(None, None, None), None)  # load_rgb names the problem


def output_format(path: Path) -> str:
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise ValueError(f"{path}: unknown output format {path.suffix!r}; use one of {', '.join(sorted(FORMATS))}")
    return kind


def check_output_name(out: Path) -> None:
    """Refuse an ``-o`` that names a file of a format enhance does not write (``x.gif``), rather than
    make a folder of that name: a suffix of letters (and digits) that is no output format, on a path
    that is no existing folder. A folder named like ``v1.5`` or ``2024.12`` is still a folder."""
    suffix = out.suffix
    if out.is_dir() or suffix.lower() in FORMATS or not re.fullmatch(r"\.[A-Za-z][A-Za-z0-9]{0,4}", suffix):
        return
    raise ValueError(
        f"-o {out}: {suffix!r} is not an output format; use one of {', '.join(sorted(FORMATS))} "
        f"(or, for a folder of that name, create it first)"
    )


def save_photo(path: Path, array: np.ndarray, metadata: Metadata | None = None, quality: int | None = None) -> None:
    """Write an image in the format its extension names, atomically, keeping ``metadata`` (EXIF,
    ICC, XMP) where the format can. uint8, or uint16 (16 bits per channel) in a PNG. JPEG at
    ``quality`` (default 95); WebP lossless unless a ``quality`` is given."""
    kind = output_format(path)
    metadata = metadata or Metadata(None, None, None)
    size = (array.shape[1], array.shape[0])
    if array.dtype == np.uint16:
        if kind not in KEEPS_16_BITS:
            raise ValueError(f"{path}: {kind} is not written with 16 bits per channel")
        import imagecodecs  # Pillow writes colour in 8 bits only

        data = with_png_chunks(bytes(imagecodecs.png_encode(array)), png_chunks(metadata, size))
        with atomic_path(path) as temp:
            temp.write_bytes(data)
        return
    options: dict = {"format": kind, **pillow_options(kind, metadata, size)}
    if kind == "JPEG":
        options.update(quality=quality or JPEG_QUALITY, subsampling=0)
    if kind == "WEBP":
        options.update({"quality": quality} if quality else {"lossless": True, "exact": True})
    if kind == "PNG":
        options.update(compress_level=3)
    with atomic_path(path) as temp:
        Image.fromarray(array).save(temp, **options)


def losses(header: Header, kind: str) -> str:
    """What a ``kind`` output cannot hold of the photo, said on its line ("" when nothing)."""
    lost = []
    if header.bits == 16 and kind not in KEEPS_16_BITS:
        lost.append(f"written with 8 bits per channel, not its 16 ({kind} outputs hold 8; PNG outputs 16)")
    if header.alpha and kind not in KEEPS_ALPHA:
        lost.append(f"its transparency composited onto grey ({kind} holds none)")
    return "".join(f"; {item}" for item in lost)


def colour_and_alpha(photo: Path, header: Header, rgb: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray | None]:
    """What the model restores, H×W×3 (uint8; float in [0, 255] for a 16-bit photo whose output
    holds 16 bits), and the alpha that goes to the output unchanged (None: none, or not held)."""
    if header.bits == 16 and kind in KEEPS_16_BITS:
        pixels = load_deep(photo).astype(np.float64) / 257.0
    elif header.alpha and kind in KEEPS_ALPHA:
        pixels = load_pixels(photo)
    else:
        return rgb, None
    planes = pixels.reshape(*pixels.shape[:2], -1)
    has_alpha = planes.shape[2] in (2, 4)
    colour = planes[..., : planes.shape[2] - has_alpha]
    colour = np.repeat(colour, 3, axis=2) if colour.shape[2] == 1 else colour
    return np.ascontiguousarray(colour), planes[..., -1] if has_alpha and kind in KEEPS_ALPHA else None


def output_pixels(restored: np.ndarray, alpha: np.ndarray | None, gray: bool, scale: int) -> np.ndarray:
    """The restored photo as written: gray as one channel, the alpha (enlarged like the photo)
    beside it; a 16-bit photo (restored in float) as uint16."""
    deep = restored.dtype != np.uint8
    colour = (to_gray_float if deep else to_gray_u8)(restored)[..., None] if gray else restored
    if alpha is not None:
        colour = np.dstack([colour, upscale(alpha, scale)])
    if deep:
        colour = np.round(colour * 257.0).clip(0, 65535).astype(np.uint16)
    return colour[..., 0] if colour.shape[2] == 1 else colour


def enhance_photo(restorers: Restorers, photo: Path, target: Path) -> Decision:
    """Restore one photo file into ``target`` (or write it unchanged, as ``decide`` says) with the
    restorer of its kind (gray or colour); returns the decision."""
    header = read_header(photo)
    kind = output_format(target)  # an unknown format is refused before any work
    if header.frames > 1:
        raise ImageError(
            f"{photo}: {header.frames} frames (an animation or a multi-page file); enhance restores single "
            f"pictures, and refuses it rather than keep its first frame only"
        )
    scale = max(each.settings.scale for each in (restorers.gray, restorers.colour, *restorers.first.values()))
    rgb = load_rgb(photo, max_pixels=MAX_PIXELS // scale**2)  # the enlarged output is capped too
    restorer, decision = restorers.choose(header, rgb)
    settings = restorer.settings
    if decision.strength is None:
        note = write_unchanged(photo, header, rgb, target, settings)
    else:
        colour, alpha = colour_and_alpha(photo, header, rgb, kind)
        del rgb
        restored, dtype = restore_checked(restorer, colour, decision.strength, photo, header, target)
        del colour
        save_photo(
            target,
            output_pixels(restored, alpha, header.gray, settings.scale),
            header.metadata,
            settings.output_quality,
        )
        note, decision = losses(header, kind), replace(decision, precision=PRECISIONS[dtype])
    if settings.keep_times:
        copy_times(photo, target)
    return replace(decision, line=decision.line + note)


def restore_checked(
    restorer: Restorer, colour: np.ndarray, strength: float, photo: Path, header: Header, target: Path
) -> tuple[np.ndarray, torch.dtype | None]:
    """The model's restoration of ``colour`` (enlarged first for a super-resolution model) and the
    precision it ran in; a result far from its input (a broken model) writes the photo unchanged to
    ``target`` and raises BrokenModelError."""
    settings = restorer.settings
    colour = upscale(colour, settings.scale)
    dtype = settings.dtype
    if settings.auto:
        dtype = pick_precision("auto", settings.device, int8=settings.int8, pixels=colour.shape[0] * colour.shape[1])
    restored = restore_rgb(
        restorer.model,
        colour,
        settings.device,
        dtype,
        settings.tile,
        strength=strength,
        passes=settings.passes,
        on_tile=tiles_progress(photo.name),
    )
    try:
        check_restored(restored, colour, restorer.path)
    except BrokenModelError:
        write_unchanged(photo, header, load_rgb(photo), target, settings)
        raise
    return restored, dtype


def write_unchanged(photo: Path, header: Header, rgb: np.ndarray, target: Path, settings: Settings) -> str:
    """The photo as it is: its very bytes when ``target`` has its format and nothing is enlarged,
    else its pixels (alpha and 16 bits too where the format holds them; ``rgb``, as read, where
    not). Returns what the output could not hold, as ``losses``."""
    kind = output_format(target)
    if header.format == kind and settings.scale == 1:
        with atomic_path(target) as temp:
            shutil.copyfile(photo, temp)
        return ""
    if header.bits == 16 and kind in KEEPS_16_BITS:
        pixels = upscale(load_deep(photo), settings.scale)
        pixels = np.round(pixels).clip(0, 65535).astype(np.uint16)
    elif kind in KEEPS_ALPHA:
        pixels = upscale(load_pixels(photo), settings.scale)
    else:
        pixels = upscale(rgb[..., 0].copy() if header.gray else rgb, settings.scale)
    save_photo(target, pixels, header.metadata, settings.output_quality)
    return losses(header, kind)


def parser(commands: argparse._SubParsersAction | None = None) -> argparse.ArgumentParser:
    description = (
        "Restore photos with a trained SRCNN model (luma restored and colour kept, or, "
        "with a colour model, all three channels restored)."
    )
    command = (
        commands.add_parser("enhance", help="restore your own photos", description=description)
        if commands
        else argparse.ArgumentParser(prog="python -m srcnn enhance", description=description)
    )
    command.add_argument(
        "photos", nargs="+", type=Path, metavar="PHOTO", help="photos to restore, or folders of photos (subfolders too)"
    )
    command.add_argument(
        "-o",
        "--out",
        type=Path,
        required=True,
        metavar="OUTDIR",
        help="output folder (or, for one photo, an output file name)",
    )
    command.add_argument(
        "--model",
        type=Path,
        default=None,
        help=f"checkpoint (default: {TRAINED_MODEL} when the pipeline has trained it, else the "
        f"shipped {PRETRAINED_COLOUR_MODEL.relative_to(PROJECT)} for colour photos and "
        f"{PRETRAINED_MODEL.relative_to(PROJECT)} for gray ones)",
    )
    command.add_argument(
        "--format",
        default="png",
        choices=sorted({suffix[1:] for suffix in FORMATS}),
        help="output format in a folder (default %(default)s)",
    )
    command.add_argument(
        "--output-quality",
        type=int,
        metavar="Q",
        help="quality (1-100) of JPEG and WebP outputs; without it JPEG is written at "
        f"{JPEG_QUALITY} and WebP lossless",
    )
    command.add_argument(
        "--no-keep-times",
        dest="keep_times",
        action="store_false",
        help="give outputs the time they were written, not the input photo's (kept by default: "
        "photo managers sort by it)",
    )
    command.add_argument(
        "--overwrite", action="store_true", help="replace outputs that already exist (never one of the input photos)"
    )
    _restoring_options(command)
    return command


def _restoring_options(command: argparse.ArgumentParser) -> None:
    """How the photos are restored: precision, device, tiles, the quality assumed, the passes,
    the before/after page and --force."""
    command.add_argument(
        "--precision",
        default="auto",
        choices=("auto", "fp32", "bf16", "int8"),
        help="auto: on a GPU bf16 (fp16 where it has none); on a CPU int8 for photos of 2 "
        "megapixels or more, else bf16 where the CPU has it, else fp32: the fastest within "
        "0.05 dB of fp32 (srcnn/device.py, benchmarks/enhance_speed.py)",
    )
    command.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    command.add_argument("--tile", type=int, default=512, help="tile side in pixels; memory grows with it")
    command.add_argument(
        "--quality",
        type=int,
        metavar="Q",
        help="restore every photo, JPEG files too, as a JPEG of quality Q (1-100): lower smooths more, "
        "higher keeps more detail; without it a JPEG's table and pixels say, and a photo with no JPEG "
        "history is written unchanged",
    )
    passes = command.add_mutually_exclusive_group()
    passes.add_argument(
        "--passes",
        type=int,
        choices=PASSES,
        help=f"restore each photo in N of its flips and rotations and average the results: N times the time, "
        f"more quality (docs/enhance.md); default {COLOUR_PASSES} for the colour model, 1 for the luma one",
    )
    passes.add_argument("--self-ensemble", dest="passes", action="store_const", const=8, help="the same as --passes 8")
    command.add_argument(
        "--compare",
        action="store_true",
        help="also write OUTDIR/compare.html (a before/after slider per photo) and, per photo, "
        "OUTDIR/compare/NAME.before-after.png with a zoomed crop (docs/enhance.md)",
    )
    command.add_argument(
        "--force",
        action="store_true",
        help="also restore JPEGs whose quality is outside the qualities the model was trained on, "
        "or where its evaluation (the .ladder.json beside the model) did not find it safe",
    )


def default_models(args: argparse.Namespace) -> tuple[Restorers, str]:
    """The restorers without --model, and why: per photo kind the shipped model (another model that
    is there, when it is missing or damaged), and the pipeline's own first where it beat it."""
    shipped = {kind: load_shipped(path, kind, args) for kind, path in SHIPPED_MODELS.items()}
    trained = load_restorer(TRAINED_MODEL, args) if TRAINED_MODEL.is_file() else None
    if trained is not None and trained.settings.scale != 1:
        return Restorers.one(trained), "trained by this project's pipeline to enlarge; the shipped models do not"
    there = [restorer for restorer in (trained, shipped["colour"], shipped["gray"]) if restorer is not None]
    if not there:
        raise CheckpointError(f"no model to restore with: {TRAINED_MODEL} and the shipped models are missing")
    chosen = {kind: restorer or there[0] for kind, restorer in shipped.items()}
    first: dict[str, Restorer] = {}
    why: list[str] = []
    for kind, restorer in chosen.items():
        beaten: list[int] = []
        if restorer is trained:
            reason = "the shipped one cannot be used"
        else:
            beaten, reason = beaten_rungs(trained, restorer, kind)
        gate = trained.settings.gate if trained else None
        if beaten and trained is not None and gate is not None:
            first[kind] = replace(trained, settings=replace(trained.settings, gate=gate.for_kind(kind), force=False))
            reason = (
                f"{trained.path} near JPEG q{', q'.join(map(str, beaten))}, where its evaluation beat the shipped one"
            )
        why.append(f"{kind} photos: {reason}")
    return Restorers(chosen["gray"], chosen["colour"], first), "; ".join(why)


def load_shipped(path: Path, kind: str, args: argparse.Namespace) -> Restorer | None:
    """A shipped model, or None (said) when it is missing or damaged."""
    try:
        return load_restorer(path, args)
    except CheckpointError as error:
        print(f"enhance: note: the shipped model of {kind} photos cannot be used: {error}", file=sys.stderr)
        return None


def beaten_rungs(trained: Restorer | None, shipped: Restorer, kind: str) -> tuple[list[int], str]:
    """The rungs where the pipeline's model is safe and beat ``shipped`` on photos of ``kind``, or why none."""
    if trained is None:
        return [], f"shipped with the project; no {TRAINED_MODEL} here: 'dvc repro' trains one"
    gate = trained.settings.gate
    comparison = (gate.shipped or {}).get(kind) if gate else None
    if gate is None or comparison is None or comparison.sha256 != file_sha256(shipped.path):
        return [], f"the shipped one; {trained.path} was not compared with it: 'dvc repro evaluate' compares them"
    beaten = [quality for quality, safe in sorted(gate.for_kind(kind).rungs.items()) if safe]
    return beaten, "" if beaten else f"the shipped one; {trained.path} did not beat it at any quality of its evaluation"


def setup(args: argparse.Namespace) -> Restorers:
    """The models and the settings of a run; CheckpointError, DeviceError, DamagedGateError or
    ValueError (a bad option) say why there are none."""
    if args.tile < 16:
        raise ValueError(f"--tile {args.tile} is too small; use 16 or more")
    for option, value in (("--quality", args.quality), ("--output-quality", args.output_quality)):
        if value is not None and not 1 <= value <= 100:
            raise ValueError(f"{option} {value} is not a JPEG quality; use 1 to 100")
    if args.model:
        restorers, why = Restorers.one(load_restorer(args.model, args)), "given by --model"
    else:
        restorers, why = default_models(args)
    loaded = (restorers.gray, restorers.colour, *restorers.first.values())
    archs = ", ".join(dict.fromkeys(arch_of(restorer.model) for restorer in loaded))
    print(f"enhance: model {restorers.paths()} ({archs}; {why})", file=sys.stderr)
    return restorers


def load_restorer(path: Path, args: argparse.Namespace) -> Restorer:
    """One model and the settings enhance runs it with: the options, and what its checkpoint and
    the gate beside it say."""
    model, info = load_model(path)
    device = pick_device(args.device, "--device")
    int8 = can_quantize(model)
    if args.precision == "int8" and not int8:
        what = f"a colour {arch_of(model)} model (channels: ycbcr)" if channels_of(model) == 3 else arch_of(model)
        raise ValueError(f"--precision int8 runs SRCNN models only, on luma; {path} is {what}: use auto, bf16 or fp32")
    dtype = pick_precision(args.precision, device, int8=True)
    try:
        gate = read_gate(gate_path(path), path)
    except DamagedGateError:
        raise
    except GateError as error:
        gate = None
        used = "every JPEG within the qualities it was trained on is restored"
        if path == TRAINED_MODEL and not args.model:  # default_models: the shipped ones wherever they can be used
            used = "the shipped models restore the photos, it only those no shipped model can"
        print(
            f"enhance: note: {error}: this model's evaluation is unknown, so {used}; 'dvc repro evaluate' writes it",
            file=sys.stderr,
        )
    return Restorer(
        path,
        model,
        Settings(
            device,
            dtype,
            args.tile,
            model_scale(info),
            args.quality,
            trained_qualities(info),
            args.force,
            gate,
            args.output_quality,
            auto=args.precision == "auto",
            int8=int8,
            passes=args.passes or default_passes(model),
            keep_times=args.keep_times,
        ),
    )


def refusals(pairs: list[tuple[Path, Path]]) -> dict[tuple[Path, Path], str]:
    """The (photo, output) pairs that must not be written, with why: an output that is one of the
    run's input photos (with or without --overwrite), or the output of two photos (neither is
    written, so the result never depends on their order). Decided before anything is written."""

    def identity(path: Path) -> tuple[int, int] | None:  # the file itself, whatever the path (links too)
        try:
            status = path.stat()
        except OSError:
            return None
        return status.st_dev, status.st_ino

    inputs: dict[tuple[int, int], Path] = {}
    for photo, _ in pairs:
        if (key := identity(photo)) is not None:
            inputs.setdefault(key, photo)
    why: dict[tuple[Path, Path], str] = {}
    photos_of: dict[Path, list[Path]] = defaultdict(list)
    for photo, target in pairs:
        existing = identity(target)
        if existing in inputs:
            other = "the photo itself" if existing == identity(photo) else f"the input photo {inputs[existing]}"
            why[photo, target] = f"its output {target} is {other}; input photos are never written over"
        photos_of[target.resolve()].append(photo)
    for photo, target in pairs:
        others = [other for other in dict.fromkeys(photos_of[target.resolve()]) if other != photo]
        if others and (photo, target) not in why:
            why[photo, target] = (
                f"its output {target} would also be the output of {', '.join(map(str, others))}; "
                f"none of them is written (restore them into different folders)"
            )
    return why


def kept_message(photo: Path, target: Path, other: bool) -> str:
    """Why an existing output is kept: as it is, or, made from ``other`` photo of the same name, as a
    failure (exit 1): kept without a word, it would leave a folder mixing two runs' photos."""
    if not other:
        return f"{target} exists; kept (pass --overwrite to replace it)"
    return f"{photo}: {target} exists and is not this photo's restoration (another photo's?); kept, pass --overwrite"


def model_failure(error: BaseException, settings: Settings) -> str:
    """What to tell about a photo the model failed on (out of memory, a backend error)."""
    first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
    if settings.device.type == "cuda":
        torch.cuda.empty_cache()  # what the failed photo held, for the next one
    if isinstance(error, (torch.OutOfMemoryError, MemoryError)) or "out of memory" in first_line.lower():
        return f"out of memory ({first_line}); a smaller --tile (now {settings.tile}) needs less"
    return (
        f"the model failed on it ({type(error).__name__}: {first_line}); --precision fp32 or --device cpu may avoid it"
    )


@dataclass
class _Tally:
    """What an enhance run did so far, for its last lines."""

    failed: list[str]
    kept: list[str] = field(default_factory=list)
    done: int = 0
    unchanged: int = 0
    precisions: Counter[str] = field(default_factory=Counter)


def _enhance_one(
    args: argparse.Namespace,
    restorers: Restorers,
    photo: Path,
    target: Path,
    refused: dict[tuple[Path, Path], str],
    comparisons: Comparisons,
    tally: _Tally,
    bar: Any,
) -> None:
    """One photo: restored, written unchanged, kept, or skipped with its reason (in ``tally``)."""
    if not photo.is_file():
        tally.failed.append(f"{photo}: no such file")
        return
    if (photo, target) in refused:
        tally.failed.append(f"{photo}: {refused[photo, target]}")
        return
    if target.exists() and not args.overwrite:
        other = from_another_photo(photo, target, restorers.colour.settings.scale)
        (tally.failed if other else tally.kept).append(kept_message(photo, target, other))
        return
    try:
        decision = enhance_photo(restorers, photo, target)
    except BrokenModelError as error:
        tally.failed.append(f"{photo}: {error}")
        return
    except (ImageError, OSError, ValueError) as error:
        tally.failed.append(f"{photo}: {error}" if str(photo) not in str(error) else str(error))
        return
    except (RuntimeError, MemoryError) as error:  # torch.OutOfMemoryError is a RuntimeError
        tally.failed.append(f"{photo}: {model_failure(error, restorers.colour.settings)}")
        return
    bar.write(f"enhance: {photo}: {decision.line}", file=sys.stdout)
    if args.compare:
        try:
            comparisons.add(photo, target, decision.line, changed=decision.strength is not None)
        except (ImageError, OSError) as error:
            tally.failed.append(f"{photo}: written, but its before/after could not be ({error})")
    if decision.strength is None:
        tally.unchanged += 1
    else:
        tally.done += 1
        tally.precisions[decision.precision] += 1


def _report(args: argparse.Namespace, restorers: Restorers, tally: _Tally, comparisons: Comparisons) -> None:
    """The run's last lines: the before/after page, the photos kept and skipped, and the counts."""
    if args.compare:
        print(f"enhance: before/after of {len(comparisons.entries)} photos: {comparisons.write_page()}")
    for message in tally.kept:
        print(f"enhance: {message}", file=sys.stderr)
    for message in tally.failed:
        print(f"enhance: skipped {message}", file=sys.stderr)
    precisions = tally.precisions
    ran = (
        " and ".join(f"{name} for {count} photo{'s' * (count > 1)}" for name, count in precisions.most_common())
        if len(precisions) > 1
        else next(iter(precisions), PRECISIONS[restorers.colour.settings.dtype])
    )
    scale = restorers.colour.settings.scale
    colour, gray = restorers.colour.settings.passes, restorers.gray.settings.passes
    passes = f"{colour} pass{'es' * (colour > 1)}" + (f" on colour photos, {gray} on gray ones" * (colour != gray))
    print(
        f"enhance: {tally.done} restored, {tally.unchanged} unchanged, {len(tally.kept)} kept, "
        f"{len(tally.failed)} skipped (model {restorers.paths()}, scale {scale}, {ran}, {passes}, tiles of {args.tile})"
    )


def run(args: argparse.Namespace) -> int:
    """The enhance command; returns the exit status (0: every photo restored, written unchanged or kept;
    1: some failed or were refused; 2: a bad option, model, device or gate file, and nothing written)."""
    try:
        check_output_name(args.out)
        restorers = setup(args)
    except BrokenModelError as error:
        print(f"enhance: {error}; no photo was written", file=sys.stderr)
        return 1
    except (CheckpointError, DeviceError, DamagedGateError, ValueError) as error:
        print(f"enhance: {error}", file=sys.stderr)
        return 2
    pairs, notes, empty = plan_outputs(args.photos, args.out, "." + args.format)
    pairs = list(dict.fromkeys(pairs))  # a photo named twice is done once
    for note in notes:
        print(f"enhance: {note}", file=sys.stderr)
    tally = _Tally([f"{folder}/: a folder with no photos (JPEG, PNG, TIFF, WebP or BMP files)" for folder in empty])
    refused = refusals(pairs)
    comparisons = Comparisons(args.out.parent if pairs == [(args.photos[0], args.out)] else args.out)
    bar = progress(pairs, desc="enhance", unit="photo")
    for photo, target in bar:
        bar.set_postfix_str(photo.name)
        _enhance_one(args, restorers, photo, target, refused, comparisons, tally, bar)
    bar.close()
    _report(args, restorers, tally, comparisons)
    return 1 if tally.failed else 0
