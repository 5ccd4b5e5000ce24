"""Command line of the srcnn package.

python -m srcnn enhance PHOTO... -o OUTDIR [--model models/srcnn.pt]   # restore your photos
python -m srcnn export --onnx model.onnx [--model M]                   # a model as ONNX (docs/onnx.md)
python -m srcnn pack-tiles SEED_TILES/ -o data/tiles                    # the seed's tiles as train shards

Installed (``pip install .``), the command is ``srcnn`` too: ``srcnn enhance PHOTO... -o OUTDIR``.
"""

from __future__ import annotations

import argparse
import sys

from . import enhance, export, seed_tiles


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m srcnn", description="SRCNN photo restoration.")
    commands = parser.add_subparsers(dest="command", required=True)
    runs = {"enhance": enhance.run, "export": export.run, "pack-tiles": seed_tiles.run}
    enhance.parser(commands)
    export.parser(commands)
    seed_tiles.parser(commands)
    args = parser.parse_args(argv)
    try:
        return runs[args.command](args)
    except KeyboardInterrupt:  # Ctrl-C: every write is atomic, so nothing half-written is left
        print(f"python -m srcnn {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
