"""Stage samples: write the natural photographs that scikit-image ships in its wheel to
data/samples/ as lossless PNG — the default photo set that `dvc repro` trains on, with no network.

    python -m stages.samples data/samples
"""

from __future__ import annotations

import sys

import numpy as np
from skimage import data

from srcnn.files import atomic_dir
from srcnn.images import save_png
from stages import run_stage

PHOTOS = {
    "astronaut": data.astronaut,
    "camera": data.camera,
    "chelsea": data.chelsea,
    "coffee": data.coffee,
    "rocket": data.rocket,
    "motorcycle_left": lambda: data.stereo_motorcycle()[0],
    "motorcycle_right": lambda: data.stereo_motorcycle()[1],
    "hubble_deep_field": data.hubble_deep_field,
    "coins": data.coins,
    "brick": data.brick,
    "grass": data.grass,
    "gravel": data.gravel,
}


def main(out_dir: str = "data/samples") -> None:
    with atomic_dir(out_dir) as temp:
        for name, load in PHOTOS.items():
            save_png(temp / f"{name}.png", np.ascontiguousarray(load(), dtype=np.uint8))
    print(f"samples: wrote {len(PHOTOS)} photos to {out_dir}")


if __name__ == "__main__":
    run_stage("samples", lambda: main(*sys.argv[1:]))
