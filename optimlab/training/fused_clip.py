r"""Global-norm clipping fused into the optimizer step: one reduction pass, then the update.

``clip_grad_norm_(params, c)`` followed by ``optimizer.step()`` reads every gradient three times
(norm, scale, update) and writes it once. Here the norm is one reduction per flat gradient buffer,

.. math::
    \|g\| = \Big(\sum_{\text{buffers } b} g_b^\top g_b\Big)^{1/2}, \qquad
    \gamma = \min\Big(1, \frac{c}{\|g\| + 10^{-6}}\Big),

and :math:`\gamma` goes to the update as a host scalar (``optimizer.step(grad_scale=γ)``): the
kernel multiplies each gradient element by it as it reads it, so the clipped gradient is never
stored and the caller's gradients are left as they were. The result is torch's
``clip_grad_norm_`` followed by the step (same coefficient, same ``1e-6``; a NaN or infinite norm
poisons the step as it does there), up to the rounding of the norm's summation order. Only the
2-norm, and only optimizers with ``scales_gradients`` (the Adam family); otherwise use
``training.clip_grad_norm_`` then ``step()``. Reference: Pascanu, Mikolov & Bengio (2013).
"""

from __future__ import annotations

import math

import numpy as np

from optimlab.backend import get_array_module
from optimlab.training.gradients import CLIP_EPS


def _sum_of_squares(array) -> float:
    """``gᵀg`` in one pass (a dot product); float16 is promoted first, its squares overflow."""
    flat = array.reshape(-1)
    if flat.dtype == np.float16:
        flat = flat.astype(np.float32)
    return float(get_array_module(flat).dot(flat, flat))


def grad_norm(optimizer) -> float:
    """The global 2-norm of the gradients ``optimizer.step()`` will read: one dot product per flat
    gradient buffer (and per parameter outside a buffer)."""
    return math.sqrt(sum(_sum_of_squares(g) for g in optimizer.gradient_arrays()))


def clip_grad_norm_and_step(optimizer, max_norm: float, error_if_nonfinite: bool = False) -> float:
    """Clip the global gradient 2-norm to ``max_norm`` inside ``optimizer.step()``; return the norm
    before clipping, as ``clip_grad_norm_`` does (see the module docstring).

    Raises ``TypeError`` for an optimizer without ``scales_gradients``, ``ValueError`` for a
    ``max_norm`` that is not positive and finite, ``RuntimeError`` for a non-finite norm when
    ``error_if_nonfinite``.
    """
    if not getattr(optimizer, "scales_gradients", False):
        raise TypeError(f"{type(optimizer).__name__} cannot fold a clip coefficient into its update; "
                        "use training.clip_grad_norm_ and then step()")
    if isinstance(max_norm, bool) or not isinstance(max_norm, (int, float)):
        raise TypeError(f"max_norm must be a real number, got {type(max_norm).__name__}: {max_norm!r}")
    if not (max_norm > 0 and math.isfinite(max_norm)):
        raise ValueError(f"max_norm must be positive and finite, got {max_norm!r}")
    total = grad_norm(optimizer)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"The total norm of order 2 for gradients is non-finite ({total}), so it cannot be clipped; "
                           "set error_if_nonfinite=False to clip anyway")
    coefficient = max_norm / (total + CLIP_EPS)
    optimizer.step(grad_scale=coefficient if not coefficient >= 1.0 else 1.0)  # NaN stays NaN, as in torch
    return total
