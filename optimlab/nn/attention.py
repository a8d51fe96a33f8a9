"""Multi-head causal self-attention with a hand-written backward pass.

For input x of shape (B, T, C), H heads of size d = C/H:
    [Q, K, V] = x W_qkvᵀ + b_qkv,  split into heads (B, H, T, d)
    S = Q Kᵀ / √d,  S_ij = −∞ for j > i (a position sees only itself and the past)
    A = softmax(S) (over j),  Y = A V,  y = merge(Y) W_projᵀ + b_proj.
Backward, with G = ∂L/∂Y:
    ∂L/∂A = G Vᵀ,  ∂L/∂V = Aᵀ G,  ∂L/∂S = A ⊙ (∂L/∂A − rowsum(∂L/∂A ⊙ A)),
    ∂L/∂Q = ∂L/∂S K / √d,  ∂L/∂K = (∂L/∂S)ᵀ Q / √d.
Masked entries have A = 0, so they pass no gradient. Same maths as
``torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)``.
"""

from __future__ import annotations

import math

import numpy as np

from optimlab.backend import get_array_module
from optimlab.nn.layers import Linear
from optimlab.nn.module import Module, as_generator


class CausalSelfAttention(Module):
    """Causal multi-head self-attention: ``qkv`` = Linear(C, 3C), ``proj`` = Linear(C, C)."""

    def __init__(self, d_model: int, n_heads: int, *, rng, dtype=np.float32):
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        rng = as_generator(rng)
        self.d_model, self.n_heads = int(d_model), int(n_heads)
        self.qkv = Linear(d_model, 3 * d_model, rng=rng, dtype=dtype)
        self.proj = Linear(d_model, d_model, rng=rng, dtype=dtype)

    def _split_heads(self, x):  # (B, T, C) -> (B, H, T, d)
        b, t, c = x.shape
        return x.reshape(b, t, self.n_heads, c // self.n_heads).transpose(0, 2, 1, 3)

    def _merge_heads(self, x):  # (B, H, T, d) -> (B, T, C)
        b, h, t, d = x.shape
        return x.transpose(0, 2, 1, 3).reshape(b, t, h * d)

    def forward(self, x):
        if x.ndim != 3 or x.shape[-1] != self.d_model:
            raise ValueError(f"CausalSelfAttention expects input (batch, time, {self.d_model}), got shape {tuple(x.shape)}")
        xp = get_array_module(x)
        t = x.shape[1]
        q, k, v = (self._split_heads(part) for part in xp.split(self.qkv(x), 3, axis=-1))
        scale = 1 / math.sqrt(self.d_model // self.n_heads)
        scores = (q @ k.transpose(0, 1, 3, 2)) * scale
        future = xp.triu(xp.ones((t, t), dtype=bool), k=1)
        scores = xp.where(future, -xp.inf, scores)
        scores -= scores.max(axis=-1, keepdims=True)
        attn = xp.exp(scores)
        attn /= attn.sum(axis=-1, keepdims=True)
        self._q, self._k, self._v, self._attn, self._scale = q, k, v, attn, scale
        return self.proj(self._merge_heads(attn @ v))

    def backward(self, grad_out):
        attn = self._cache("_attn")
        q, k, v, scale = self._q, self._k, self._v, self._scale
        xp = get_array_module(grad_out)
        grad_y = self._split_heads(self.proj.backward(grad_out))
        grad_attn = grad_y @ v.transpose(0, 1, 3, 2)
        grad_v = attn.transpose(0, 1, 3, 2) @ grad_y
        grad_scores = attn * (grad_attn - (grad_attn * attn).sum(axis=-1, keepdims=True))
        grad_q = (grad_scores @ k) * scale
        grad_k = (grad_scores.transpose(0, 1, 3, 2) @ q) * scale
        grad_qkv = xp.concatenate([self._merge_heads(g) for g in (grad_q, grad_k, grad_v)], axis=-1)
        return self.qkv.backward(grad_qkv)
