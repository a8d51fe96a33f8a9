"""Convergence smoke tests (as optax's): every optimizer solves a convex quadratic and the Rosenbrock
function to a stated tolerance within a stated step budget, from a fixed start.

The table has one row per optimizer: tuned hyperparameters, step budgets and tolerances for both
problems. Add a row (and its class to ``CLASSES``) for each new optimizer. The minimisers are known in closed form (0 for the
quadratic, (1, 1) for Rosenbrock), so each assertion compares with a value the optimizer never saw.

Problems, on a (1, 2) matrix parameter so that matrix-only optimizers (Muon) fit too:
* quadratic f(θ) = ½(θ₁² + 10 θ₂²) from θ = (1, 1) (condition number 10), tolerance on ‖θ‖∞;
* Rosenbrock f(θ) = (1 − θ₁)² + 100(θ₂ − θ₁²)² from θ = (−1, 1.5), tolerance on ‖θ − (1, 1)‖∞.
"""

import numpy as np
import pytest

from optimlab import Parameter
from optimlab.optim.adafactor import Adafactor
from optimlab.optim.adam import Adam, AdamW
from optimlab.optim.asgd import ASGD
from optimlab.optim.lbfgs import LBFGS
from optimlab.optim.muon import Muon
from optimlab.optim.rprop import Rprop
from optimlab.optim.sgd import SGD

CLASSES = {cls.__name__: cls for cls in (SGD, Adam, AdamW, ASGD, Rprop, Adafactor, Muon, LBFGS)}

# name: (kwargs, quadratic (steps, tol), Rosenbrock kwargs or None for the same, Rosenbrock (steps, tol))
TABLE = {
    "SGD": ({"lr": 0.1, "momentum": 0.5}, (200, 1e-6), {"lr": 1e-3, "momentum": 0.9}, (5000, 1e-3)),
    "Adam": ({"lr": 0.1}, (500, 1e-4), {"lr": 0.02}, (5000, 1e-3)),
    "AdamW": ({"lr": 0.1, "weight_decay": 0.0}, (500, 1e-4), {"lr": 0.02, "weight_decay": 0.0}, (5000, 1e-3)),
    "ASGD": ({"lr": 0.1, "t0": 100}, (300, 1e-6), {"lr": 1e-3, "t0": 1e9}, (20000, 1e-2)),
    "Rprop": ({"lr": 0.1}, (200, 1e-6), {"lr": 0.01}, (5000, 1e-3)),
    "Adafactor": ({"lr": 0.1}, (500, 1e-3), {"lr": 0.05}, (20000, 5e-2)),
    # Muon's update has unit spectral norm: a fixed lr leaves an O(lr) oscillation around the minimum
    "Muon": ({"lr": 0.01, "weight_decay": 0.0, "ns_dtype": None}, (500, 2e-2),
             {"lr": 0.01, "weight_decay": 0.0, "ns_dtype": None}, (20000, 5e-2)),
    "LBFGS": ({"lr": 1.0, "tolerance_change": 1e-20}, (3, 1e-8), {"lr": 1.0, "line_search_fn": "strong_wolfe"}, (20, 1e-6)),
}


def quadratic(theta):
    scale = np.array([[1.0, 10.0]])
    return 0.5 * float(np.sum(scale * theta * theta)), scale * theta


def rosenbrock(theta):
    x, y = theta[0]
    loss = (1 - x) ** 2 + 100 * (y - x * x) ** 2
    return float(loss), np.array([[-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)]])


def _minimise(name, kwargs, function, start, steps):
    param = Parameter(np.array([start], dtype=np.float64))
    optimizer = CLASSES[name]([param], **kwargs)

    def closure():
        loss, grad = function(param.data)
        param.grad = grad
        return loss

    for _ in range(steps):
        optimizer.step(closure)
    return param.data[0]


@pytest.mark.parametrize("name", sorted(TABLE))
def test_solves_a_convex_quadratic(name):
    kwargs, (steps, tol), _, _ = TABLE[name]
    theta = _minimise(name, kwargs, quadratic, (1.0, 1.0), steps)
    assert np.max(np.abs(theta)) <= tol, theta


@pytest.mark.parametrize("name", sorted(TABLE))
def test_solves_rosenbrock(name):
    _, _, kwargs, (steps, tol) = TABLE[name]
    theta = _minimise(name, kwargs, rosenbrock, (-1.0, 1.5), steps)
    assert np.max(np.abs(theta - 1.0)) <= tol, theta
