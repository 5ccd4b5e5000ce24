"""Restore your own photos with a trained model, any size, colour or grayscale.

    python -m srcnn enhance PHOTO... -o OUTDIR [--model models/srcnn.pt] [--overwrite]
    python -m srcnn enhance ~/Pictures/trip -o restored/            # a folder: its photos, subfolders too
    python -m srcnn enhance photo.jpg -o photo_restored.png         # one photo: -o may name the file

The model runs on luma (Y of YCbCr); colour (Cb, Cr) is kept from the input, bicubic-upscaled first
when the model was trained for super-resolution (``scale`` > 1). EXIF orientation is applied, the
ICC profile and the other EXIF fields are kept, grayscale stays grayscale. Big photos go through
in overlapping tiles, so memory stays bounded and there are no seams. Each output is written under
a temporary name and renamed when complete; existing outputs are kept unless ``--overwrite``.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .device import pick_device, pick_precision
from .files import atomic_path
from .images import ImageError, PHOTO_SUFFIXES, load_rgb
from .inference import INT8, CheckpointError, load_model, model_scale, restore_rgb
from .photos import list_photo_files
from .progress import progress

GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"})
FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".tif": "TIFF", ".tiff": "TIFF",
           ".bmp": "BMP"}
KEEPS_ICC = frozenset({"PNG", "JPEG", "WEBP", "TIFF"})
KEEPS_EXIF = frozenset({"PNG", "JPEG", "WEBP"})
ORIENTATION = 0x0112


@dataclass(frozen=True)
class Settings:
    device: torch.device
    dtype: torch.dtype | None
    tile: int
    scale: int


def plan_outputs(inputs: list[Path], out: Path,
                 suffix: str) -> tuple[list[tuple[Path, Path]], list[str], list[Path]]:
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
        if not photos:
            empty.append(item)
        elif others:
            notes.append(f"{item}/: {len(others)} files that are not photos left out")
        pairs.extend((photo, out / photo.relative_to(item).with_suffix(suffix)) for photo in photos)
    return pairs, notes, empty


def upscale(rgb: np.ndarray, scale: int) -> np.ndarray:
    """Bicubic enlargement by ``scale``: the input a super-resolution SRCNN expects."""
    if scale == 1:
        return rgb
    height, width = rgb.shape[:2]
    return np.asarray(Image.fromarray(rgb).resize((width * scale, height * scale), Image.Resampling.BICUBIC))


def _metadata(photo: Path) -> tuple[bool, bytes | None, Image.Exif | None]:
    """Whether the photo is grayscale, its ICC profile and its EXIF (orientation removed: it is applied)."""
    try:
        with Image.open(photo) as image:  # header only: the pixels come from load_rgb
            exif = image.getexif()
            exif.pop(ORIENTATION, None)
            icc = image.info.get("icc_profile") if image.mode != "CMYK" else None  # a CMYK profile would lie about RGB
            return image.mode in GRAY_MODES, icc, exif if len(exif) else None
    except Exception:
        return False, None, None  # load_rgb names the problem


def save_photo(path: Path, array: np.ndarray, icc: bytes | None = None, exif: Image.Exif | None = None) -> None:
    """Write an image in the format its extension names, atomically, keeping ICC and EXIF where the format can."""
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise ValueError(f"{path}: unknown output format {path.suffix!r}; use one of {', '.join(sorted(FORMATS))}")
    options: dict = {"format": kind}
    if kind == "JPEG":
        options.update(quality=95, subsampling=0)
    if kind == "PNG":
        options.update(compress_level=3)
    if icc and kind in KEEPS_ICC:
        options["icc_profile"] = icc
    if exif is not None and kind in KEEPS_EXIF:
        options["exif"] = exif.tobytes()
    with atomic_path(path) as temp:
        Image.fromarray(array).save(temp, **options)


def enhance_photo(model: torch.nn.Module, photo: Path, target: Path, settings: Settings) -> tuple[int, int]:
    """Restore one photo file into ``target``; returns the output's width and height."""
    gray, icc, exif = _metadata(photo)
    rgb = upscale(load_rgb(photo), settings.scale)
    restored = restore_rgb(model, rgb, settings.device, settings.dtype, settings.tile)
    del rgb
    save_photo(target, restored[..., 0].copy() if gray else restored, icc, exif)
    return restored.shape[1], restored.shape[0]


def pick_dtype(name: str, device: torch.device) -> torch.dtype | None:
    """The inference precision for ``--precision``: None (fp32), bfloat16 (autocast) or INT8."""
    from .quantized import engine
    if name == "int8":
        if device.type != "cpu" or engine() is None:
            raise ValueError(f"--precision int8 runs on a CPU with a quantized backend, not on {device.type}")
        return INT8
    if name == "auto" and device.type == "cpu" and engine() is not None:
        return INT8
    return pick_precision(name, device)


def parser(commands: argparse._SubParsersAction | None = None) -> argparse.ArgumentParser:
    options = dict(description="Restore photos with a trained SRCNN model (luma restored, colour kept).")
    command = (commands.add_parser("enhance", help="restore your own photos", **options) if commands
               else argparse.ArgumentParser(prog="python -m srcnn enhance", **options))
    command.add_argument("photos", nargs="+", type=Path, metavar="PHOTO",
                         help="photos to restore, or folders of photos (subfolders too)")
    command.add_argument("-o", "--out", type=Path, required=True, metavar="OUTDIR",
                         help="output folder (or, for one photo, an output file name)")
    command.add_argument("--model", type=Path, default=Path("models/srcnn.pt"), help="checkpoint (default %(default)s)")
    command.add_argument("--format", default="png", choices=sorted({suffix[1:] for suffix in FORMATS}),
                         help="output format in a folder (default %(default)s)")
    command.add_argument("--overwrite", action="store_true", help="replace outputs that already exist")
    command.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16", "int8"),
                         help="auto: int8 on a CPU that has a quantized backend, else bf16 where the "
                              "hardware has it, else fp32; each within 0.05 dB of fp32 "
                              "(benchmarks/enhance_speed.py)")
    command.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    command.add_argument("--tile", type=int, default=512, help="tile side in pixels; memory grows with it")
    return command


def run(args: argparse.Namespace) -> int:
    """The enhance command; returns the exit status (0: every photo done or kept, 1: some failed, 2: no model)."""
    try:
        model, info = load_model(args.model)
    except CheckpointError as error:
        print(f"enhance: {error}", file=sys.stderr)
        return 2
    if args.tile < 16:
        print(f"enhance: --tile {args.tile} is too small; use 16 or more", file=sys.stderr)
        return 2
    device = pick_device(args.device)
    try:
        dtype = pick_dtype(args.precision, device)
    except ValueError as error:
        print(f"enhance: {error}", file=sys.stderr)
        return 2
    settings = Settings(device, dtype, args.tile, model_scale(info))
    pairs, notes, empty = plan_outputs(args.photos, args.out, "." + args.format)
    for note in notes:
        print(f"enhance: {note}", file=sys.stderr)
    failed = [f"{folder}/: a folder with no photos (JPEG, PNG, TIFF, WebP or BMP files)" for folder in empty]
    kept, done, seen = [], 0, set()
    bar = progress(pairs, desc="enhance", unit="photo")
    for photo, target in bar:
        bar.set_postfix_str(photo.name)
        if not photo.is_file():
            failed.append(f"{photo}: no such file")
            continue
        if target.resolve() in seen or (target.exists() and target.resolve() == photo.resolve()):
            failed.append(f"{photo}: its output {target} would replace "
                          f"{'the photo itself' if target.exists() and target.resolve() == photo.resolve() else 'another output of this run'}")
            continue
        seen.add(target.resolve())
        if target.exists() and not args.overwrite:
            kept.append(f"{target} exists; kept (pass --overwrite to replace it)")
            continue
        try:
            enhance_photo(model, photo, target, settings)
            done += 1
        except (ImageError, OSError, ValueError) as error:
            failed.append(f"{photo}: {error}" if str(photo) not in str(error) else str(error))
    bar.close()
    for message in kept:
        print(f"enhance: {message}", file=sys.stderr)
    for message in failed:
        print(f"enhance: skipped {message}", file=sys.stderr)
    precision = {None: "fp32", INT8: "int8", torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]
    print(f"enhance: {done} restored, {len(kept)} kept, {len(failed)} skipped "
          f"(model {args.model}, scale {settings.scale}, {precision}, tiles of {args.tile})")
    return 1 if failed else 0
