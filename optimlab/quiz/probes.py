"""Small measurements the questions share: run a real optimizer through given gradients, and count
the bytes its step reads and writes."""

from __future__ import annotations

import math

import numpy as np

from optimlab.backend import is_array
from optimlab.optim.memory import stepped_optimizer
from optimlab.parameter import Parameter


def run_steps(optimizer_cls, start, grads, **hyper) -> tuple[np.ndarray, object]:
    """Iterates θ₀ … θ_T of ``optimizer_cls([θ], **hyper)`` fed the gradients ``grads`` (one per step,
    each broadcast to θ's shape), and the optimizer (to read its state)."""
    param = Parameter(np.array(start, dtype=np.float64))
    optimizer = optimizer_cls([param], **hyper)
    path = [param.data.copy()]
    for grad in grads:
        param.grad = np.broadcast_to(np.asarray(grad, dtype=param.data.dtype), param.data.shape).copy()
        optimizer.step()
        path.append(param.data.copy())
    return np.array(path), optimizer


def first_move(optimizer_cls, grad, *, start=0.0, **hyper) -> np.ndarray:
    """θ₁ − θ₀ of one step of ``optimizer_cls`` from ``start`` with gradient ``grad``."""
    path, _ = run_steps(optimizer_cls, np.broadcast_to(start, np.shape(grad)), [grad], **hyper)
    return path[1] - path[0]


def step_bytes_per_parameter(optimizer_cls, shape=(4096,), *, dtype=np.float32, **hyper) -> float:
    """Bytes an elementwise step moves per parameter, from the real arrays: it reads θ, g and every
    state array once and writes θ and every state array once."""
    optimizer, param = stepped_optimizer(optimizer_cls, shape, dtype=dtype, **hyper)
    state = [v for v in optimizer.state[param].values() if is_array(v)]
    read = param.data.nbytes + param.grad.nbytes + sum(v.nbytes for v in state)
    written = param.data.nbytes + sum(v.nbytes for v in state)
    return (read + written) / param.data.size


def state_of(optimizer) -> dict:
    """The state of an optimizer's only parameter."""
    (state,) = optimizer.state.values()
    return state


def polyak_momentum(problem) -> tuple[float, float]:
    """Polyak's heavy-ball tuning on a quadratic with extreme eigenvalues μ, L (κ = L/μ), in torch's
    form (lr, momentum): η = 4/(√L + √μ)², β = ((√κ − 1)/(√κ + 1))²."""
    mu, L = float(problem.eigenvalues[0]), float(problem.eigenvalues[-1])
    root_kappa = math.sqrt(L / mu)
    return 4 / (math.sqrt(L) + math.sqrt(mu)) ** 2, ((root_kappa - 1) / (root_kappa + 1)) ** 2


def first_below(problem, points: np.ndarray, tolerance: float) -> int:
    """The index of the first iterate of ``points`` (one per row) on a ``Quadratic`` whose gradient
    entries are all at most ``tolerance`` in size; raises if none is."""
    gradients = np.abs((points - problem.minimizer) @ problem.matrix).max(axis=1)
    below = np.flatnonzero(gradients <= tolerance)
    if below.size == 0:
        raise ValueError(f"no iterate reached gradient entries <= {tolerance}")
    return int(below[0])
