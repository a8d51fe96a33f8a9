"""Convergence smoke tests (as optax's): every exported optimizer solves a convex quadratic and the
Rosenbrock function to a stated tolerance within a stated step budget, from a fixed start.

The table has one row per optimizer (two for ``Lookahead``: over SGD and over Adam): tuned
hyperparameters, step budgets and tolerances for both problems. ``test_every_exported_optimizer_has_a_row``
fails when a class exported by ``optimlab.optim`` has no row. The minimisers are known in closed
form (0 for the quadratic, (1, 1) for Rosenbrock), so each assertion compares with a value the
optimizer never saw.

Problems, on a (1, 2) matrix parameter so that matrix-only optimizers (Muon, Shampoo) fit too:
* quadratic f(θ) = ½(θ₁² + 10 θ₂²) from θ = (1, 1) (condition number 10), tolerance on ‖θ‖∞;
* Rosenbrock f(θ) = (1 − θ₁)² + 100(θ₂ − θ₁²)² from θ = (−1, 1.5), tolerance on ‖θ − (1, 1)‖∞.

Special rows: Schedule-Free is judged at its averaged weights x (``eval()`` before reading the
point, as one evaluates it); SophiaG gets its Hessian estimate through its hook ``update_hessian()``
every ``hessian_interval`` steps, fed with the exact |Hessian diagonal| (ĝ = √|diag ∇²f|, so
ĝ² = |diag ∇²f|: the estimator's expectation for a Gauss–Newton model); AdamMini's parameter is
named ``mlp.weight`` (one block per row: both coordinates share one v); the 8-bit optimizers get
``min_8bit_size=0`` so that their moments really are quantised (one block of 2 elements).

Tolerances: a fixed-lr method whose step does not shrink with the gradient (Lion, Muon, LAMB)
oscillates around the minimum with an amplitude of order lr, so its tolerance is a few lr; the
others are set about a decade above what the row reaches, so that a real regression fails.
Budget: the whole module takes about 8 s of CPU time.
"""

import numpy as np
import pytest

import optimlab.optim as optim
from optimlab import Parameter
from optimlab.optim import (
    ASGD, LAMB, LARS, LBFGS, SGD, Adadelta, Adafactor, Adagrad, Adam, Adam8bit, Adamax, AdamMini, AdamW, AdamW8bit,
    AdamWScheduleFree, Lion, Lookahead, Muon, NAdam, RAdam, RMSprop, Rprop, SGDScheduleFree, Shampoo, SophiaG,
)

# name: (build, quadratic kwargs, (steps, tol), Rosenbrock kwargs, (steps, tol))
TABLE = {
    "SGD": (SGD, {"lr": 0.1, "momentum": 0.5}, (200, 1e-6), {"lr": 1e-3, "momentum": 0.9}, (5000, 1e-3)),
    "Adam": (Adam, {"lr": 0.1}, (500, 1e-4), {"lr": 0.02}, (5000, 1e-3)),
    "AdamW": (AdamW, {"lr": 0.1, "weight_decay": 0.0}, (500, 1e-4), {"lr": 0.02, "weight_decay": 0.0}, (5000, 1e-3)),
    "ASGD": (ASGD, {"lr": 0.1, "t0": 100}, (300, 1e-6), {"lr": 1e-3, "t0": 1e9}, (20000, 1e-2)),
    "Rprop": (Rprop, {"lr": 0.1}, (200, 1e-6), {"lr": 0.01}, (5000, 1e-3)),
    "Adafactor": (Adafactor, {"lr": 0.1}, (500, 1e-3), {"lr": 0.05}, (20000, 5e-2)),
    # Muon's update has unit spectral norm: a fixed lr leaves an O(lr) oscillation around the minimum
    "Muon": (Muon, {"lr": 0.01, "weight_decay": 0.0, "ns_dtype": None}, (500, 2e-2),
             {"lr": 0.01, "weight_decay": 0.0, "ns_dtype": None}, (20000, 5e-2)),
    "LBFGS": (LBFGS, {"lr": 1.0, "tolerance_change": 1e-20}, (3, 1e-8),
              {"lr": 1.0, "line_search_fn": "strong_wolfe"}, (20, 1e-6)),
    "Adagrad": (Adagrad, {"lr": 0.5}, (300, 1e-6), {"lr": 0.2}, (20000, 1e-3)),
    "RMSprop": (RMSprop, {"lr": 0.01}, (500, 1e-2), {"lr": 1e-3, "momentum": 0.9}, (5000, 1e-2)),
    # Adadelta's step starts at √ε and grows: slow, and on Rosenbrock it stalls near 1e-2
    "Adadelta": (Adadelta, {"lr": 0.3, "eps": 1e-6, "rho": 0.99}, (3000, 1e-6), {"lr": 0.5, "eps": 1e-8}, (20000, 5e-2)),
    "Adamax": (Adamax, {"lr": 0.1}, (500, 1e-4), {"lr": 0.02}, (5000, 1e-3)),
    "NAdam": (NAdam, {"lr": 0.1}, (500, 1e-4), {"lr": 0.01}, (5000, 1e-2)),
    # RAdam's first five steps are plain momentum SGD: Rosenbrock's large initial gradient needs a small lr
    "RAdam": (RAdam, {"lr": 0.1}, (500, 1e-4), {"lr": 1e-3, "betas": (0.9, 0.99)}, (5000, 1e-3)),
    "Lion": (Lion, {"lr": 1e-3}, (2000, 5e-3), {"lr": 1e-3}, (5000, 5e-3)),
    # LAMB's step is lr·‖θ‖ per tensor: with a fixed lr it hovers O(lr) around the minimum
    "LAMB": (LAMB, {"lr": 0.05}, (500, 1e-3), {"lr": 0.003}, (20000, 5e-2)),
    "LARS": (LARS, {"lr": 1.0, "trust_coefficient": 0.01}, (500, 1e-4), {"lr": 0.1, "trust_coefficient": 0.01},
             (5000, 1e-2)),
    "Lookahead[SGD]": (lambda params, lr, **kw: Lookahead(SGD(params, lr=lr, momentum=kw.pop("momentum")), **kw),
                       {"lr": 0.1, "momentum": 0.5}, (300, 1e-6), {"lr": 1e-3, "momentum": 0.9}, (5000, 1e-3)),
    "Lookahead[Adam]": (lambda params, lr, **kw: Lookahead(Adam(params, lr=lr), **kw), {"lr": 0.1}, (500, 1e-4),
                        {"lr": 0.02}, (5000, 1e-3)),
    "SGDScheduleFree": (SGDScheduleFree, {"lr": 0.1, "momentum": 0.5}, (500, 1e-6),
                        {"lr": 2e-3, "momentum": 0.8, "r": 1.0}, (20000, 1e-2)),
    "AdamWScheduleFree": (AdamWScheduleFree, {"lr": 0.1}, (500, 1e-4), {"lr": 0.01}, (20000, 1e-3)),
    "SophiaG": (SophiaG, {"lr": 0.2, "rho": 1.0, "weight_decay": 0.0, "betas": (0.9, 0.99)}, (500, 1e-6),
                {"lr": 0.5, "rho": 0.2, "weight_decay": 0.0}, (5000, 1e-6)),
    "AdamMini": (AdamMini, {"lr": 0.1}, (500, 1e-4), {"lr": 0.02}, (5000, 1e-3)),
    "Shampoo": (Shampoo, {"lr": 0.3}, (500, 1e-6), {"lr": 0.3}, (20000, 1e-3)),
    "Adam8bit": (Adam8bit, {"lr": 0.1, "min_8bit_size": 0}, (500, 1e-4), {"lr": 0.02, "min_8bit_size": 0},
                 (5000, 1e-3)),
    "AdamW8bit": (AdamW8bit, {"lr": 0.1, "min_8bit_size": 0, "weight_decay": 0.0}, (500, 1e-4),
                  {"lr": 0.02, "min_8bit_size": 0, "weight_decay": 0.0}, (5000, 1e-3)),
}


def quadratic(theta):
    scale = np.array([[1.0, 10.0]])
    return 0.5 * float(np.sum(scale * theta * theta)), scale * theta, scale


def rosenbrock(theta):
    x, y = theta[0]
    loss = (1 - x) ** 2 + 100 * (y - x * x) ** 2
    grad = np.array([[-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)]])
    return float(loss), grad, np.array([[2 - 400 * y + 1200 * x * x, 200.0]])


def _minimise(name, kwargs, function, start, steps):
    build = TABLE[name][0]
    param = Parameter(np.array([start], dtype=np.float64))
    optimizer = build([("mlp.weight", param)] if build is AdamMini else [param], **kwargs)

    def closure():
        loss, grad, _ = function(param.data)
        param.grad = grad
        return loss

    for _ in range(steps):
        if isinstance(optimizer, SophiaG):
            optimizer.step(closure, bs=1)  # B = 1: one "example" per step, so ρ alone scales h
        else:
            optimizer.step(closure)
        if isinstance(optimizer, SophiaG) and optimizer.hessian_due():
            param.grad = np.sqrt(np.abs(function(param.data)[2]))  # the estimator's ĝ with ĝ² = |diag ∇²f|
            optimizer.update_hessian()
    if isinstance(optimizer, (SGDScheduleFree, AdamWScheduleFree)):
        optimizer.eval()  # the averaged weights x, where schedule-free is evaluated
    return param.data[0]


def test_every_exported_optimizer_has_a_row():
    exported = {name for name in optim.__all__ if hasattr(getattr(optim, name), "step")} - {"Optimizer"}
    covered = {name.split("[")[0] for name in TABLE}
    assert exported - covered == set()


@pytest.mark.parametrize("name", sorted(TABLE))
def test_solves_a_convex_quadratic(name):
    _, kwargs, (steps, tol), _, _ = TABLE[name]
    theta = _minimise(name, dict(kwargs), quadratic, (1.0, 1.0), steps)
    assert np.max(np.abs(theta)) <= tol, theta


@pytest.mark.parametrize("name", sorted(TABLE))
def test_solves_rosenbrock(name):
    _, _, _, kwargs, (steps, tol) = TABLE[name]
    theta = _minimise(name, dict(kwargs), rosenbrock, (-1.0, 1.5), steps)
    assert np.max(np.abs(theta - 1.0)) <= tol, theta
