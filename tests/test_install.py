"""`pip install` of the project into a fresh venv: the `srcnn` command restores a photo in a folder
outside the project with the shipped model, and the photo tool's requirements pull no DVC.

Fast and offline: the fresh venv sees this interpreter's installed packages through a .pth file,
and the project itself is installed by pip (`--no-deps --no-build-isolation`) from a copy of it.
"""

from __future__ import annotations

import json
import shutil
import site
import subprocess
import sys
from pathlib import Path

import numpy as np
from conftest import ROOT, project_files, run, synthetic_photo
from PIL import Image

from srcnn.color import rgb_to_y
from srcnn.metrics import psnr

# the names of the distributions a requirement list pulls, followed through the installed metadata
CLOSURE = """
import json, re, sys
from importlib.metadata import PackageNotFoundError, requires

def name(requirement):
    return re.split(r"[ ;<>=!~\\[(]", requirement, maxsplit=1)[0].lower().replace("_", "-")

def closure(extra):
    marker = f'extra == "{extra}"' if extra else "extra =="
    wanted = [r for r in requires("srcnn") if (marker in r) == bool(extra)]
    seen, todo = set(), [name(r) for r in wanted if name(r) != "srcnn"]
    while todo:
        dist = todo.pop()
        if dist in seen:
            continue
        seen.add(dist)
        try:
            todo += [name(r) for r in requires(dist) or [] if "extra ==" not in r]
        except PackageNotFoundError:
            pass
    return sorted(seen)

print(json.dumps({"base": closure(None), "pipeline": closure("pipeline")}))
"""


def make_venv(folder: Path) -> Path:
    """A fresh venv that also sees this interpreter's site-packages (for the dependencies and pip)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(purelib, "dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return python


def test_pip_install_then_srcnn_enhance_in_another_folder(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    for name in project_files():
        (clone / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, clone / name)
    python = make_venv(tmp_path / "venv")
    install = [str(python), "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", str(clone)]
    run(install, cwd=tmp_path)

    photos = tmp_path / "photos"
    photos.mkdir()
    clean = synthetic_photo(3, 160, 200)
    Image.fromarray(clean).save(photos / "photo.jpg", quality=20)
    srcnn = python.parent / "srcnn"
    result = run([str(srcnn), "enhance", "photo.jpg", "-o", "out/"], cwd=photos)
    assert "site-packages/srcnn/pretrained/restorer-colour.pt" in result.stderr, result.stderr
    with Image.open(photos / "photo.jpg") as jpeg, Image.open(photos / "out" / "photo.png") as restored:
        before, after = np.asarray(jpeg.convert("RGB")), np.asarray(restored.convert("RGB"))
    reference = rgb_to_y(clean)
    assert psnr(reference, rgb_to_y(after)) > psnr(reference, rgb_to_y(before)) + 0.3

    assert "usage" in run([str(srcnn), "export", "--help"], cwd=photos).stdout
    assert "usage" in run([str(python), "-m", "srcnn", "enhance", "--help"], cwd=photos).stdout

    pulled = json.loads(run([str(python), "-c", CLOSURE], cwd=photos).stdout)
    assert {"torch", "numpy", "pillow"} <= set(pulled["base"]), pulled
    assert not {name for name in pulled["base"] if name.startswith("dvc")}, pulled["base"]
    assert "dvc" in pulled["pipeline"], pulled  # the check sees DVC where it is pulled
