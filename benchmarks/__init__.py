"""Speed and quality measurements; ``python -m benchmarks.gpu_check`` runs the GPU check from the repository root."""
