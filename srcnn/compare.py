"""Before/after of the photos ``enhance`` wrote: ``python -m srcnn enhance … --compare``.

    python -m srcnn enhance ~/Pictures/trip -o restored/ --compare
    # → restored/compare.html: a before/after slider per photo (open it in a browser, no server)
    # → restored/compare/<name>.before-after.png: the photo | its result, and below them a zoomed
    #   crop of each where the restoration changed the photo most

A photo written unchanged is shown too, labelled unchanged with the reason ``enhance`` gave. The
page refers to the photos and the outputs by relative paths (a file URL where there is none, as
across Windows drives); a photo or an output a browser cannot show (TIFF) gets a PNG copy in
``compare/``.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import numpy as np
from PIL import Image, ImageDraw

from .color import to_luma_u8
from .files import write_text_atomic
from .images import load_rgb, save_png
from .pictures import labelled, most_detailed_window

PAGE = "compare.html"
FOLDER = "compare"
SHOWN_BY_BROWSERS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "BMP", "GIF"})
OVERVIEW_SIDE = 640  # the long side of each whole-photo panel, in pixels
CROP, ZOOM = 128, 3  # the crop where the photo changed most, and its nearest-neighbour enlargement


def most_changed_window(before: np.ndarray, after: np.ndarray, size: int) -> tuple[int, int]:
    """Top-left corner of the ``size``×``size`` window where ``after`` differs most from ``before``
    (mean absolute difference over the channels); the most detailed window where nothing changed."""
    height, width = before.shape[:2]
    size = min(size, height, width)
    change = np.abs(after.astype(np.int32) - before.astype(np.int32)).reshape(height, width, -1).sum(axis=2)
    if not change.any():
        return most_detailed_window(to_luma_u8(before), size)
    sums = np.pad(change.cumsum(0).cumsum(1), ((1, 0), (1, 0)))  # summed-area table: any window's sum in 4 reads
    windows = sums[size:, size:] - sums[:-size, size:] - sums[size:, :-size] + sums[:-size, :-size]
    top, left = np.unravel_index(int(windows.argmax()), windows.shape)
    return int(top), int(left)


def comparison_picture(before: np.ndarray, after: np.ndarray, labels: tuple[str, str]) -> np.ndarray:
    """One RGB picture: ``before`` | ``after`` whole (at most ``OVERVIEW_SIDE`` px), the crop marked
    in red, and below them the crop of each enlarged ``ZOOM``×. ``before`` is enlarged (bicubic) to
    the size of ``after`` when a super-resolution model made that larger."""
    height, width = after.shape[:2]
    if before.shape[:2] != (height, width):
        before = np.asarray(Image.fromarray(before).resize((width, height), Image.Resampling.BICUBIC))
    size = min(CROP, height, width)
    top, left = most_changed_window(before, after, size)
    factor = min(1.0, OVERVIEW_SIDE / max(height, width))
    small = (max(1, round(width * factor)), max(1, round(height * factor)))
    panels, zoomed = [], []
    for image, label in zip((before, after), labels, strict=True):
        overview = Image.fromarray(image).resize(small, Image.Resampling.LANCZOS)
        box = [left * factor, top * factor, (left + size) * factor - 1, (top + size) * factor - 1]
        ImageDraw.Draw(overview).rectangle(box, outline=(255, 0, 0), width=2)
        panels.append(labelled(np.asarray(overview), label))
        crop = image[top : top + size, left : left + size]
        zoomed.append(labelled(np.repeat(np.repeat(crop, ZOOM, 0), ZOOM, 1), f"{label.split(':')[0]}, crop x{ZOOM}"))
    cell_width = max(panel.width for panel in panels + zoomed)
    sheet = Image.new("RGB", (2 * cell_width + 8, panels[0].height + zoomed[0].height + 8), "white")
    for column, (panel, crop_panel) in enumerate(zip(panels, zoomed, strict=True)):
        sheet.paste(panel, (column * (cell_width + 8), 0))
        sheet.paste(crop_panel, (column * (cell_width + 8), panel.height + 8))
    return np.asarray(sheet)


@dataclass(frozen=True)
class Entry:
    """One photo on the page: what to show for before and after, and what enhance said."""

    photo: Path
    before: Path  # the photo itself, or its PNG copy where browsers cannot show it
    after: Path
    picture: Path
    line: str
    changed: bool


def _browser_shows(path: Path) -> bool:
    try:
        with Image.open(path) as image:
            return image.format in SHOWN_BY_BROWSERS
    except Exception:
        return False


class Comparisons:
    """The before/after of one ``enhance --compare`` run into ``folder`` (the output folder)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.entries: list[Entry] = []

    def _stem(self, target: Path) -> Path:
        try:
            inside = target.relative_to(self.folder)
        except ValueError:
            inside = Path(target.name)
        return self.folder / FOLDER / inside.with_suffix("")

    def add(self, photo: Path, target: Path, line: str, changed: bool) -> Path:
        """Write the before/after picture of ``photo`` and its output ``target``; returns its path."""
        before, after = load_rgb(photo), load_rgb(target)
        stem = self._stem(target)
        labels = (f"before: {photo.name}", "after: restored" if changed else "after: unchanged")
        picture = stem.with_name(stem.name + ".before-after.png")
        save_png(picture, comparison_picture(before, after, labels))
        shown = {}
        for role, path, pixels in (("before", photo, before), ("after", target, after)):
            shown[role] = path
            if not _browser_shows(path):
                shown[role] = stem.with_name(f"{stem.name}.{role}.png")
                save_png(shown[role], pixels)
        self.entries.append(Entry(photo, shown["before"], shown["after"], picture, line, changed))
        return picture

    def write_page(self) -> Path:
        page = self.folder / PAGE
        write_text_atomic(page, render_page(self.entries, self.folder))
        return page


def link(path: Path, folder: Path) -> str:
    """``path`` as the page in ``folder`` refers to it: relative where it can be, else a file URL."""
    try:
        return quote(Path(os.path.relpath(path.resolve(), folder.resolve())).as_posix())
    except ValueError:  # another drive (Windows): no relative path exists
        return path.resolve().as_uri()


STYLE = """body{font-family:sans-serif;margin:1em;background:#f4f4f4}
section{margin-bottom:2em}
.slider{display:inline-block;margin:0;max-width:100%}
.pair{position:relative;line-height:0}
.pair img{display:block;max-width:100%;height:auto}
.pair img.before{position:absolute;top:0;left:0;width:100%;height:100%;clip-path:inset(0 50% 0 0)}
.slider input{display:block;width:100%;margin:.4em 0}
.unchanged{color:#a05000}"""

SCRIPT = """for (const slider of document.querySelectorAll('.slider')) {
  const range = slider.querySelector('input'), before = slider.querySelector('img.before');
  const show = () => { before.style.clipPath = 'inset(0 ' + (100 - range.value) + '% 0 0)'; };
  range.addEventListener('input', show);
  show();
}"""


def render_page(entries: list[Entry], folder: Path) -> str:
    """The HTML page: per photo its name, what enhance said, and a slider (before left, after right)."""
    sections = []
    for number, entry in enumerate(entries):
        name = html.escape(entry.photo.name)
        status = "restored" if entry.changed else '<span class="unchanged">unchanged</span>'
        sections.append(
            f'<section id="photo-{number}"><h2>{name}: {status}</h2>\n'
            f"<p>{html.escape(entry.line)}</p>\n"
            f'<figure class="slider"><div class="pair">'
            f'<img class="after" src="{link(entry.after, folder)}" alt="after: {name}" loading="lazy">'
            f'<img class="before" src="{link(entry.before, folder)}" alt="before: {name}" loading="lazy"></div>\n'
            f'<input type="range" min="0" max="100" value="50" aria-label="before/after split of {name}"></figure>\n'
            f'<p><a href="{link(entry.picture, folder)}">before | after with a zoomed crop</a></p></section>'
        )
    body = "\n".join(sections) or "<p>No photo was written.</p>"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Before / after</title>\n<style>{STYLE}</style></head>\n<body>\n"
        "<h1>Before / after</h1><p>Left of the line: the photo; right: the result. Drag the slider.</p>\n"
        f"{body}\n<script>\n{SCRIPT}\n</script>\n</body></html>\n"
    )
