"""Before/after pictures: clean | degraded | restored side by side, labelled, with a zoomed detail."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .color import to_luma_u8

LABEL_HEIGHT = 20


def most_detailed_window(luma: np.ndarray, size: int) -> tuple[int, int]:
    """Top-left corner of the ``size``×``size`` window with the most edges (where restoration shows)."""
    height, width = luma.shape
    size = min(size, height, width)
    edges = (
        np.abs(np.diff(luma.astype(np.float64), axis=1))[:-1] + np.abs(np.diff(luma.astype(np.float64), axis=0))[:, :-1]
    )
    step = max(1, size // 4)
    best, corner = -1.0, (0, 0)
    for top in range(0, height - size + 1, step):
        for left in range(0, width - size + 1, step):
            score = float(edges[top : top + size - 1, left : left + size - 1].mean())
            if score > best:
                best, corner = score, (top, left)
    return corner


def labelled(panel: np.ndarray, label: str) -> Image.Image:
    image = Image.fromarray(panel).convert("RGB")
    canvas = Image.new("RGB", (image.width, image.height + LABEL_HEIGHT), "white")
    canvas.paste(image, (0, LABEL_HEIGHT))
    try:
        font = ImageFont.load_default(size=13)
    except TypeError:  # Pillow without FreeType: the small bitmap font
        font = ImageFont.load_default()
    ImageDraw.Draw(canvas).text((4, 3), label, fill="black", font=font)
    return canvas


def before_after(
    clean: np.ndarray,
    degraded: np.ndarray,
    restored: np.ndarray,
    *,
    crop: int = 128,  # small: the pictures are kept in git (about 80 KB each on Set14 photos)
    zoom: int = 3,
    labels: tuple[str, str, str] = ("clean", "degraded", "restored"),
) -> np.ndarray:
    """One RGB picture: a full-resolution crop of each image in a row, and below it a ``zoom``×
    nearest-neighbour enlargement of the crop's central detail."""
    crop = min(crop, *clean.shape[:2])
    top, left = most_detailed_window(to_luma_u8(clean), crop)
    crops = [image[top : top + crop, left : left + crop] for image in (clean, degraded, restored)]
    size = crops[0].shape[0] // zoom
    offset = (crops[0].shape[0] - size) // 2
    details = [np.repeat(np.repeat(c[offset : offset + size, offset : offset + size], zoom, 0), zoom, 1) for c in crops]
    panels = [labelled(c, label) for c, label in zip(crops, labels, strict=True)]
    panels += [
        labelled(d, f"{label.split()[0]}, detail zoomed x{zoom}") for d, label in zip(details, labels, strict=True)
    ]
    width, height = panels[0].width, max(panel.height for panel in panels)
    sheet = Image.new("RGB", (3 * width + 8, 2 * height + 4), "white")
    for number, panel in enumerate(panels):
        sheet.paste(panel, ((number % 3) * (width + 4), (number // 3) * (height + 4)))
    return np.asarray(sheet)
