"""The fused kernel bodies, compiled for the CPU from the very source CuPy would build, against the
NumPy reference: every torch-twin configuration, parameters and state after each of 50 steps.

Tolerances: float64 1e-12 relative (same formula, different operation order: a few ulp); float32
1e-5 relative (the kernel computes in float like the reference, with scalars folded in double).
A syntax or math error in a kernel body fails here, on machines without a GPU.
"""

import numpy as np
import pytest

from optimlab.kernels import cpu_compiler_available
from optimlab.verify import run_kernel_parity
from optimlab.verify.torch_cases import torch_cases

pytestmark = pytest.mark.skipif(not cpu_compiler_available(), reason="needs a C++ compiler (g++)")

CASES = torch_cases()


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_kernel_matches_reference(case, dtype):
    result = run_kernel_parity(case.ours, case.config, steps=50, dtype=dtype)
    assert not result.problems, result.problems
    assert result.error <= (1e-12 if dtype == np.float64 else 1e-5), result


def test_a_broken_kernel_body_fails():
    """A kernel whose body has a math error is caught by the comparison above."""
    import dataclasses

    from optimlab.optim import adam as adam_module
    from optimlab.optim.adam import ADAM_KERNEL, Adam

    broken = dataclasses.replace(ADAM_KERNEL, name="adam_broken", body=ADAM_KERNEL.body.replace("+ (C)eps", "- (C)eps"))
    original = adam_module.ADAM_KERNEL
    adam_module.ADAM_KERNEL = broken
    try:
        result = run_kernel_parity(Adam, {"lr": 0.01, "eps": 1e-3}, steps=3)
    finally:
        adam_module.ADAM_KERNEL = original
    assert result.error > 1e-6
