"""The numerical tests again as each older kind of x86 CPU runs them, emulated on this one.

PyTorch's kernels (``ATEN_CPU_CAPABILITY``), oneDNN (``ONEDNN_MAX_CPU_ISA``), fbgemm
(``FBGEMM_ENABLE_INSTRUCTIONS``) and MKL
(``MKL_ENABLE_INSTRUCTIONS``) can be kept to an older instruction set; the tests that compare
numbers (the model, tiled against whole-photo inference, int8 against fp32, bf16 training and resume)
then run on the kernels an AMD Zen 3 (AVX2 only) or Zen 4 (AVX-512 with bf16, no AMX) would pick.
On a CPU that is itself of that kind, or older, the variables change nothing: where a probe shows
that PyTorch and oneDNN pick the same kernels with them as without (a Zen 4 posing as a Zen 4), the
run would repeat the suite's own and is skipped. The whole suite can be run this way too::

    ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2 FBGEMM_ENABLE_INSTRUCTIONS=AVX2 pytest
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import ROOT

KINDS = {
    "avx2": {
        "ATEN_CPU_CAPABILITY": "avx2",
        "ONEDNN_MAX_CPU_ISA": "AVX2",
        "MKL_ENABLE_INSTRUCTIONS": "AVX2",
        "FBGEMM_ENABLE_INSTRUCTIONS": "AVX2",
    },
    "avx512_bf16": {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE_BF16"},
}
# the tests whose figures depend on the kernels (int8, bf16, tiled against whole-photo inference, a
# resumed training) and that take seconds, not minutes
NUMERICAL = [
    "tests/test_model.py",
    "tests/test_training.py::test_a_checkpoint_resumes_only_the_same_run",
    "tests/test_enhance.py",
    "tests/test_colour.py",
    "-k",
    "(test_model or checkpoint_resumes or int8 or tiled or tiles or bf16 or precision or resumes)"
    " and not where_bf16_is_emulated",  # that one poses as an AVX2 CPU itself, whatever the kind
]
# what PyTorch and oneDNN pick under a kind's variables: ATen's kernels and oneDNN's instruction set
PROBE = """
import torch
print(torch.backends.cpu.get_cpu_capability())
conv, image = torch.nn.Conv2d(16, 16, 3), torch.rand(1, 16, 64, 64)  # big enough for PyTorch to call oneDNN
with torch.backends.mkldnn.verbose(torch.backends.mkldnn.VERBOSE_ON), torch.no_grad():
    conv.to(memory_format=torch.channels_last)(image.to(memory_format=torch.channels_last))
"""
PROBED = {"ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA"}  # the variables whose effect PROBE shows


def picked(variables: dict[str, str]) -> tuple[str, str | None]:
    """ATen's CPU capability and oneDNN's instruction set (None: it did not say) under ``variables``."""
    probe = subprocess.run(
        [sys.executable, "-c", PROBE], env={**os.environ, **variables}, capture_output=True, text=True, check=True
    )
    lines = probe.stdout.splitlines()
    return lines[0], next((line.split("isa:", 1)[1] for line in lines if ",info,cpu,isa:" in line), None)


@pytest.mark.slow  # the numerical tests again, training among them
@pytest.mark.parametrize("kind", KINDS)
def test_the_numerical_tests_pass_on_an_older_cpu(kind):
    if os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("ATEN_CPU_CAPABILITY"):
        pytest.skip("the suite already runs under an emulated CPU")
    emulated = picked(KINDS[kind])
    if kind == "avx2":
        assert emulated == ("AVX2", "Intel AVX2"), emulated
    if set(KINDS[kind]) <= PROBED and emulated[1] is not None and emulated == picked({}):
        pytest.skip(f"this CPU is no newer than {kind}: its variables change nothing, the suite ran these tests so")
    # in this one process (-n 0): the suite around it already keeps the cores busy
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", *NUMERICAL],
        cwd=ROOT,
        env={**os.environ, **KINDS[kind]},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"under {kind}:\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}"
