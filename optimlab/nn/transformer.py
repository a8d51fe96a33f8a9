"""A tiny pre-LayerNorm transformer (GPT-2 layout) built from the layers above.

Block:  x ← x + attn(ln1(x)),  x ← x + mlp(ln2(x)),  mlp = Linear(C, 4C) → GELU(tanh) → Linear(4C, C).
A residual connection copies the gradient: ∂L/∂x = g + ∂L/∂x through the branch.
"""

from __future__ import annotations

import numpy as np

from optimlab.backend import get_array_module
from optimlab.nn.attention import CausalSelfAttention
from optimlab.nn.layers import GELU, Embedding, LayerNorm, Linear
from optimlab.nn.module import Module, Sequential, as_generator


class TransformerBlock(Module):
    """One pre-LN transformer block on inputs of shape (batch, time, d_model)."""

    def __init__(self, d_model: int, n_heads: int, *, rng, dtype=np.float32):
        rng = as_generator(rng)
        self.ln1 = LayerNorm(d_model, dtype=dtype)
        self.attn = CausalSelfAttention(d_model, n_heads, rng=rng, dtype=dtype)
        self.ln2 = LayerNorm(d_model, dtype=dtype)
        self.mlp = Sequential(
            Linear(d_model, 4 * d_model, rng=rng, dtype=dtype),
            GELU(approximate="tanh"),
            Linear(4 * d_model, d_model, rng=rng, dtype=dtype),
        )

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))

    def backward(self, grad_out):
        grad = grad_out + self.ln2.backward(self.mlp.backward(grad_out))
        return grad + self.ln1.backward(self.attn.backward(grad))


class TransformerLM(Module):
    """Decoder-only language model: token + position embeddings, ``n_layers`` blocks, a final
    LayerNorm and a linear head to ``vocab_size`` logits. ``forward(indices)`` maps (B, T) integer
    tokens, T ≤ ``block_size``, to (B, T, vocab_size) logits; ``backward`` returns ``None``."""

    def __init__(self, vocab_size: int, block_size: int, d_model: int, n_heads: int, n_layers: int,
                 *, rng, dtype=np.float32, embedding_std: float = 0.02):
        rng = as_generator(rng)
        self.block_size = int(block_size)
        self.tok_emb = Embedding(vocab_size, d_model, rng=rng, dtype=dtype, init_std=embedding_std)
        self.pos_emb = Embedding(block_size, d_model, rng=rng, dtype=dtype, init_std=embedding_std)
        self.blocks = Sequential(*(TransformerBlock(d_model, n_heads, rng=rng, dtype=dtype) for _ in range(n_layers)))
        self.ln_f = LayerNorm(d_model, dtype=dtype)
        self.head = Linear(d_model, vocab_size, rng=rng, dtype=dtype)

    def forward(self, indices):
        if indices.ndim != 2 or indices.shape[1] > self.block_size:
            raise ValueError(
                f"TransformerLM expects token indices of shape (batch, time ≤ {self.block_size}), got {tuple(indices.shape)}"
            )
        xp = get_array_module(indices)
        x = self.tok_emb(indices) + self.pos_emb(xp.arange(indices.shape[1]))
        return self.head(self.ln_f(self.blocks(x)))

    def backward(self, grad_out):
        grad = self.blocks.backward(self.ln_f.backward(self.head.backward(grad_out)))
        self.tok_emb.backward(grad)
        self.pos_emb.backward(grad.sum(axis=0))
        return None
