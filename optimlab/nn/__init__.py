"""Small neural-network layers with hand-written backward passes, for the book's experiments.

Every layer follows the ``Module`` protocol: ``y = layer(x)``, then ``layer.backward(∂L/∂y)``
returns ∂L/∂x and accumulates ∂L/∂θ into ``p.grad`` for each ``optimlab.Parameter`` θ.
Each backward is checked against finite differences and against PyTorch autograd in the tests.
"""

from optimlab.nn.attention import CausalSelfAttention
from optimlab.nn.layers import GELU, Dropout, Embedding, LayerNorm, Linear, ReLU, Tanh
from optimlab.nn.losses import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from optimlab.nn.module import Module, Sequential
from optimlab.nn.transformer import TransformerBlock, TransformerLM

__all__ = [
    "Module", "Sequential", "Linear", "ReLU", "Tanh", "GELU", "LayerNorm", "Embedding", "Dropout",
    "CrossEntropyLoss", "BCEWithLogitsLoss", "MSELoss", "CausalSelfAttention", "TransformerBlock", "TransformerLM",
]
