"""Elementwise and affine layers with hand-written backward passes.

Notation: x is the input, y = f(x) the output, g = ∂L/∂y the incoming gradient. Each ``backward``
returns ∂L/∂x and accumulates ∂L/∂θ into the parameters. Initialisations follow PyTorch's defaults
(drawn from a NumPy ``Generator`` on the host, so one seed gives the same model on NumPy and CuPy).
"""

from __future__ import annotations

import math

import numpy as np

from optimlab.backend import get_array_module
from optimlab.nn.module import Module, as_generator, new_parameter


def _check_dtype(layer: Module, x, dtype) -> None:
    if x.dtype != dtype:
        raise TypeError(f"{type(layer).__name__} expects input of dtype {dtype} (its parameters'), got {x.dtype}")


class Linear(Module):
    """y = x Wᵀ + b, with W of shape (out, in) as in ``torch.nn.Linear``.

    Backward: ∂L/∂x = g W,  ∂L/∂W = gᵀ x,  ∂L/∂b = Σ g  (sums over all leading axes).
    Init: W, b ~ U(−1/√in, 1/√in) (PyTorch's default).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *, rng, dtype=np.float32):
        rng = as_generator(rng)
        self.in_features, self.out_features = int(in_features), int(out_features)
        bound = 1.0 / math.sqrt(in_features)
        self.weight = new_parameter(rng.uniform(-bound, bound, (out_features, in_features)), dtype, "weight")
        self.bias = new_parameter(rng.uniform(-bound, bound, out_features), dtype, "bias") if bias else None

    def forward(self, x):
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise ValueError(f"Linear expects input with last dimension {self.in_features}, got shape {tuple(x.shape)}")
        _check_dtype(self, x, self.weight.dtype)
        self._x = x.reshape(-1, self.in_features)  # one 2-D matrix product, whatever the leading axes
        y = self._x @ self.weight.data.T
        if self.bias is not None:
            y += self.bias.data
        return y.reshape(*x.shape[:-1], self.out_features)

    def backward(self, grad_out):
        x = self._cache("_x")
        g2d = grad_out.reshape(-1, self.out_features)
        self.weight.accumulate_grad(g2d.T @ x)
        if self.bias is not None:
            self.bias.accumulate_grad(g2d.sum(axis=0))
        return (g2d @ self.weight.data).reshape(*grad_out.shape[:-1], self.in_features)


class ReLU(Module):
    """y = max(x, 0);  ∂L/∂x = g · [x > 0]  (the derivative at 0 taken as 0, as in PyTorch)."""

    def forward(self, x):
        self._mask = x > 0
        return x * self._mask

    def backward(self, grad_out):
        return grad_out * self._cache("_mask")


class Tanh(Module):
    """y = tanh x;  ∂L/∂x = g (1 − y²)."""

    def forward(self, x):
        xp = get_array_module(x)
        self._y = xp.tanh(x)
        return self._y

    def backward(self, grad_out):
        y = self._cache("_y")
        return grad_out * (1 - y * y)


def _erf(x):
    xp = get_array_module(x)
    if xp is np:
        try:
            from scipy.special import erf
        except ImportError as exc:
            raise ImportError("GELU(approximate='none') needs scipy.special.erf: pip install scipy") from exc
    else:
        from cupyx.scipy.special import erf
    return erf(x)


class GELU(Module):
    """GELU, as ``torch.nn.GELU(approximate=...)``.

    ``"none"``: y = x Φ(x), Φ(x) = ½(1 + erf(x/√2));  ∂y/∂x = Φ(x) + x φ(x), φ(x) = e^{−x²/2}/√(2π).
    ``"tanh"``: y = ½ x (1 + tanh u), u = √(2/π)(x + 0.044715 x³);
    ∂y/∂x = ½(1 + tanh u) + ½ x (1 − tanh² u) √(2/π)(1 + 3·0.044715 x²).
    """

    def __init__(self, approximate: str = "none"):
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        xp = get_array_module(x)
        self._x = x
        if self.approximate == "tanh":
            self._t = xp.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))
            return 0.5 * x * (1 + self._t)
        self._cdf = 0.5 * (1 + _erf(x / math.sqrt(2)))
        return x * self._cdf

    def backward(self, grad_out):
        xp = get_array_module(grad_out)
        x = self._cache("_x")
        if self.approximate == "tanh":
            t = self._t
            du_dx = math.sqrt(2 / math.pi) * (1 + 3 * 0.044715 * x * x)
            return grad_out * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du_dx)
        pdf = xp.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
        return grad_out * (self._cdf + x * pdf)


class LayerNorm(Module):
    """Normalise over the last axis: x̂ = (x − μ)/√(σ² + ε) (biased σ²), y = γ x̂ + β.

    Backward, with n the normalised size and ĝ = g γ:
    ∂L/∂x = (ĝ − mean(ĝ) − x̂ · mean(ĝ x̂)) / √(σ² + ε),  ∂L/∂γ = Σ g x̂,  ∂L/∂β = Σ g.
    """

    def __init__(self, normalized_shape: int, eps: float = 1e-5, *, dtype=np.float32):
        if not eps > 0:
            raise ValueError(f"LayerNorm eps must be positive, got {eps!r}")
        self.normalized_shape, self.eps = int(normalized_shape), float(eps)
        self.weight = new_parameter(np.ones(normalized_shape), dtype, "weight")
        self.bias = new_parameter(np.zeros(normalized_shape), dtype, "bias")

    def forward(self, x):
        if x.ndim < 1 or x.shape[-1] != self.normalized_shape:
            raise ValueError(f"LayerNorm expects input with last dimension {self.normalized_shape}, got shape {tuple(x.shape)}")
        _check_dtype(self, x, self.weight.dtype)
        xp = get_array_module(x)
        mean = x.mean(axis=-1, keepdims=True)
        centered = x - mean
        self._rstd = 1 / xp.sqrt((centered * centered).mean(axis=-1, keepdims=True) + self.eps)
        self._xhat = centered * self._rstd
        return self._xhat * self.weight.data + self.bias.data

    def backward(self, grad_out):
        xhat, n = self._cache("_xhat"), self.normalized_shape
        self.weight.accumulate_grad((grad_out * xhat).reshape(-1, n).sum(axis=0))
        self.bias.accumulate_grad(grad_out.reshape(-1, n).sum(axis=0))
        ghat = grad_out * self.weight.data
        return self._rstd * (
            ghat - ghat.mean(axis=-1, keepdims=True) - xhat * (ghat * xhat).mean(axis=-1, keepdims=True)
        )


class Embedding(Module):
    """y = W[i] for integer indices i;  ∂L/∂W[k] = Σ_{positions with i = k} g  (a scatter-add).

    Init: W ~ N(0, init_std²), ``init_std=1`` as in ``torch.nn.Embedding``. Indices get no gradient,
    so ``backward`` returns ``None``.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, *, rng, dtype=np.float32, init_std: float = 1.0):
        rng = as_generator(rng)
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        self.weight = new_parameter(rng.normal(0.0, init_std, (num_embeddings, embedding_dim)), dtype, "weight")

    def forward(self, indices):
        if not np.issubdtype(indices.dtype, np.integer):
            raise TypeError(f"Embedding indices must be integers, got dtype {indices.dtype}")
        if indices.size and (int(indices.min()) < 0 or int(indices.max()) >= self.num_embeddings):
            raise IndexError(
                f"Embedding indices must lie in [0, {self.num_embeddings}), "
                f"got values in [{int(indices.min())}, {int(indices.max())}]"
            )
        self._indices = indices
        return self.weight.data[indices]

    def backward(self, grad_out):
        indices = self._cache("_indices")
        xp = get_array_module(grad_out)
        grad_weight = xp.zeros_like(self.weight.data)
        xp.add.at(grad_weight, indices.reshape(-1), grad_out.reshape(-1, self.embedding_dim))
        self.weight.accumulate_grad(grad_weight)
        return None


class Dropout(Module):
    """Training: y = x · m / (1 − p), m_i ~ Bernoulli(1 − p) drawn from a seeded host ``Generator``;
    evaluation: y = x. ∂L/∂x = g · m / (1 − p) (or g in evaluation)."""

    def __init__(self, p: float = 0.5, *, rng):
        if not 0 <= p < 1:
            raise ValueError(f"Dropout p must be in [0, 1), got {p!r}")
        self.p = float(p)
        self.rng = as_generator(rng)

    def forward(self, x):
        if not self.training or self.p == 0:
            self._scale = 1.0
            return x
        xp = get_array_module(x)
        keep = self.rng.random(x.shape) >= self.p
        self._scale = xp.asarray(keep / (1 - self.p), dtype=x.dtype)
        return x * self._scale

    def backward(self, grad_out):
        return grad_out * self._cache("_scale")


__all__ = ["Linear", "ReLU", "Tanh", "GELU", "LayerNorm", "Embedding", "Dropout"]
