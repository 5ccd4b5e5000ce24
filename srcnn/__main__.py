"""Command line of the srcnn package.

    python -m srcnn enhance PHOTO... -o OUTDIR [--model models/srcnn.pt]   # restore your photos
"""
from __future__ import annotations

import argparse
import sys

from . import enhance


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m srcnn", description="SRCNN photo restoration.")
    commands = parser.add_subparsers(dest="command", required=True)
    enhance.parser(commands)
    args = parser.parse_args(argv)
    return enhance.run(args)


if __name__ == "__main__":
    sys.exit(main())
