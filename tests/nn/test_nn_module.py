"""The Module protocol: naming, accumulation, never writing into caller arrays, modes, dtypes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import optimlab.nn as nn
from optimlab.parameter import Parameter


def _mlp(dtype=np.float64):
    rng = np.random.default_rng(0)
    return nn.Sequential(nn.Linear(4, 5, rng=rng, dtype=dtype), nn.ReLU(), nn.Dropout(0.5, rng=1),
                         nn.Linear(5, 3, rng=rng, dtype=dtype))


def test_parameter_names_follow_torch():
    ours = [n for n, _ in _mlp().named_parameters()]
    reference = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.ReLU(), torch.nn.Dropout(0.5), torch.nn.Linear(5, 3))
    assert ours == [n for n, _ in reference.named_parameters()]
    assert all(isinstance(p, Parameter) for p in _mlp().parameters())


def test_transformer_parameter_count_matches_formula():
    v, t, c, layers = 11, 7, 8, 3
    model = nn.TransformerLM(v, t, c, 2, layers, rng=0)
    per_block = 2 * 2 * c + (3 * c * c + 3 * c) + (c * c + c) + (4 * c * c + 4 * c) + (4 * c * c + c)
    expected = v * c + t * c + layers * per_block + 2 * c + (c * v + v)
    assert sum(p.size for p in model.parameters()) == expected


def test_same_seed_same_model_different_seed_different_model():
    a, b, c = (nn.TransformerLM(11, 5, 8, 2, 1, rng=s) for s in (3, 3, 4))
    for pa, pb, pc in zip(a.parameters(), b.parameters(), c.parameters()):
        np.testing.assert_array_equal(pa.data, pb.data)
    assert not np.array_equal(a.head.weight.data, c.head.weight.data)


def test_linear_init_matches_torch_default_bounds():
    layer = nn.Linear(100, 50, rng=0, dtype=np.float64)
    bound = 1 / np.sqrt(100)  # torch.nn.Linear: kaiming_uniform(a=√5) ⇒ U(−1/√in, 1/√in)
    assert np.abs(layer.weight.data).max() <= bound and np.abs(layer.weight.data).max() > 0.95 * bound


def test_backward_accumulates_and_leaves_inputs_and_caller_grads_alone():
    model = _mlp().eval()
    x = np.random.default_rng(1).normal(size=(6, 4))
    g = np.random.default_rng(2).normal(size=(6, 3))
    x0, g0 = x.copy(), g.copy()
    model(x)
    model.backward(g)
    once = [p.grad.copy() for p in model.parameters()]
    callers = [np.full(p.shape, 0.5) for p in model.parameters()]
    for p, c in zip(model.parameters(), callers):
        p.grad = c  # the caller's own array
    model(x)
    model.backward(g)
    for p, c, first in zip(model.parameters(), callers, once):
        np.testing.assert_array_equal(c, 0.5)  # not written into
        np.testing.assert_allclose(p.grad, first + 0.5, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(g, g0)
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_train_eval_reaches_nested_dropout():
    model = _mlp()
    x = np.ones((50, 4))
    model.eval()
    assert not model[2].training
    np.testing.assert_array_equal(model(x), model(x))  # no dropout in eval
    model.train()
    assert model[2].training
    assert not np.array_equal(model(x), model(x))  # a fresh mask each call


def test_dropout_is_seeded_keeps_the_expected_fraction_and_scales():
    x = np.ones((200, 100))
    a, b = nn.Dropout(0.25, rng=5), nn.Dropout(0.25, rng=5)
    ya = a(x)
    np.testing.assert_array_equal(ya, b(x))
    kept = ya != 0
    np.testing.assert_allclose(ya[kept], 1 / 0.75, rtol=1e-15)
    # 20000 Bernoulli(0.75) draws: std of the kept fraction is 0.003, allow 5 sigma
    assert abs(kept.mean() - 0.75) < 0.015


def test_float32_model_keeps_float32_everywhere():
    model = nn.TransformerLM(11, 5, 8, 2, 1, rng=0)
    loss_fn = nn.CrossEntropyLoss()
    idx = np.random.default_rng(0).integers(0, 11, (2, 5))
    logits = model(idx)
    assert logits.dtype == np.float32
    loss_fn(logits, idx)
    model.backward(loss_fn.backward())
    assert {p.grad.dtype for p in model.parameters()} == {np.dtype(np.float32)}


def test_backward_before_forward_is_a_clear_error():
    with pytest.raises(RuntimeError, match="Linear.backward called before forward"):
        nn.Linear(2, 2, rng=0).backward(np.ones((1, 2), np.float32))
