"""Adagrad against its closed form: the per-coordinate step size η/(1 + (t−1)γ) / (√(s₀ + Σ g²) + ε)
only shrinks; a group's own ``initial_accumulator_value`` is used (torch uses the constructor's)."""

import numpy as np
import pytest
import torch

from optimlab import Parameter
from optimlab.kernels import cpu_compiler_available, cpu_kernels
from optimlab.optim.adagrad import Adagrad

PATHS = [pytest.param(False, id="reference"),
         pytest.param(True, id="kernel", marks=pytest.mark.skipif(not cpu_compiler_available(), reason="no g++"))]


@pytest.mark.parametrize("use_kernel", PATHS)
def test_step_size_matches_closed_form_and_only_shrinks(use_kernel):
    lr, lr_decay, s0, eps, steps = 0.1, 0.05, 0.3, 1e-10, 30
    rng = np.random.default_rng(0)
    grads = rng.uniform(0.5, 1.5, (steps, 6)) * rng.choice([-1.0, 1.0], (steps, 6))
    param = Parameter(np.zeros(6))
    optimizer = Adagrad([param], lr=lr, lr_decay=lr_decay, initial_accumulator_value=s0, eps=eps)
    observed = []
    with cpu_kernels(use_kernel):
        for g in grads:
            before = param.data.copy()
            param.grad = g
            optimizer.step()
            observed.append((before - param.data) / g)
    t = np.arange(1, steps + 1)[:, None]
    expected = lr / (1 + (t - 1) * lr_decay) / (np.sqrt(s0 + np.cumsum(grads**2, axis=0)) + eps)
    # θ_{t−1} − θ_t loses a few digits to cancellation (|θ| ≤ 30·0.1, steps ≥ 1e-3): 1e-10 relative
    np.testing.assert_allclose(observed, expected, rtol=1e-10, atol=0)
    assert np.all(np.diff(np.asarray(observed), axis=0) < 0)


def test_group_initial_accumulator_value_is_the_groups_own():
    """Documented divergence: torch fills every group's ``sum`` from the constructor's value."""
    g = np.array([0.5, -2.0])
    ours = [Parameter(np.zeros(2)), Parameter(np.zeros(2))]
    theirs = [torch.zeros(2, dtype=torch.float64, requires_grad=True) for _ in range(2)]
    ours_opt = Adagrad([{"params": [ours[0]]}, {"params": [ours[1]], "initial_accumulator_value": 4.0}])
    torch_opt = torch.optim.Adagrad([{"params": [theirs[0]]}, {"params": [theirs[1]], "initial_accumulator_value": 4.0}])
    for p in ours:
        p.grad = g
    for p in theirs:
        p.grad = torch.from_numpy(g)
    ours_opt.step()
    torch_opt.step()
    np.testing.assert_array_equal(ours_opt.state[ours[1]]["sum"], 4.0 + g * g)
    np.testing.assert_array_equal(torch_opt.state[theirs[1]]["sum"].numpy(), g * g)
    np.testing.assert_array_equal(ours_opt.state[ours[0]]["sum"], torch_opt.state[theirs[0]]["sum"].numpy())
