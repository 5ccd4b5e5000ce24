"""The docs agree with the committed metrics, and speak to the project's users.

Each figure a page quotes from metrics/*.json is listed in QUOTES: the quoted text, with ``{}`` for
each figure, and for each figure how the committed metrics (``git show HEAD:metrics/...``: not the
working tree's, which a `dvc repro` on another CPU rewrites) print it. A page whose figure disagrees
(say after new metrics were committed) fails here, and so does a page that no longer has the
quote: update the page, or drop its entry here. The fewer figures the pages repeat, the better; link
to the metrics files instead.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT

Metrics = dict[str, Any]


def committed(path: str) -> str:
    """A file as the last commit holds it: the pages quote the committed figures, so a `dvc repro` on
    another CPU, which rewrites metrics/ in the working tree, does not make the docs wrong."""
    return subprocess.run(["git", "show", f"HEAD:{path}"], cwd=ROOT, capture_output=True, text=True, check=True).stdout


def load_metrics() -> Metrics:
    """The committed metrics/*.json by name, and the shipped models' figures as ``pretrained`` (luma)
    and ``pretrained_colour``."""
    listed = subprocess.run(
        ["git", "ls-tree", "--name-only", "HEAD", "metrics/"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    metrics = {Path(name).stem: json.loads(committed(name)) for name in listed if name.endswith(".json")}
    return {
        **metrics,
        "pretrained": json.loads(committed("models/pretrained/restorer.json")),
        "pretrained_colour": json.loads(committed("models/pretrained/restorer-colour.json")),
    }


def ladder(metrics: Metrics, key: str) -> list[float]:
    return [rung[key] for rung in metrics["eval"]["ladder"].values()]


# (page, the quoted text with {} for each figure, each figure as the committed metrics print it)
QUOTES: list[tuple[str, str, Callable[[Metrics], list[str]]]] = [
    (
        "README.md",
        "tile: {} train and {} val tiles of 128 px from {} + {} photos in {} shards",
        lambda m: [
            str(m["data"]["tiles_train"]),
            str(m["data"]["tiles_val"]),
            str(m["data"]["photos_train"]),
            str(m["data"]["photos_val"]),
            str(m["data"]["shards"]),
        ],
    ),
    (
        "README.md",
        "train: val PSNR {} dB after {} steps",
        lambda m: [f"{m['train']['val_psnr']:.2f}", str(m["train"]["steps"])],
    ),
    (
        "README.md",
        "evaluate: {} val photos, PSNR {} → {} dB ({} dB), SSIM {} → {};",
        lambda m: [
            str(m["eval"]["photos"]),
            f"{m['eval']['psnr_input']:.2f}",
            f"{m['eval']['psnr_output']:.2f}",
            f"{m['eval']['psnr_gain']:+.2f}",
            f"{m['eval']['ssim_input']:.4f}",
            f"{m['eval']['ssim_output']:.4f}",
        ],
    ),
    (
        "README.md",
        "model gain {} to {} dB, {} photo results worse",
        lambda m: [
            f"{min(ladder(m, 'model_gain')):+.2f}",
            f"{max(ladder(m, 'model_gain')):+.2f}",
            str(sum(ladder(m, "model_photos_worse"))),
        ],
    ),
    (
        "README.md",
        "enhance restores JPEGs near {}, leaves those near {} unchanged (models/srcnn.ladder.json), gain {} to {} dB",
        lambda m: [
            # the gate's rungs: the single JPEGs' (the double JPEGs, d10_30 ..., count at those)
            ", ".join(name for name, rung in m["eval"]["ladder"].items() if rung["applied"] and name[0] == "q"),
            ", ".join(name for name, rung in m["eval"]["ladder"].items() if not rung["applied"] and name[0] == "q"),
            f"{min(ladder(m, 'psnr_gain')):+.2f}",
            f"{max(ladder(m, 'psnr_gain')):+.2f}",
        ],
    ),
    (
        "docs/gpu.md",
        "SRCNN is small (about {} k parameters at the defaults",
        lambda m: [str(round(m["train"]["parameters"] / 1000))],
    ),
    (
        "docs/pretrained.md",
        "On the {} held-out photos of Set5 and Set14 it gains {} dB at JPEG quality 10, {} at 20 and {} at 40",
        lambda m: (
            [str(m["pretrained"]["held_out_ladder"]["q20"]["photos"])]
            + [f"{m['pretrained']['held_out_ladder'][rung]['gain']:+.2f}" for rung in ("q10", "q20", "q40")]
        ),
    ),
    (
        "docs/pretrained.md",
        "| training | {} steps of 512 random 64 px crops",
        lambda m: [f"{m['pretrained']['training']['steps']:,}"],
    ),
    (
        "docs/colour-model.md",
        "| the 19 on RGB | {} | {} | {} | {} | {} | {} | {} | {} |",
        lambda m: [f"{rung['rgb_gain']:+.2f}" for rung in m["pretrained_colour"]["held_out_ladder"].values()],
    ),
]


def quoted_figures(text: str, template: str) -> list[str]:
    """The figures ``text`` quotes where ``template`` (its ``{}`` the figures) occurs, exactly once."""
    pattern = "(.+?)".join(re.escape(part) for part in template.split("{}"))
    found = re.findall(pattern, text)
    assert len(found) == 1, f"{template!r} occurs {len(found)} times; update the page or this test's QUOTES"
    return list(found[0]) if isinstance(found[0], tuple) else [found[0]]


@pytest.mark.parametrize("page, template, expected", QUOTES, ids=[f"{page}: {text[:30]}" for page, text, _ in QUOTES])
def test_the_figures_a_page_quotes_are_the_committed_metrics(page, template, expected):
    quoted = quoted_figures((ROOT / page).read_text(), template)
    assert quoted == expected(load_metrics()), f"{page} quotes {quoted}; metrics/*.json say {expected(load_metrics())}"


def test_a_wrong_figure_is_caught():
    page = "evaluate: 2 val photos, PSNR 32.87 → 33.80 dB (+0.95 dB), SSIM 0.8900 → 0.9062; JPEG"
    metrics = {
        "eval": {
            "photos": 2,
            "psnr_input": 32.8712,
            "psnr_output": 33.8259,
            "psnr_gain": 0.9548,
            "ssim_input": 0.89,
            "ssim_output": 0.9062,
        }
    }
    template, expected = QUOTES[2][1], QUOTES[2][2]
    assert quoted_figures(page, template) == ["2", "32.87", "33.80", "+0.95", "0.8900", "0.9062"]
    assert quoted_figures(page, template) != expected(metrics)
    assert quoted_figures(page.replace("33.80", "33.83"), template) == expected(metrics)


# words about how the project is developed, not about what a user does with it
NOT_FOR_USERS = (
    "this session",
    "a later session",
    "later session",
    "previous session",
    "session is lent",
    "lent a gpu",
    "lent device",
    "device tool",
    "`device` tool",
)


def user_pages() -> list[Path]:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    code = [
        path
        for folder in ("srcnn", "stages", "benchmarks")
        for path in sorted((ROOT / folder).rglob("*"))
        if path.suffix in (".py", ".sh") and "out" not in path.relative_to(ROOT / folder).parts[:1]
    ]
    return pages + code


def test_the_pages_speak_to_users():
    found = []
    for path in user_pages():
        text = path.read_text().lower()
        found += [f"{path.relative_to(ROOT)}: {phrase!r}" for phrase in NOT_FOR_USERS if phrase in text]
        if path.suffix == ".md":
            found += [f"{path.relative_to(ROOT)}: {word!r}" for word in re.findall(r"\bsessions?\b", text)]
    assert not found, found
    assert ROOT / "docs" / "gpu.md" in user_pages() and ROOT / "benchmarks" / "gpu_check" / "busy.py" in user_pages()
