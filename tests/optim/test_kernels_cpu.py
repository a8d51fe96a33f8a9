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

CASES = [case for case in torch_cases() if case.has_kernel]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_kernel_matches_reference(case, dtype):
    result = run_kernel_parity(case.ours, case.config, steps=50, dtype=dtype, shapes=case.shapes)
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


# maximize=True climbs the convex test objective without bound, out of fp16's range (65504). Rprop is
# left out: its step size is multiplied by η+ or η− on the *sign* of g_t·g_{t−1}, and near the
# minimum (where it oscillates) one fp16 rounding that flips a sign changes a step by a factor, not by
# a rounding, so no bound of the form "k roundings" holds (measured: up to 0.39 relative after 50 steps).
HALF_CASES = [c for c in CASES if c.ours.elementwise and not c.config.get("maximize") and c.name != "Rprop"]


@pytest.mark.parametrize("case", HALF_CASES, ids=str)
def test_float16_storage_computes_in_float32(case):
    """fp16 storage, fp32 arithmetic inside the kernel (one rounding per stored value per step):
    after 50 steps within 50 half-precision roundings (50 · 2⁻¹¹ ≈ 2.4e-2 relative) of the fp32
    reference run. Storing the *reference's* intermediates in fp16 instead is what this avoids."""
    import numpy as np

    from optimlab import Parameter
    from optimlab.kernels import cpu_kernels
    from optimlab.verify.parity import TrajectoryProblem, relative_error

    problem = TrajectoryProblem(seed=6)
    results = {}
    for dtype, fused in ((np.float32, False), (np.float16, True)):
        params = [Parameter(x.astype(dtype)) for x in problem.initial]
        optimizer = case.ours(params, **case.config)
        with cpu_kernels(fused):
            for step in range(50):
                for p, g in zip(params, problem.grads([p.data.astype(np.float32) for p in params], step)):
                    p.grad = g.astype(dtype)
                optimizer.step()
        results[dtype] = [p.data.astype(np.float32) for p in params]
    for half, single in zip(results[np.float16], results[np.float32]):
        assert relative_error(half, single) <= 50 * 2.0**-11
