"""ASGD against closed forms that do not come from its own code: the average ``ax`` is the plain mean
of the iterates from step t0 + 2 on, the step size follows η₀/(1 + λη₀t)^α, and with λ = 0 the
iterates are those of plain SGD. Each check runs on the NumPy reference and on the compiled kernel.

Tolerance 1e-13 relative: a running mean of 40 iterates against ``numpy.mean`` of the same values
differs by rounding only (~40 ulp at most).
"""

import numpy as np
import pytest

from optimlab import Parameter
from optimlab.kernels import cpu_compiler_available, cpu_kernels
from optimlab.optim.asgd import ASGD
from optimlab.optim.sgd import SGD

KERNEL = [False, pytest.param(True, marks=pytest.mark.skipif(not cpu_compiler_available(), reason="needs g++"))]
RNG = np.random.default_rng(0)
GRADS = RNG.standard_normal((40, 3, 2))


def _iterates(optimizer, param, grads):
    seen = []
    for g in grads:
        param.grad = g
        optimizer.step()
        seen.append(param.data.copy())
    return np.array(seen)


@pytest.mark.parametrize("kernel", KERNEL, ids=["reference", "kernel"])
@pytest.mark.parametrize("t0", [0, 5, 17])
def test_average_is_the_mean_of_the_iterates_since_t0(kernel, t0):
    param = Parameter(np.ones((3, 2)))
    optimizer = ASGD([param], lr=0.1, lambd=0.0, t0=t0)
    with cpu_kernels(kernel):
        iterates = _iterates(optimizer, param, GRADS)
    expected = iterates[t0 + 1:].mean(axis=0)  # steps t0 + 2, ..., 40 (1-based)
    ax = optimizer.state[param]["ax"]
    assert np.max(np.abs(ax - expected)) <= 1e-13 * np.max(np.abs(expected))


@pytest.mark.parametrize("kernel", KERNEL, ids=["reference", "kernel"])
def test_step_size_schedule_and_sgd_limit(kernel):
    lr, lambd, alpha = 0.2, 0.5, 0.75
    param = Parameter(np.ones((3, 2)))
    optimizer = ASGD([param], lr=lr, lambd=lambd, alpha=alpha)
    with cpu_kernels(kernel):
        _iterates(optimizer, param, GRADS[:7])
    assert optimizer.state[param]["eta"] == pytest.approx(lr / (1 + lambd * lr * 7) ** alpha, rel=1e-15)

    ours, plain = Parameter(np.ones((3, 2))), Parameter(np.ones((3, 2)))
    with cpu_kernels(kernel):
        a = _iterates(ASGD([ours], lr=0.1, lambd=0.0, weight_decay=0.3), ours, GRADS)
    b = _iterates(SGD([plain], lr=0.1, weight_decay=0.3), plain, GRADS)
    np.testing.assert_array_equal(a, b)  # η₀/(1 + 0)^α = η₀, the same two roundings per step
