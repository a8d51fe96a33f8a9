r"""Adam-mini: Adam with one second-moment scalar per parameter *block* instead of one per element
(Zhang et al., 2024).

For a block :math:`b` of :math:`|b|` elements (its gradient :math:`g_{t,b}`):

.. math::
    \theta_{t-1} &\leftarrow (1-\eta\lambda)\,\theta_{t-1} \\
    m_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t \\
    v_{t,b} &= \beta_2 v_{t-1,b} + (1-\beta_2)\,\tfrac{1}{|b|}\textstyle\sum_{i\in b} g_{t,i}^2 \\
    \theta_{t,i} &= \theta_{t-1,i} - \frac{\eta}{1-\beta_1^t}\,
               \frac{m_{t,i}}{\sqrt{v_{t,b}}/\sqrt{1-\beta_2^t} + \epsilon} \qquad (i \in b)

so the second moment costs one float per block: for a block of one element it is Adam.

Blocks, as the ``adam-mini`` package (v1.1.1) partitions a parameter from its *name* (lower-cased
substring tests, in this order): a name containing ``bias`` is Adam (one block per element); a
query/key name (``q_proj``, ``k_proj``, ``wq``, ``wk``, ``query``, ``key``) has one block per
attention head, :math:`\text{dim}^2/\text{n\_heads}` consecutive elements; an embedding, output,
value, attention-output or MLP name (``embed``, ``embd``, ``wte``, ``lm_head``, ``output``,
``final_layer``, ``v_proj``, ``wv``, ``value``, ``o_proj``, ``wo``, ``attn.proj``, ``feed_forward``,
``linear``, ``mlp``) has one block per row (output neuron or token); **any other parameter, unnamed
ones included, is one block** (the package's default for generic parameters). Weight decay is
decoupled and scaled by the learning rate, and the package turns it off for names containing
``norm``, ``ln`` or ``bias``; so does this class.

Divergences from the package: the state is ``step``, ``m`` and ``vmean`` (shape ``(blocks,)``; the
package's ``vmean`` is a 0-D, ``(rows, 1)`` or ``(heads, 1)`` tensor and Adam blocks call it ``v``);
``dim``/``n_heads`` are validated (the package asserts); nothing is printed. The package's
distributed reductions (model sharding) have no counterpart. Reference: Zhang, Chen, Li, Ding,
Chen, Kingma, Sun, Luo, "Adam-mini: Use Fewer Learning Rates To Gain More" (ICLR 2025).
"""

from __future__ import annotations

import math

from optimlab.backend import get_array_module
from optimlab.kernels import ElementwiseKernel, use_fused
from optimlab.optim.base import Optimizer
from optimlab.optim.hyperparams import betas, integer, learning_rate, nonnegative, optional

EMBEDDING_NAMES = ("embed", "embd", "wte")
OUTPUT_NAMES = ("lm_head", "output", "final_layer")
QUERY_KEY_NAMES = ("k_proj", "q_proj", "wq", "wk", "query", "key")
VALUE_NAMES = ("v_proj", "wv", "value")
ATTENTION_OUT_NAMES = ("o_proj", "wo", "attn.proj")
MLP_NAMES = ("feed_forward", "linear", "mlp")
NO_DECAY_NAMES = ("norm", "ln", "bias")


def adam_mini_blocks(name: str | None, shape: tuple, *, dim: int = 2048, n_heads: int = 32) -> int:
    """The number of blocks of a parameter of this name and shape, as adam-mini partitions it
    (see the module docstring); the blocks are consecutive equal runs of the flattened parameter."""
    size = math.prod(shape)
    name = (name or "").lower()
    if "bias" in name:
        return size
    if any(key in name for key in QUERY_KEY_NAMES):
        head_numel = dim * dim // n_heads
        if size % head_numel:
            raise ValueError(
                f"adam-mini: parameter {name!r} has {size} elements, not a multiple of dim²/n_heads = {head_numel}"
            )
        return size // head_numel
    if any(key in name for key in EMBEDDING_NAMES + OUTPUT_NAMES + VALUE_NAMES + ATTENTION_OUT_NAMES + MLP_NAMES):
        if len(shape) != 2:
            raise ValueError(f"adam-mini: parameter {name!r} takes one block per row and must be 2-D, got {shape}")
        return shape[0]
    return 1


def adam_mini_decays(name: str | None) -> bool:
    """Whether adam-mini applies weight decay to a parameter of this name."""
    return not any(key in (name or "").lower() for key in NO_DECAY_NAMES)


def adam_mini_init(param, *, blocks: int = 1) -> dict:
    """``step`` 0, a zero first moment ``m`` like ``param`` and one zero ``vmean`` per block."""
    xp = get_array_module(param)
    return {"step": 0, "m": xp.zeros_like(param), "vmean": xp.zeros(blocks, dtype=param.dtype)}


def adam_mini_update(param, grad, state, *, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0) -> None:
    """The NumPy/CuPy reference: one Adam-mini step on ``param`` and ``state`` in place."""
    xp = get_array_module(param)
    state["step"] += 1
    t = state["step"]
    vmean, m = state["vmean"], state["m"]
    blocks = vmean.size
    if weight_decay != 0:
        param *= 1 - lr * weight_decay  # θ ← (1 − ηλ)θ
    m += (1 - beta1) * (grad - m)  # m = β₁m + (1 − β₁)g
    block_grad = grad.reshape(blocks, -1)
    vmean *= beta2  # v_b = β₂v_b + (1 − β₂) mean_b(g²)
    vmean += (1 - beta2) * xp.mean(block_grad * block_grad, axis=1)
    denom = xp.sqrt(vmean) / math.sqrt(1 - beta2**t) + eps  # √(v_b/(1 − β₂ᵗ)) + ε
    param.reshape(blocks, -1)[...] -= (lr / (1 - beta1**t)) * (m.reshape(blocks, -1) / denom[:, None])  # θ ← θ − η/(1 − β₁ᵗ)·m/denom


ADAM_MINI_KERNEL = ElementwiseKernel(
    name="adam_mini",
    inputs=("g", "denom"),
    outputs=("p", "m"),
    scalars=("beta1", "decay", "step_size"),
    body="""
C param = (C)p * (C)decay;
C exp_avg = (C)m + (C)(1 - beta1) * ((C)g - (C)m);
m = (T)exp_avg;
p = (T)(param - (C)step_size * (exp_avg / (C)denom));
""",
)


def adam_mini_fused(param, grad, state, *, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0) -> None:
    """The same step with the elementwise part in the fused kernel: the block means of ``g²``
    (a reduction) and the per-block denominators are computed first and broadcast to the elements."""
    xp = get_array_module(param)
    state["step"] += 1
    t = state["step"]
    vmean = state["vmean"]
    block_grad = grad.reshape(vmean.size, -1)
    vmean *= beta2
    vmean += (1 - beta2) * xp.mean(block_grad * block_grad, axis=1)
    denom = xp.sqrt(vmean) / math.sqrt(1 - beta2**t) + eps
    denom = xp.ascontiguousarray(xp.broadcast_to(denom[:, None], block_grad.shape)).reshape(param.shape)
    ADAM_MINI_KERNEL(g=grad, denom=denom, p=param, m=state["m"], beta1=beta1, decay=1 - lr * weight_decay,
                     step_size=lr / (1 - beta1**t))


def adam_mini(param, grad, state, **hyper) -> None:
    """One Adam-mini step: the fused kernel for GPU arrays (see ``kernels.use_fused``), else the reference."""
    (adam_mini_fused if use_fused(param) else adam_mini_update)(param, grad, state, **hyper)


class AdamMini(Optimizer):
    """Adam-mini as the ``adam-mini`` package (see the module docstring for the blocks).

    ``params`` are Parameters (their ``name`` decides the blocks) or ``(name, Parameter)`` pairs,
    like the package's ``named_parameters``; ``dim`` and ``n_heads`` size the query/key heads.
    """

    hyperparameters = {
        "lr": learning_rate,
        "betas": betas,
        "eps": nonnegative,
        "weight_decay": nonnegative,
        "dim": integer(1),
        "n_heads": integer(1),
        "n_kv_heads": optional(integer(1)),
    }

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, *, dim=2048, n_heads=32,
                 n_kv_heads=None):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, dim=dim,
                                      n_heads=n_heads, n_kv_heads=n_kv_heads))

    def _check_group(self, group):
        heads, kv_heads = group.get("n_heads"), group.get("n_kv_heads")
        if heads is not None and kv_heads is not None and heads % kv_heads:
            raise ValueError(f"Invalid n_kv_heads: {kv_heads!r} (must divide n_heads = {heads})")

    def _name(self, param, group) -> str | None:
        names = group.get("param_names")
        return names[group["params"].index(param)] if names else param.name

    def _init_state(self, param, group):
        blocks = adam_mini_blocks(self._name(param, group), tuple(param.shape), dim=group["dim"],
                                  n_heads=group["n_heads"])
        return adam_mini_init(param.data, blocks=blocks)

    def _update(self, param, grad, state, group):
        beta1, beta2 = group["betas"]
        decay = group["weight_decay"] if adam_mini_decays(self._name(param, group)) else 0.0
        adam_mini(param.data, grad, state, lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"],
                  weight_decay=decay)
