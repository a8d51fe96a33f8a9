r"""Gradient tools: global norms, clipping, accumulation over micro-batches, and the non-finite guard.

Norms and clipping follow ``torch.nn.utils`` (``get_total_norm``, ``clip_grads_with_norm_``,
``clip_grad_norm_``, ``clip_grad_value_``). The total :math:`p`-norm of gradients
:math:`g^{(1)},\dots,g^{(n)}` is the norm of the per-array norms,

.. math::
    \|g\|_p = \Big(\sum_i \|g^{(i)}\|_p^p\Big)^{1/p}, \qquad \|g\|_\infty = \max_i \max_j |g^{(i)}_j|,

and clipping to ``max_norm`` :math:`c` multiplies every gradient by
:math:`\min\big(1,\ c/(\|g\| + 10^{-6})\big)`, so the direction is kept and only the length shrinks
(Pascanu, Mikolov & Bengio, 2013). As in torch, a non-finite total norm makes the factor NaN or 0 and
so poisons the gradients, unless ``error_if_nonfinite`` raises first.

One difference from torch, by design: the library never writes into a gradient array the caller
assigned, so the ``*_`` functions *replace* ``p.grad`` with the clipped array rather than mutating it
(``p.grad`` is changed "in place" on the parameter, the caller's array is left as it was).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np

from optimlab.backend import get_array_module, is_array
from optimlab.parameter import Parameter

CLIP_EPS = 1e-6  # torch's clip_grad_norm_ adds this to the norm before dividing


def parameter_list(params) -> list[Parameter]:
    """``params`` (one Parameter or an iterable of them) as a list, or a TypeError naming what it got."""
    if isinstance(params, Parameter):
        return [params]
    if is_array(params) or not isinstance(params, Iterable):
        raise TypeError(f"params must be a Parameter or an iterable of Parameters, got {type(params).__name__}")
    params = list(params)
    for p in params:
        if not isinstance(p, Parameter):
            raise TypeError(f"params must hold optimlab.Parameter objects, got {type(p).__name__}")
    return params


def positive_real(name: str, value) -> float:
    """``value`` as a float if it is a positive, finite real number; else an error naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}: {value!r}")
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be positive and finite, got {value!r}")
    return float(value)


def _norm_type(norm_type) -> float:
    if isinstance(norm_type, bool) or not isinstance(norm_type, numbers.Real):
        raise TypeError(f"norm_type must be a real number or inf, got {type(norm_type).__name__}: {norm_type!r}")
    if not norm_type > 0:
        raise ValueError(f"norm_type must be positive (or inf), got {norm_type!r}")
    return float(norm_type)


def _array_norm(array, norm_type: float) -> float:
    """‖array‖_p over all entries, computed in at least float32 (so fp16 squares do not overflow)."""
    xp = get_array_module(array)
    a = xp.abs(array.ravel().astype(np.promote_types(array.dtype, np.float32)))
    if a.size == 0:
        return 0.0
    if norm_type == math.inf:
        return float(a.max())
    if norm_type == 2.0:
        return float(xp.sqrt(xp.dot(a, a)))
    return float((a**norm_type).sum() ** (1.0 / norm_type))


def scaled(array, factor):
    """A new array ``factor · array`` in ``array``'s dtype (also for 0-d arrays, which NumPy would turn
    into scalars)."""
    return get_array_module(array).asarray(array * array.dtype.type(factor))


def get_total_norm(arrays: Iterable, norm_type: float = 2.0, error_if_nonfinite: bool = False) -> float:
    """The total ``norm_type``-norm of ``arrays`` (the norm of their norms), as torch's ``get_total_norm``.

    Raises ``RuntimeError`` when ``error_if_nonfinite`` is set and the norm is NaN or infinite.
    """
    p = _norm_type(norm_type)
    norms = [_array_norm(a, p) for a in arrays]
    if not norms:
        return 0.0
    total = float(np.linalg.norm(np.asarray(norms), ord=p))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients is non-finite ({total}), so it cannot be clipped; "
            "set error_if_nonfinite=False to clip anyway"
        )
    return total


def global_grad_norm(params, norm_type: float = 2.0) -> float:
    """The total norm of the gradients of ``params`` (parameters without a gradient are skipped)."""
    return get_total_norm([p.grad for p in parameter_list(params) if p.grad is not None], norm_type)


def clip_grads_with_norm_(params, max_norm: float, total_norm: float) -> None:
    """Scale every gradient by ``min(1, max_norm / (total_norm + 1e-6))`` (torch's coefficient)."""
    max_norm = positive_real("max_norm", max_norm)
    coefficient = max_norm / (float(total_norm) + CLIP_EPS)
    if coefficient >= 1.0:  # torch multiplies by exactly 1.0 here, which changes nothing
        return
    for p in parameter_list(params):
        if p.grad is not None:
            p.grad = scaled(p.grad, coefficient)


def clip_grad_norm_(params, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False) -> float:
    """Clip the gradients of ``params`` to total norm ``max_norm``; return the norm *before* clipping.

    Same arguments and result as ``torch.nn.utils.clip_grad_norm_`` (``norm_type`` may be ``inf``).
    """
    params = parameter_list(params)
    max_norm = positive_real("max_norm", max_norm)
    grads = [p.grad for p in params if p.grad is not None]
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    clip_grads_with_norm_(params, max_norm, total)
    return total


def clip_grad_value_(params, clip_value: float) -> None:
    """Clamp every gradient entry to ``[-clip_value, clip_value]`` (``torch.nn.utils.clip_grad_value_``)."""
    clip_value = positive_real("clip_value", clip_value)
    for p in parameter_list(params):
        if p.grad is not None:
            xp = get_array_module(p.grad)
            p.grad = xp.asarray(xp.clip(p.grad, -clip_value, clip_value), dtype=p.grad.dtype)


def grads_are_finite(params) -> bool:
    """True when no gradient of ``params`` holds NaN or ±inf."""
    for p in parameter_list(params):
        if p.grad is not None and not bool(get_array_module(p.grad).isfinite(p.grad).all()):
            return False
    return True


def step_if_finite(optimizer, closure: Callable | None = None) -> bool:
    """``optimizer.step()`` only when every gradient is finite; return whether it stepped.

    A skipped step leaves parameters, optimizer state and ``step_count`` exactly as they were, as
    ``torch.amp.GradScaler.step`` does when it finds an inf. Works with any optimizer that has
    ``param_groups`` (no change to the optimizer class needed). With a ``closure`` (which sets the
    gradients, as LBFGS requires) the closure is evaluated first to check its gradients, and the step
    is ``optimizer.step(closure)``; a non-finite gradient met later inside the step (LBFGS's line
    search) is not caught.
    """
    if closure is not None:
        closure()
    params = [p for group in optimizer.param_groups for p in group["params"]]
    if not grads_are_finite(params):
        return False
    optimizer.step(closure)
    return True


REDUCTIONS = ("mean", "sum")


def accumulation_steps_checked(accumulation_steps) -> int:
    """``accumulation_steps`` as an int if it is an integer ≥ 1; else an error naming it and its value."""
    if isinstance(accumulation_steps, bool) or not isinstance(accumulation_steps, numbers.Integral):
        raise TypeError(f"accumulation_steps must be an int, got {type(accumulation_steps).__name__}: "
                        f"{accumulation_steps!r}")
    if accumulation_steps < 1:
        raise ValueError(f"accumulation_steps must be at least 1, got {accumulation_steps}")
    return int(accumulation_steps)


def split_batch(batch, accumulation_steps: int) -> list:
    """Split an array, or a tuple of arrays with the same first dimension, into ``accumulation_steps``
    equal micro-batches along axis 0 (views, no copies). The batch size must divide evenly, so that
    mean accumulation reproduces the full-batch mean exactly."""
    k = accumulation_steps_checked(accumulation_steps)
    arrays = batch if isinstance(batch, tuple) else (batch,)
    if not arrays or not all(is_array(a) and a.ndim >= 1 for a in arrays):
        raise TypeError("batch must be an array or a tuple of arrays with a leading batch axis")
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError(f"batch arrays have different lengths {[len(a) for a in arrays]}")
    if n % k:
        raise ValueError(f"batch size {n} is not divisible by accumulation_steps={k}")
    size = n // k
    parts = [tuple(a[i * size:(i + 1) * size] for a in arrays) for i in range(k)]
    return parts if isinstance(batch, tuple) else [part[0] for part in parts]


def accumulate_gradients(loss_and_grad: Callable, micro_batches: Sequence, reduction: str = "mean",
                         loss_scale: float = 1.0) -> float:
    r"""Accumulate gradients over micro-batches :math:`b_1,\dots,b_k` into each ``p.grad``.

    ``loss_and_grad(batch, loss_scale)`` must back-propagate :math:`s\,\nabla L(b)` into the
    parameters' gradients and return :math:`L(b)` (the ``optimlab.problems.Task`` contract).
    With ``reduction="mean"`` each micro-batch is weighted :math:`s/k`, so for a mean-reduced loss and
    equal micro-batches the result is :math:`s\,\nabla L` of the full batch
    (:math:`\frac1k\sum_i \nabla L(b_i) = \nabla L(b_1\cup\dots\cup b_k)`); with ``"sum"`` it is
    :math:`s\sum_i\nabla L(b_i)`. ``s`` = ``loss_scale`` (a GradScaler's scale). Gradients are added
    to what is there: call ``zero_grad()`` first. Returns the mean (or sum) of the micro-batch losses.
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    micro_batches = list(micro_batches)
    if not micro_batches:
        raise ValueError("micro_batches is empty: accumulation needs at least 1 micro-batch")
    k = len(micro_batches)
    weight = 1.0 / k if reduction == "mean" else 1.0
    total = sum(float(loss_and_grad(batch, loss_scale * weight)) for batch in micro_batches)
    return total * weight


@dataclass(frozen=True)
class StepResult:
    """What one guarded step did: whether the optimizer stepped, and the gradient norm before clipping
    (``None`` when no clipping was asked for)."""

    stepped: bool
    grad_norm: float | None = None


def guarded_step(optimizer, *, scaler=None, max_grad_norm: float | None = None, norm_type: float = 2.0) -> StepResult:
    """One optimizer step with the usual safety net, in torch's order:

    1. ``scaler.unscale_(optimizer)`` when a ``GradScaler`` is given (clipping must see true gradients);
    2. ``clip_grad_norm_`` to ``max_grad_norm`` when given;
    3. the step, skipped if any gradient is inf/NaN (``scaler.step``, else ``step_if_finite``);
    4. ``scaler.update()``.
    """
    params = [p for group in optimizer.param_groups for p in group["params"]]
    if max_grad_norm is not None:
        positive_real("max_grad_norm", max_grad_norm)
    if scaler is not None:
        scaler.unscale_(optimizer)
    grad_norm = None if max_grad_norm is None else clip_grad_norm_(params, max_grad_norm, norm_type)
    if scaler is not None:
        stepped = scaler.step(optimizer)
        scaler.update()
    else:
        stepped = step_if_finite(optimizer)
    return StepResult(stepped, grad_norm)
