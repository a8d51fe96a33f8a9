"""Every layer's backward pass against central finite differences and against torch autograd.

Each case builds a layer in float64, its inputs, and the same computation written with
``torch.nn.functional`` on the same weights. Non-loss layers are reduced to a scalar with fixed
random weights, L = Σ w ⊙ y, so the check covers a full vector-Jacobian product. Loss layers are
back-propagated with a non-unit scale (0.7) to check the ``backward(scale)`` argument as well.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import optimlab.nn as nn
from nn_gradcheck import FD_RTOL, TORCH_RTOL, numerical_grad, rel_err

F64 = np.float64
LOSS_SCALE = 0.7


def _randn(seed, *shape):
    return np.random.default_rng(seed).normal(size=shape)


def _away_from_zero(seed, *shape):
    """Normal samples with |x| ≥ 0.1, so ReLU's kink is never within a finite-difference step."""
    x = _randn(seed, *shape)
    return np.where(np.abs(x) < 0.1, np.sign(x) * 0.1 + x, x)


def _torch_attention(p, x, prefix, n_heads):
    b, t, c = x.shape
    qkv = F.linear(x, p[prefix + "qkv.weight"], p[prefix + "qkv.bias"])
    q, k, v = (z.reshape(b, t, n_heads, c // n_heads).transpose(1, 2) for z in qkv.split(c, dim=-1))
    y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    return F.linear(y.transpose(1, 2).reshape(b, t, c), p[prefix + "proj.weight"], p[prefix + "proj.bias"])


def _torch_block(p, x, prefix, n_heads):
    c = x.shape[-1]
    h = F.layer_norm(x, (c,), p[prefix + "ln1.weight"], p[prefix + "ln1.bias"], 1e-5)
    x = x + _torch_attention(p, h, prefix + "attn.", n_heads)
    h = F.layer_norm(x, (c,), p[prefix + "ln2.weight"], p[prefix + "ln2.bias"], 1e-5)
    h = F.linear(h, p[prefix + "mlp.0.weight"], p[prefix + "mlp.0.bias"])
    h = F.gelu(h, approximate="tanh")
    return x + F.linear(h, p[prefix + "mlp.2.weight"], p[prefix + "mlp.2.bias"])


def _randomise(module, seed):
    """Give every parameter generic values (LayerNorm's γ = 1, β = 0 would hide mistakes)."""
    rng = np.random.default_rng(seed)
    for p in module.parameters():
        p.data[...] = rng.normal(1.0 if p.name == "weight" and p.ndim == 1 else 0.0, 0.5, p.shape)
    return module


def case_linear():
    return nn.Linear(3, 4, rng=1, dtype=F64), [_randn(2, 5, 3)], lambda p, x: F.linear(x, p["weight"], p["bias"])


def case_linear_3d_no_bias():
    layer = nn.Linear(3, 4, bias=False, rng=1, dtype=F64)
    return layer, [_randn(2, 2, 5, 3)], lambda p, x: F.linear(x, p["weight"])


def case_relu():
    return nn.ReLU(), [_away_from_zero(3, 4, 5)], lambda p, x: torch.relu(x)


def case_tanh():
    return nn.Tanh(), [_randn(3, 4, 5)], lambda p, x: torch.tanh(x)


def case_gelu_erf():
    return nn.GELU(), [_randn(4, 4, 5) * 2], lambda p, x: F.gelu(x, approximate="none")


def case_gelu_tanh():
    return nn.GELU("tanh"), [_randn(4, 4, 5) * 2], lambda p, x: F.gelu(x, approximate="tanh")


def case_layernorm():
    layer = _randomise(nn.LayerNorm(6, dtype=F64), 5)
    return layer, [_randn(6, 2, 4, 6) * 3 + 1], lambda p, x: F.layer_norm(x, (6,), p["weight"], p["bias"], 1e-5)


def case_embedding():
    indices = np.array([[0, 3, 3, 6, 1], [2, 3, 0, 0, 5]])  # repeats exercise the scatter-add
    return nn.Embedding(7, 3, rng=7, dtype=F64), [indices], lambda p, i: F.embedding(i, p["weight"])


def case_dropout():
    layer = nn.Dropout(0.3, rng=8)
    x = _randn(9, 6, 7)
    mask_seed = 8

    def reset():  # the same mask on every forward, so finite differences see one function
        layer.rng = np.random.default_rng(mask_seed)

    reset()
    keep = np.random.default_rng(mask_seed).random(x.shape) >= 0.3  # independent re-draw of the mask
    return layer, [x], lambda p, x: x * torch.from_numpy(keep) / 0.7, reset


def case_cross_entropy():
    targets = np.array([[0, 4, 2], [1, 1, 3]])
    return nn.CrossEntropyLoss(), [_randn(10, 2, 3, 5) * 2, targets], lambda p, z, t: F.cross_entropy(z.reshape(-1, 5), t.reshape(-1))


def case_bce_with_logits():
    targets = np.random.default_rng(23).random((4, 3))  # soft targets in [0, 1]
    logits = _randn(24, 4, 3) * 3
    return nn.BCEWithLogitsLoss(), [logits, targets], lambda p, z, y: F.binary_cross_entropy_with_logits(z, y)


def case_mse():
    return nn.MSELoss(), [_randn(11, 4, 3), _randn(12, 4, 3)], lambda p, y, t: F.mse_loss(y, t)


def case_sequential():
    rng = np.random.default_rng(13)
    model = nn.Sequential(nn.Linear(4, 6, rng=rng, dtype=F64), nn.Tanh(), nn.Linear(6, 2, rng=rng, dtype=F64))

    def torch_fn(p, x):
        return F.linear(torch.tanh(F.linear(x, p["0.weight"], p["0.bias"])), p["2.weight"], p["2.bias"])

    return model, [_randn(14, 5, 4)], torch_fn


def case_attention():
    layer = nn.CausalSelfAttention(8, 2, rng=15, dtype=F64)
    return layer, [_randn(16, 2, 5, 8)], lambda p, x: _torch_attention(p, x, "", 2)


def case_transformer_block():
    block = _randomise(nn.TransformerBlock(8, 2, rng=17, dtype=F64), 18)
    return block, [_randn(19, 2, 4, 8)], lambda p, x: _torch_block(p, x, "", 2)


def case_transformer_lm():
    model = _randomise(nn.TransformerLM(11, 5, 8, 2, 2, rng=20, dtype=F64), 21)
    indices = np.random.default_rng(22).integers(0, 11, (2, 5))

    def torch_fn(p, i):
        x = F.embedding(i, p["tok_emb.weight"]) + p["pos_emb.weight"][: i.shape[1]]
        for layer in range(2):
            x = _torch_block(p, x, f"blocks.{layer}.", 2)
        x = F.layer_norm(x, (8,), p["ln_f.weight"], p["ln_f.bias"], 1e-5)
        return F.linear(x, p["head.weight"], p["head.bias"])

    return model, [indices], torch_fn


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}


def _setup(case_fn):
    built = case_fn()
    module, inputs, torch_fn = built[:3]
    prepare = built[3] if len(built) > 3 else (lambda: None)
    return module, inputs, torch_fn, prepare


def _is_loss(module):
    return isinstance(module, (nn.CrossEntropyLoss, nn.BCEWithLogitsLoss, nn.MSELoss))


def _output_weights(module, inputs, prepare):
    """The fixed w of L = Σ w ⊙ y (None for a loss, whose output is already the scalar L)."""
    if _is_loss(module):
        return None
    prepare()
    return np.random.default_rng(99).normal(size=module(*inputs).shape)


def _objective(module, inputs, prepare, weights):
    prepare()
    out = module(*inputs)
    return float(LOSS_SCALE * out) if weights is None else float(np.sum(weights * out))


def _analytic(module, inputs, prepare, weights):
    """Our forward + backward: (∂L/∂first input or None, {name: ∂L/∂θ})."""
    module.zero_grad()
    prepare()
    module(*inputs)
    grad_in = module.backward(LOSS_SCALE if weights is None else weights)
    return grad_in, {name: p.grad for name, p in module.named_parameters()}


def _differentiable_input(inputs):
    x = inputs[0]
    return x if np.issubdtype(x.dtype, np.floating) else None


@pytest.mark.parametrize("name", sorted(CASES))
def test_backward_matches_finite_differences(name):
    module, inputs, _, prepare = _setup(CASES[name])
    weights = _output_weights(module, inputs, prepare)
    grad_in, grads = _analytic(module, inputs, prepare, weights)

    def objective():
        return _objective(module, inputs, prepare, weights)

    x = _differentiable_input(inputs)
    if x is not None:
        assert rel_err(grad_in, numerical_grad(objective, x)) <= FD_RTOL
    else:
        assert grad_in is None
    for pname, p in module.named_parameters():
        assert rel_err(grads[pname], numerical_grad(objective, p.data)) <= FD_RTOL, pname


@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_and_backward_match_torch_autograd(name):
    module, inputs, torch_fn, prepare = _setup(CASES[name])
    weights = _output_weights(module, inputs, prepare)
    grad_in, grads = _analytic(module, inputs, prepare, weights)
    prepare()
    ours = module(*inputs)

    params = {n: torch.tensor(p.data, requires_grad=True) for n, p in module.named_parameters()}
    tensors = [torch.tensor(a, requires_grad=np.issubdtype(a.dtype, np.floating)) for a in inputs]
    out = torch_fn(params, *tensors)
    assert rel_err(ours, out.detach().numpy()) <= TORCH_RTOL
    loss = LOSS_SCALE * out if weights is None else (torch.from_numpy(weights) * out).sum()
    loss.backward()

    if _differentiable_input(inputs) is not None:
        assert rel_err(grad_in, tensors[0].grad.numpy()) <= TORCH_RTOL
    assert set(grads) == set(params)
    for pname, tp in params.items():
        assert rel_err(grads[pname], tp.grad.numpy()) <= TORCH_RTOL, pname


def test_every_layer_has_a_case():
    covered = {type(_setup(fn)[0]).__name__ for fn in CASES.values()}
    assert set(nn.__all__) - {"Module"} <= covered
