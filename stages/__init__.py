"""One thin entry point per DVC stage: `python -m stages.NAME`, as dvc.yaml runs them."""
