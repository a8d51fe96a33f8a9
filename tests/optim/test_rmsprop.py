"""Centered RMSprop under a constant gradient: the variance v − ḡ² is (1 − αᵗ)αᵗg² ≥ 0 in exact
arithmetic, but it is a difference of two numbers ≈ g² whose relative rounding error grows like
ulp/αᵗ, and it rounds to a slightly negative number once αᵗ nears an ulp; torch then takes the
square root of it and returns NaN. Here it is clamped at 0 (the documented divergence): no NaN, and
the same trajectory as torch while the subtraction is well conditioned."""

import numpy as np
import pytest
import torch

from optimlab import Parameter
from optimlab.kernels import cpu_compiler_available, cpu_kernels
from optimlab.optim.rmsprop import RMSprop
from optimlab.verify import relative_error

PATHS = [pytest.param(False, id="reference"),
         pytest.param(True, id="kernel", marks=pytest.mark.skipif(not cpu_compiler_available(), reason="no g++"))]
CONFIG = {"lr": 0.01, "alpha": 0.5, "centered": True}
STEPS = 80


def _torch_trajectory(g):
    param = torch.zeros(len(g), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.RMSprop([param], **CONFIG)
    trajectory = []
    for _ in range(STEPS):
        param.grad = torch.from_numpy(g)
        optimizer.step()
        trajectory.append(param.detach().numpy().copy())
    return np.array(trajectory)


@pytest.mark.parametrize("use_kernel", PATHS)
def test_constant_gradient_gives_no_nan(use_kernel):
    g = np.array([0.1, 0.7, 1.1, 1e-3])  # values whose v − ḡ² rounds below 0 here and in torch
    theirs = _torch_trajectory(g)
    first_nan = int(np.argmax(np.isnan(theirs).any(axis=1)))
    assert first_nan > 0, "premise: torch 2.13 returns NaN on this problem"
    param = Parameter(np.zeros(len(g)))
    optimizer = RMSprop([param], **CONFIG)
    ours = []
    with cpu_kernels(use_kernel):
        for _ in range(STEPS):
            param.grad = g
            optimizer.step()
            ours.append(param.data.copy())
    ours = np.array(ours)
    assert np.all(np.isfinite(ours))
    # v − ḡ² has condition number v/(v − ḡ²) = 1/αᵗ; while it is ≤ 1e3, float64 rounding moves the
    # step by ≤ 1e3 ulp ≈ 1e-13 relative, so both implementations agree to 1e-12
    conditioned = int(np.log(1e-3) / np.log(CONFIG["alpha"]))
    assert 0 < conditioned < first_nan
    assert relative_error(ours[:conditioned], theirs[:conditioned]) <= 1e-12


def test_clamp_keeps_nan_gradients_visible():
    """The clamp is a NaN-propagating maximum: a NaN gradient still yields a NaN parameter."""
    param = Parameter(np.zeros(2))
    optimizer = RMSprop([param], centered=True)
    param.grad = np.array([np.nan, 1.0])
    optimizer.step()
    assert np.isnan(param.data[0]) and np.isfinite(param.data[1])
