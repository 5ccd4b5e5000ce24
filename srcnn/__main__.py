"""Command line of the srcnn package.

python -m srcnn enhance PHOTO... -o OUTDIR [--model models/srcnn.pt]   # restore your photos
python -m srcnn pack-tiles SEED_TILES/ -o data/tiles                    # the seed's tiles as train shards
"""

from __future__ import annotations

import argparse
import sys

from . import enhance, seed_tiles


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m srcnn", description="SRCNN photo restoration.")
    commands = parser.add_subparsers(dest="command", required=True)
    enhance.parser(commands)
    seed_tiles.parser(commands)
    args = parser.parse_args(argv)
    return enhance.run(args) if args.command == "enhance" else seed_tiles.run(args)


if __name__ == "__main__":
    sys.exit(main())
