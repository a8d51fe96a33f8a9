"""Rprop against closed forms that do not come from its own code: with a gradient of constant sign
the step size grows geometrically to its cap and the parameter moves by the sum of the step sizes;
with a gradient that flips sign every step, every other step is skipped and the step size shrinks
by η₋ at each flip down to its floor. Each check runs on the NumPy reference and the compiled kernel.

Tolerance: 1e-14 relative for sums of up to 30 step sizes (a few ulp each).
"""

import numpy as np
import pytest

from optimlab import Parameter
from optimlab.kernels import cpu_compiler_available, cpu_kernels
from optimlab.optim.rprop import Rprop

KERNEL = [False, pytest.param(True, marks=pytest.mark.skipif(not cpu_compiler_available(), reason="needs g++"))]


@pytest.mark.parametrize("kernel", KERNEL, ids=["reference", "kernel"])
def test_constant_sign_grows_the_step_to_its_cap(kernel):
    lr, etaplus, cap, steps = 0.01, 1.3, 0.5, 30
    param = Parameter(np.zeros(4))
    optimizer = Rprop([param], lr=lr, etas=(0.5, etaplus), step_sizes=(1e-6, cap))
    gradient = np.array([2.0, -1.0, 3.0, -0.5])
    with cpu_kernels(kernel):
        for _ in range(steps):
            param.grad = gradient
            optimizer.step()
    sizes = np.minimum(lr * etaplus ** np.arange(steps), cap)  # Δ_t = min(η η₊^(t−1), Δmax)
    np.testing.assert_allclose(optimizer.state[param]["step_size"], np.full(4, sizes[-1]), rtol=1e-14)
    np.testing.assert_allclose(param.data, -np.sign(gradient) * sizes.sum(), rtol=1e-14)


@pytest.mark.parametrize("kernel", KERNEL, ids=["reference", "kernel"])
def test_sign_flips_skip_a_step_and_shrink_to_the_floor(kernel):
    lr, etaminus, floor, steps = 0.1, 0.5, 0.01, 12
    param = Parameter(np.zeros(1))
    optimizer = Rprop([param], lr=lr, etas=(etaminus, 1.2), step_sizes=(floor, 1.0))
    moves = []
    with cpu_kernels(kernel):
        for t in range(1, steps + 1):
            before = param.data.copy()
            param.grad = np.array([(-1.0) ** t])
            optimizer.step()
            moves.append(float((param.data - before)[0]))
    # odd steps t = 2k + 1 move by −sign(g)·max(η η₋^k, Δmin); even steps flip the sign and stay put
    for t, move in enumerate(moves, start=1):
        k = t // 2
        expected = 0.0 if t % 2 == 0 else max(lr * etaminus**k, floor)
        assert move == pytest.approx(expected, rel=1e-14, abs=0.0), (t, move)
    assert optimizer.state[param]["prev"][0] == 0.0  # the last step (even) was a flip: g zeroed
