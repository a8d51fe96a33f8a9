"""Adafactor beyond the registry's parity table: the factoring over the *last two* dimensions of a
3-D parameter and of degenerate (1, m)/(n, 1) matrices against torch (float64, 50 steps, 1e-12
relative, as in test_torch_parity), and the first step in closed form: with 1 − β̂₂ = 1 the factored
estimate of a rank-one G² is exact, so U = sign(G) and θ₁ = θ₀ − max(ε₂, RMS(θ₀))·min(η, 1)·sign(G)
(tolerance 1e-15 relative: a handful of roundings)."""

import numpy as np
import pytest

from optimlab import Parameter
from optimlab.kernels import cpu_compiler_available
from optimlab.optim.adafactor import Adafactor
from optimlab.verify import run_torch_parity


@pytest.mark.parametrize("kwargs", [{}, {"lr": 0.1, "weight_decay": 0.05, "eps": (1e-3, 1e-2), "maximize": True}],
                         ids=["defaults", "decay-eps-maximize"])
def test_factoring_over_the_last_two_dims_matches_torch(kwargs):
    import torch

    result = run_torch_parity(Adafactor, torch.optim.Adafactor, kwargs, shapes=((2, 3, 4), (1, 5), (6, 1)))
    assert not result.problems, result.problems
    assert result.param_error <= 1e-12 and result.state_error <= 1e-12, result


def test_state_uses_torch_keys_and_shapes():
    matrix, stack, vector = Parameter(np.ones((5, 4))), Parameter(np.ones((2, 3, 4))), Parameter(np.ones(3))
    optimizer = Adafactor([matrix, stack, vector])
    for p in (matrix, stack, vector):
        p.grad = np.ones(p.shape)
    optimizer.step()
    assert {k: v.shape for k, v in optimizer.state[matrix].items() if k != "step"} == {"row_var": (5, 1),
                                                                                       "col_var": (1, 4)}
    assert {k: v.shape for k, v in optimizer.state[stack].items() if k != "step"} == {"row_var": (2, 3, 1),
                                                                                      "col_var": (2, 1, 4)}
    assert set(optimizer.state[vector]) == {"step", "variance"}


def test_first_step_of_a_rank_one_gradient_in_closed_form():
    rng = np.random.default_rng(0)
    theta0 = rng.standard_normal((4, 3))
    grad = np.outer(rng.uniform(0.5, 2, 4), rng.uniform(0.5, 2, 3)) * np.sign(rng.standard_normal((4, 3)))
    param = Parameter(theta0.copy())
    lr, eps2 = 0.3, 1e-3
    optimizer = Adafactor([param], lr=lr, eps=(None, eps2))
    param.grad = grad
    optimizer.step()
    alpha = max(eps2, np.sqrt(np.mean(theta0**2))) * min(lr, 1.0)
    np.testing.assert_allclose(param.data, theta0 - alpha * np.sign(grad), rtol=1e-15, atol=0)


FUSED_CONFIGS = {
    "torch": {},
    "torch-decay-maximize": {"lr": 0.1, "weight_decay": 0.05, "eps": (1e-3, 1e-2), "d": 1.2, "maximize": True},
    "optax": {"convention": "optax", "min_dim_size_to_factor": 3},
    "optax-decay-maximize": {"convention": "optax", "min_dim_size_to_factor": 3, "weight_decay": 0.01,
                             "maximize": True},
}


@pytest.mark.skipif(not cpu_compiler_available(), reason="needs a C++ compiler (g++)")
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("config", FUSED_CONFIGS)
def test_fused_step_with_broadcast_factors_matches_the_reference(config, dtype):
    """The fused step (compiled CPU form: factors broadcast into the kernels, Σ U² by the reduction
    kernel) against the reference, parameters and state after each of 50 steps, on a batch of
    matrices (torch: factors (2, 3, 1) and (2, 1, 4)), a 3-D tensor whose two largest dims are not the
    last two (optax: axes 0 and 2 of (6, 3, 5), factors (1, 3, 5) and (6, 3, 1)), degenerate matrices
    and a vector (the full V̂). Tolerances as in test_kernels_cpu: float64 1e-12 relative (the same
    formulas, a few ulp of different rounding order), float32 1e-5."""
    from optimlab.verify import run_kernel_parity

    shapes = ((2, 3, 4), (6, 3, 5), (1, 5), (6, 1), (4,))
    result = run_kernel_parity(Adafactor, FUSED_CONFIGS[config], steps=50, dtype=dtype, shapes=shapes)
    assert not result.problems, result.problems
    assert result.error <= (1e-12 if dtype == np.float64 else 1e-5), result
