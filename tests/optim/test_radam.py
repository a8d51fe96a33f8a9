"""RAdam's switch and rectification against closed forms built here from the paper's definitions.

ρ_t is the length of the simple moving average with the same centre of mass as the bias-corrected
EMA of t squared gradients, ρ_t = 1 + 2·E[age], with weights ∝ β₂^age; it is computed below by summing
those weights, independently of ``radam_rho``'s closed form. Under a constant gradient g with ε = 0,
m̂_t = g and √(1 − β₂ᵗ)/√v_t = 1/|g|, so each step moves θ by −ηg while ρ_t ≤ 5 and by
−η·sign(g)·r_t after.
"""

import numpy as np
import pytest

from optimlab import Parameter
from optimlab.kernels import cpu_compiler_available, cpu_kernels
from optimlab.optim.radam import RAdam, radam_rho

PATHS = [pytest.param(False, id="reference"),
         pytest.param(True, id="kernel", marks=pytest.mark.skipif(not cpu_compiler_available(), reason="no g++"))]


def sma_length(step, beta2):
    """1 + 2·(mean age) of the bias-corrected EMA weights (1 − β₂)β₂^age / (1 − β₂ᵗ), age < t."""
    age = np.arange(step)
    weights = (1 - beta2) * beta2**age
    return 1 + 2 * np.sum(age * weights) / np.sum(weights)


@pytest.mark.parametrize("beta2", [0.999, 0.9, 0.6, 0.0])
def test_rho_is_the_sma_length(beta2):
    rho_inf = 2 / (1 - beta2) - 1
    for step in range(1, 60):
        # the closed form ρ∞ − 2tβ₂ᵗ/(1 − β₂ᵗ) cancels terms of size ρ∞ (and 1 − β₂ᵗ for small t),
        # so it is good to ~1e-12·ρ∞; a wrong formula (ρ∞, t off by one) is off by O(1)
        assert radam_rho(step, beta2) == pytest.approx(sma_length(step, beta2), rel=0, abs=1e-12 * rho_inf)


def rectification(step, beta2):
    rho_inf, rho = 2 / (1 - beta2) - 1, sma_length(step, beta2)
    return np.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))


@pytest.mark.parametrize("use_kernel", PATHS)
@pytest.mark.parametrize("beta2,first_rectified", [(0.999, 6), (0.9, 6), (0.95, 6), (0.6, None)])
def test_constant_gradient_steps(use_kernel, beta2, first_rectified):
    lr, steps = 0.01, 30
    g = np.array([0.7, -2.0, 1e-3])
    param = Parameter(np.zeros(3))
    optimizer = RAdam([param], lr=lr, betas=(0.9, beta2), eps=0.0)
    moves = []
    with cpu_kernels(use_kernel):
        for _ in range(steps):
            before = param.data.copy()
            param.grad = g
            optimizer.step()
            moves.append(param.data - before)
    rectified = [sma_length(t, beta2) > 5 for t in range(1, steps + 1)]
    assert (rectified.index(True) + 1 if any(rectified) else None) == first_rectified
    for t, (move, on) in enumerate(zip(moves, rectified), start=1):
        expected = -lr * np.sign(g) * rectification(t, beta2) if on else -lr * g
        # m̂ = g and √(1 − β₂ᵗ)/√v = 1/|g| up to rounding; |θ| ≤ 30·lr: 1e-10 relative
        np.testing.assert_allclose(move, expected, rtol=1e-10, err_msg=f"step {t}")
