"""Run any torch-style optimizer on a test function and record where it goes."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

from optimlab.backend import to_numpy
from optimlab.parameter import Parameter


@dataclass
class Trajectory:
    """Iterates x_0 … x_T (``points``, shape (T + 1, dim)) and f(x_t) (``values``), on the host."""

    points: np.ndarray
    values: np.ndarray

    @property
    def final(self) -> np.ndarray:
        return self.points[-1]


def _is_torch_optimizer(optimizer_cls) -> bool:
    torch = sys.modules.get("torch")  # never import torch just to ask
    return torch is not None and isinstance(optimizer_cls, type) and issubclass(optimizer_cls, torch.optim.Optimizer)


def run_optimizer(problem, optimizer_cls, steps: int, *, start=None, dtype=np.float64, **hyperparams) -> Trajectory:
    """Minimise ``problem`` with ``optimizer_cls([param], **hyperparams)`` for ``steps`` steps.

    Each step sets ``param.grad = problem.grad(param)`` and calls ``opt.step()``, as a training loop
    does. ``optimizer_cls`` is an optimlab optimizer (the parameter is an ``optimlab.Parameter``) or
    a ``torch.optim`` class (a float64 CPU tensor), so one call compares the two on the same path.
    """
    if not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"steps must be a non-negative int, got {steps!r}")
    x0 = np.array(problem.start if start is None else start, dtype=dtype)
    if x0.shape != (problem.dim,):
        raise ValueError(f"start must have shape ({problem.dim},), got {x0.shape}")
    torch = sys.modules["torch"] if _is_torch_optimizer(optimizer_cls) else None
    if torch is not None:
        param = torch.tensor(x0, requires_grad=True)

        def current():
            return param.detach().numpy().copy()

        def set_grad(x):
            param.grad = torch.from_numpy(np.asarray(problem.grad(x), dtype=dtype))
    else:
        param = Parameter(x0.copy(), name="x")

        def current():
            return to_numpy(param.data).copy()

        def set_grad(x):
            param.grad = problem.grad(param.data)

    optimizer = optimizer_cls([param], **hyperparams)
    points = [current()]
    for _ in range(steps):
        set_grad(points[-1])
        optimizer.step()
        points.append(current())
    points = np.stack(points)
    return Trajectory(points=points, values=np.array([float(problem.value(p)) for p in points]))
