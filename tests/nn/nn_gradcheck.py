"""Gradient-check helpers for the nn tests (imported by name; pytest puts this folder on sys.path).

Error measure, used throughout: rel_err(a, ref) = max|a − ref| / max|ref|, one number per array.

Finite differences are central, (L(θ + h e_i) − L(θ − h e_i)) / 2h with h = 1e-6 in float64. Their
error is about h² |L'''| / 6 ≈ 1e-13 (truncation) plus ε |L| / h ≈ 1e-10 |L| (rounding), far inside
the 1e-7 bound for the O(1) values used here.
"""

from __future__ import annotations

import numpy as np

FD_STEP = 1e-6
FD_RTOL = 1e-7
TORCH_RTOL = 1e-10


def rel_err(a, ref) -> float:
    a, ref = np.asarray(a, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    assert a.shape == ref.shape, (a.shape, ref.shape)
    scale = np.max(np.abs(ref))
    assert scale > 0, "reference gradient is identically zero: the check would be vacuous"
    return float(np.max(np.abs(a - ref)) / scale)


def numerical_grad(objective, array: np.ndarray, step: float = FD_STEP) -> np.ndarray:
    """Central-difference gradient of the scalar ``objective()`` with respect to ``array``,
    perturbing ``array`` in place one entry at a time (and restoring it)."""
    grad = np.zeros_like(array)
    flat, flat_grad = array.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        original = flat[i]
        flat[i] = original + step
        plus = objective()
        flat[i] = original - step
        minus = objective()
        flat[i] = original
        flat_grad[i] = (plus - minus) / (2 * step)
    return grad
