"""NAdam against closed forms of Dozat's schedule, the parity harness on its float ``mu_product``, and
the decoupled ("W") weight decay of NAdam and RAdam on a zero gradient."""

import numpy as np
import pytest
import torch

from optimlab import Parameter
from optimlab.kernels import cpu_compiler_available, cpu_kernels
from optimlab.optim.nadam import NAdam
from optimlab.optim.radam import RAdam
from optimlab.verify import run_torch_parity

PATHS = [pytest.param(False, id="reference"),
         pytest.param(True, id="kernel", marks=pytest.mark.skipif(not cpu_compiler_available(), reason="no g++"))]


def dozat_mu(t, beta1=0.9, psi=4e-3):
    return beta1 * (1 - 0.5 * 0.96 ** (t * psi))


@pytest.mark.parametrize("use_kernel", PATHS)
def test_first_step_and_mu_product(use_kernel):
    """With ε = 0, step 1 has d₁ = |g| and m₁ = (1 − β₁)g, so θ moves by
    −η·sign(g)·(1 + μ₂(1 − β₁)/(1 − μ₁μ₂)); ``mu_product`` is the product of the schedule."""
    lr, g = 0.01, np.array([0.3, -1.7])
    param = Parameter(np.zeros(2))
    optimizer = NAdam([param], lr=lr, eps=0.0)
    with cpu_kernels(use_kernel):
        param.grad = g
        optimizer.step()
        first = param.data.copy()
        for _ in range(19):
            optimizer.step()
    mu1, mu2 = dozat_mu(1), dozat_mu(2)
    # a handful of roundings on each side: 1e-14 relative
    np.testing.assert_allclose(first, -lr * np.sign(g) * (1 + mu2 * 0.1 / (1 - mu1 * mu2)), rtol=1e-14)
    mu_product = optimizer.state[param]["mu_product"]
    assert isinstance(mu_product, float)
    assert mu_product == pytest.approx(np.prod([dozat_mu(t) for t in range(1, 21)]), rel=1e-14)


def test_parity_harness_compares_mu_product():
    """``mu_product`` is a float here and a 0-d tensor in torch; a drift in it alone must fail."""

    class DriftingNAdam(NAdam):
        def _update(self, param, grad, state, group):
            super()._update(param, grad, state, group)
            state["mu_product"] *= 1 + 1e-9

    assert run_torch_parity(NAdam, torch.optim.NAdam, {"lr": 0.01}, steps=3).state_error <= 1e-12
    result = run_torch_parity(DriftingNAdam, torch.optim.NAdam, {"lr": 0.01}, steps=1)
    assert result.param_error == 0.0 and result.state_error > 1e-10


@pytest.mark.parametrize("use_kernel", PATHS)
@pytest.mark.parametrize("cls", [NAdam, RAdam])
def test_decoupled_decay_on_a_zero_gradient(cls, use_kernel):
    """Zero gradient: the moments stay 0 and only the decay acts, θ_t = (1 − ηλ)ᵗ θ₀."""
    lr, weight_decay, theta0 = 0.1, 0.5, np.array([1.0, -3.0])
    param = Parameter(theta0.copy())
    optimizer = cls([param], lr=lr, weight_decay=weight_decay, decoupled_weight_decay=True)
    with cpu_kernels(use_kernel):
        for _ in range(10):
            param.grad = np.zeros(2)
            optimizer.step()
    # ten multiplications: 1e-14 relative
    np.testing.assert_allclose(param.data, (1 - lr * weight_decay) ** 10 * theta0, rtol=1e-14)
