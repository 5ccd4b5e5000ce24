"""SRCNN photo restoration: the library behind the DVC stages in stages/ and `python -m srcnn enhance`."""
