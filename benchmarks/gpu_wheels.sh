#!/usr/bin/env bash
# Fills .wheels/ (git-ignored) with what the GPU check needs on a GPU machine that has PyTorch but
# not webdataset and cannot download it: webdataset and its one dependency beyond NumPy and PyYAML,
# braceexpand, at the exact versions pinned in requirements.txt; both are pure-Python wheels (about
# 80 kB together). Run it where pip reaches the package index, copy the checkout with .wheels/ to
# the GPU machine; benchmarks/gpu_check.sh installs them there into a temporary folder.
#
#   bash benchmarks/gpu_wheels.sh          # PYTHON=... to use another interpreter's pip
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
pins=()
for name in webdataset braceexpand; do
  pin=$(sed -n "s/^\(${name}==[^ #]*\).*/\1/p" requirements.txt)
  [ -n "$pin" ] || { echo "gpu_wheels: requirements.txt pins no ${name}==VERSION" >&2; exit 2; }
  pins+=("$pin")
done
rm -rf .wheels
mkdir -p .wheels
# --no-deps: the GPU machine has NumPy and PyYAML; the two wheels are py3-none-any, so any platform takes them
"$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux2014_x86_64 -d .wheels "${pins[@]}"
ls -l .wheels
du -sh .wheels
