#!/usr/bin/env bash
# The GPU check: training and enhance on a CUDA GPU, each against the same code on that machine's
# CPU, in at most 8 minutes (docs/gpu.md). Run from anywhere in the repository; writes to $OUT:
#   gpu_check.json   every figure (rewritten after each part: a run cut short keeps what it measured)
#   gpu_check.log    this script's whole output, the stages' output included
#   profile.txt      torch.profiler's table of the profiled training steps
#
#   bash benchmarks/gpu_check.sh            # on a machine with a CUDA GPU: the GPU against its own CPU
#   GPU_CHECK_TIMEOUT=590 bash benchmarks/gpu_check.sh --budget 540 --continue colour --bench BENCH \
#       --skip enhance largest_batch cpu_pipeline compile   # the next shipped colour model, if it wins every rung
#   bash benchmarks/gpu_check.sh --cpu      # anywhere: every part on the CPU with tiny sizes (tests/test_gpu_check.py)
#
# The parts and how each is measured: benchmarks/gpu_check/ (one module per kind of part) and
# docs/gpu.md. It needs PyTorch, Pillow, NumPy, scikit-image, PyYAML and webdataset, not DVC or
# DVCLive: it runs the stages of dvc.yaml itself, each stage's cmd read from dvc.yaml, the train
# stage with DVCLive's Live replaced by a stand-in (benchmarks/gpu_check/train_stage.py). Where
# webdataset is missing and nothing can be downloaded, benchmarks/gpu_wheels.sh fills .wheels/
# beforehand (on a machine with the package index), and this script installs those wheels into a
# temporary folder.
#
# Environment: OUT (default benchmarks/out/gpu_check), PYTHON (default python3),
# GPU_CHECK_TIMEOUT (hard limit in seconds, default 470); other arguments go to
# python -m benchmarks.gpu_check (--help lists them).
set -uo pipefail
cd "$(dirname "$0")/.."

args=()
for arg in "$@"; do
  case "$arg" in
    --cpu) args+=(--cpu); export CUDA_VISIBLE_DEVICES="" ;;   # the CPU even on a GPU machine
    *) args+=("$arg") ;;
  esac
done
OUT="${OUT:-benchmarks/out/gpu_check}"
PYTHON="${PYTHON:-python3}"
mkdir -p "$OUT"
LOG="$OUT/gpu_check.log"
: >"$LOG"

say() { echo "gpu_check: $*" | tee -a "$LOG"; }

if ! "$PYTHON" -c "import webdataset" 2>/dev/null; then
  shopt -s nullglob
  wheels=(.wheels/*.whl)
  if [ ${#wheels[@]} -eq 0 ]; then
    say "error: $PYTHON has no webdataset and .wheels/ holds no wheels; run bash benchmarks/gpu_wheels.sh where pip reaches the package index and copy .wheels/ here"
    exit 2
  fi
  SITE="$(mktemp -d "${TMPDIR:-/tmp}/gpu_check_site.XXXXXX")"
  trap 'rm -rf "$SITE"' EXIT
  say "installing ${wheels[*]} into $SITE"
  if ! "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$SITE" "${wheels[@]}" >>"$LOG" 2>&1; then
    say "pip failed; unpacking the (pure-Python) wheels instead"
    "$PYTHON" -c 'import sys, zipfile; [zipfile.ZipFile(w).extractall(sys.argv[1]) for w in sys.argv[2:]]' "$SITE" "${wheels[@]}" || exit 2
  fi
  export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
  "$PYTHON" -c "import webdataset, braceexpand" || { say "error: webdataset still does not import"; exit 2; }
fi

versions=$("$PYTHON" -c 'import sys, torch; print(sys.version.split()[0], "torch", torch.__version__, "cuda", torch.cuda.is_available())' 2>&1)
say "$(date -u +%FT%TZ) start: $PYTHON $versions"
say "shared memory (DataLoader workers pass batches through it): $(df -h /dev/shm 2>/dev/null | tail -1)"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader 2>&1 | sed 's/^/gpu_check: nvidia-smi: /' | tee -a "$LOG"
timeout -k 10 "${GPU_CHECK_TIMEOUT:-470}" "$PYTHON" -u -m benchmarks.gpu_check --out "$OUT" "${args[@]}" 2>&1 | tee -a "$LOG"
status=${PIPESTATUS[0]}
[ "$status" -eq 124 ] && say "stopped at the ${GPU_CHECK_TIMEOUT:-470} s limit; gpu_check.json holds the parts done"
say "$(date -u +%FT%TZ) exit status $status"
exit "$status"
