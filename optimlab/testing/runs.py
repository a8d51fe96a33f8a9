"""Running an optimizer of the table on the parity problem, and comparing what it leaves behind."""

from __future__ import annotations

import numpy as np

from optimlab.backend import is_array
from optimlab.parameter import Parameter
from optimlab.verify.parity import TrajectoryProblem


def setup(info, config=None, *, seed: int = 1):
    """``(problem, params, optimizer)``: the entry's optimizer on a fresh ``TrajectoryProblem``."""
    problem = TrajectoryProblem(seed=seed, shapes=info.shapes)
    params = [Parameter(x.copy()) for x in problem.initial]
    return problem, params, info.build(params, config)


def closure_for(problem, params, step: int, inject=None):
    """The closure of step ``step``: sets every gradient and returns the loss; ``inject(grads)`` may
    change the fresh gradient arrays first (a non-finite entry, say)."""

    def closure():
        values = [p.data for p in params]
        grads = problem.grads(values, step)
        if inject is not None:
            inject(grads)
        for p, g in zip(params, grads):
            p.grad = g
        return problem.loss(values, step)

    return closure


def run(optimizer, problem, params, steps: int, start: int = 0) -> None:
    """``steps`` steps from step ``start``, each through its closure (so LBFGS runs too)."""
    for step in range(start, start + steps):
        optimizer.step(closure_for(problem, params, step))


def snapshot(optimizer, params) -> tuple:
    """Copies of everything a step may change: parameters, ``state_dict()`` and the step counter."""
    return [p.data.copy() for p in params], optimizer.state_dict(), optimizer.step_count


def differences(a, b, path: str = "") -> list[str]:
    """Where two nested structures (dicts, lists, tuples, arrays, scalars) are not bit-identical:
    arrays must agree in shape, dtype and every bit (NaN equal to NaN)."""
    if is_array(a) or is_array(b):
        same = (is_array(a) and is_array(b) and a.shape == b.shape and a.dtype == b.dtype
                and np.asarray(a).tobytes() == np.asarray(b).tobytes())
        return [] if same else [path or "array"]
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return [f"{path} keys {sorted(map(str, a))} != {sorted(map(str, b))}"]
        return [d for key in a for d in differences(a[key], b[key], f"{path}/{key}")]
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if type(a) is not type(b) or len(a) != len(b):
            return [f"{path}: {a!r} != {b!r}"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{path}[{i}]")]
    if type(a) is not type(b) or not (a == b or (a != a and b != b)):
        return [f"{path}: {a!r} != {b!r}"]
    return []


def array_leaves(tree, path=()):
    """``(path, array)`` for every array in a nested dict/list structure, in a fixed order."""
    if is_array(tree):
        yield path, tree
    elif isinstance(tree, dict):
        for key in sorted(tree, key=str):
            yield from array_leaves(tree[key], path + (key,))
    elif isinstance(tree, (list, tuple)):
        for i, item in enumerate(tree):
            yield from array_leaves(item, path + (i,))
