"""Losses, mean-reduced as PyTorch's defaults. ``forward`` returns a 0-d array; ``backward(scale)``
returns ∂(scale · L)/∂prediction (``scale`` is 1, or a loss scale, or 1/k for accumulation)."""

from __future__ import annotations

import numpy as np

from optimlab.backend import get_array_module
from optimlab.nn.module import Module


class CrossEntropyLoss(Module):
    """Softmax cross-entropy, as ``torch.nn.functional.cross_entropy``: logits z of shape (..., C),
    integer targets t of shape (...), N positions.

    L = (1/N) Σ_n [logsumexp(z_n) − z_{n,t_n}],  ∂L/∂z_n = (softmax(z_n) − onehot(t_n)) / N.
    """

    def forward(self, logits, targets):
        xp = get_array_module(logits, targets)
        if logits.ndim < 1 or tuple(targets.shape) != tuple(logits.shape[:-1]):
            raise ValueError(
                f"CrossEntropyLoss targets must have shape {tuple(logits.shape[:-1])} (logits without "
                f"the class axis), got {tuple(targets.shape)}"
            )
        if not np.issubdtype(targets.dtype, np.integer):
            raise TypeError(f"CrossEntropyLoss targets must be integer class indices, got dtype {targets.dtype}")
        n_classes = logits.shape[-1]
        if targets.size and (int(targets.min()) < 0 or int(targets.max()) >= n_classes):
            raise IndexError(
                f"CrossEntropyLoss targets must lie in [0, {n_classes}), "
                f"got values in [{int(targets.min())}, {int(targets.max())}]"
            )
        z = logits.reshape(-1, n_classes)
        t = targets.reshape(-1)
        shifted = z - z.max(axis=1, keepdims=True)
        log_norm = xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
        log_probs = shifted - log_norm
        self._probs, self._targets, self._shape = xp.exp(log_probs), t, logits.shape
        return -log_probs[xp.arange(t.size), t].mean()

    def backward(self, grad_out=1.0):
        probs = self._cache("_probs")
        xp = get_array_module(probs)
        t = self._targets
        grad = probs.copy()
        grad[xp.arange(t.size), t] -= 1
        grad *= grad_out / t.size
        return grad.reshape(self._shape)


class BCEWithLogitsLoss(Module):
    """Binary cross-entropy on logits z with targets y ∈ [0, 1], as
    ``torch.nn.functional.binary_cross_entropy_with_logits``, over N entries:

    L = (1/N) Σ [softplus(z) − y z] = (1/N) Σ [max(z, 0) − y z + log(1 + e^{−|z|})] (the stable form),
    ∂L/∂z = (σ(z) − y) / N.
    """

    def forward(self, logits, targets):
        xp = get_array_module(logits, targets)
        if tuple(logits.shape) != tuple(targets.shape):
            raise ValueError(f"BCEWithLogitsLoss logits have shape {tuple(logits.shape)} but targets have {tuple(targets.shape)}")
        if not bool(((targets >= 0) & (targets <= 1)).all()):
            raise ValueError("BCEWithLogitsLoss targets must lie in [0, 1] (found values outside, or NaN)")
        self._sigmoid, self._targets = 1 / (1 + xp.exp(-logits)), targets
        return (xp.maximum(logits, 0) - targets * logits + xp.log1p(xp.exp(-xp.abs(logits)))).mean()

    def backward(self, grad_out=1.0):
        sigmoid = self._cache("_sigmoid")
        return (sigmoid - self._targets) * (grad_out / sigmoid.size)


class MSELoss(Module):
    """L = (1/N) Σ (ŷ − y)² over all N entries;  ∂L/∂ŷ = 2 (ŷ − y) / N."""

    def forward(self, prediction, target):
        xp = get_array_module(prediction, target)
        if tuple(prediction.shape) != tuple(target.shape):
            raise ValueError(
                f"MSELoss prediction has shape {tuple(prediction.shape)} but target has {tuple(target.shape)}"
            )
        if not bool(xp.isfinite(target).all()):
            raise ValueError("MSELoss target contains NaN or infinity")
        self._diff = prediction - target
        return (self._diff * self._diff).mean()

    def backward(self, grad_out=1.0):
        diff = self._cache("_diff")
        return diff * (2 * grad_out / diff.size)
