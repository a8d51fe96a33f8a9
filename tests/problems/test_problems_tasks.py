"""Real tasks: gradients against torch autograd, determinism, data handling, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from optimlab.problems import BreastCancerLogistic, DigitsMLP, StdlibCharLM
from optimlab.problems.charlm import UNKNOWN, VOCAB_SIZE, decode, encode, stdlib_corpus
from optimlab.problems.task import split_indices, standardize


def _rel(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))) / np.max(np.abs(b)))


def _grads(task):
    return {n: p.grad.copy() for n, p in task.model.named_parameters()}


def _torch_params(task):
    return {n: torch.tensor(p.data, requires_grad=True) for n, p in task.model.named_parameters()}


def test_logistic_loss_and_grad_match_torch_with_l2():
    task = BreastCancerLogistic(seed=1, l2=0.1)
    x, y = task.next_batch()
    loss = task.loss_and_grad((x, y))
    p = _torch_params(task)
    ref = F.binary_cross_entropy_with_logits(F.linear(torch.from_numpy(x), p["weight"], p["bias"]), torch.from_numpy(y))
    ref = ref + 0.05 * (p["weight"] ** 2).sum()
    ref.backward()
    assert loss == pytest.approx(ref.item(), rel=1e-12)
    for name, g in _grads(task).items():
        assert _rel(g, p[name].grad.numpy()) < 1e-10, name


def test_digits_full_batch_loss_and_grad_match_torch():
    task = DigitsMLP(seed=2, dtype=np.float64)
    loss = task.loss_and_grad()
    p = _torch_params(task)
    h = torch.relu(F.linear(torch.from_numpy(task.x_train), p["0.weight"], p["0.bias"]))
    ref = F.cross_entropy(F.linear(h, p["2.weight"], p["2.bias"]), torch.from_numpy(task.y_train))
    ref.backward()
    assert loss == pytest.approx(ref.item(), rel=1e-12)
    for name, g in _grads(task).items():
        assert _rel(g, p[name].grad.numpy()) < 1e-10, name


def test_loss_scale_scales_the_gradient_not_the_loss_and_micro_batches_sum_to_the_batch():
    task = DigitsMLP(seed=3, dtype=np.float64)
    x, y = task.next_batch()
    full_loss = task.loss_and_grad((x, y))
    full = _grads(task)
    task.model.zero_grad()
    assert task.loss_and_grad((x, y), loss_scale=8.0) == full_loss
    for name, g in _grads(task).items():
        np.testing.assert_allclose(g, 8.0 * full[name], rtol=1e-14, atol=0)
    task.model.zero_grad()
    half = len(x) // 2  # two equal micro-batches, each loss scaled by 1/2: the mean over the batch
    task.loss_and_grad((x[:half], y[:half]), loss_scale=0.5)
    task.loss_and_grad((x[half:], y[half:]), loss_scale=0.5)
    for name, g in _grads(task).items():
        assert _rel(g, full[name]) < 1e-12, name


def test_same_seed_same_run_different_seed_different_run():
    def fingerprint(seed):
        task = DigitsMLP(seed=seed)
        xb, yb = task.next_batch()
        return task.x_test[:3].copy(), task.model[0].weight.data.copy(), xb, yb

    a, b, c = fingerprint(5), fingerprint(5), fingerprint(6)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not any(np.array_equal(u, w) for u, w in zip(a, c))


def test_split_and_standardize():
    train, test = split_indices(101, 0.25, np.random.default_rng(0))
    assert len(test) == 25 and len(train) == 76
    np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(101))
    x = np.random.default_rng(1).normal(3.0, 2.0, (50, 4))
    x[:, 2] = 7.0  # a constant feature is centred, not divided by zero
    tr, te = standardize(x[:40], x[40:])
    np.testing.assert_allclose(tr.mean(axis=0), 0, atol=1e-14)
    np.testing.assert_allclose(tr.std(axis=0), [1, 1, 0, 1], rtol=1e-12)
    np.testing.assert_allclose(te, (x[40:] - x[:40].mean(0)) / np.where(x[:40].std(0) > 0, x[:40].std(0), 1))


def test_task_sizes_and_evaluate():
    task = DigitsMLP(seed=0)
    assert len(task.x_train) + len(task.x_test) == 1797 and len(task.x_test) == 449
    assert task.x_train.dtype == np.float32 and task.y_train.dtype == np.int64
    task.model.train()
    result = task.evaluate()
    assert task.model.training  # mode restored
    assert set(result) == {"loss", "accuracy"}
    # an untrained 10-class model: loss near ln 10, accuracy near chance (wide bounds: random weights)
    assert 1.5 < result["loss"] < 3.5 and result["accuracy"] < 0.4
    cancer = BreastCancerLogistic(seed=0)
    assert len(cancer.x_train) + len(cancer.x_test) == 569 and cancer.x_train.shape[1] == 30


def test_nan_in_a_batch_is_named():
    task = DigitsMLP(seed=0)
    x, y = task.next_batch()
    x[3, 5] = np.nan
    with pytest.raises(ValueError, match="batch inputs contains NaN or infinity"):
        task.loss_and_grad((x, y))
    assert all(p.grad is None for p in task.parameters())  # nothing was back-propagated


def test_bad_task_arguments():
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        DigitsMLP(batch_size=0)
    with pytest.raises(ValueError, match=r"test_fraction must be in \(0, 1\), got 1.5"):
        DigitsMLP(test_fraction=1.5)
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        DigitsMLP(seed=-1)
    with pytest.raises(ValueError, match="l2 must be non-negative"):
        BreastCancerLogistic(l2=-1.0)
    with pytest.raises(ValueError, match="split must be 'test' or 'train'"):
        DigitsMLP().evaluate("val")


def test_char_vocabulary_round_trip():
    text = "def f(x):\n    return x ** 2  # ok ~\n"
    tokens = encode(text)
    assert tokens.dtype == np.int64 and tokens.max() < VOCAB_SIZE == 97
    assert decode(tokens) == text
    np.testing.assert_array_equal(encode("\té€"), [UNKNOWN] * 3)


def test_char_corpus_is_deterministic_and_split_per_file():
    train, val = stdlib_corpus()
    train2, val2 = stdlib_corpus()
    np.testing.assert_array_equal(train, train2)
    np.testing.assert_array_equal(val, val2)
    assert 0.09 < len(val) / (len(train) + len(val)) < 0.11
    one_train, one_val = stdlib_corpus(("textwrap.py",))
    import sysconfig
    import os
    with open(os.path.join(sysconfig.get_paths()["stdlib"], "textwrap.py"), encoding="utf-8") as f:
        text = f.read()
    assert decode(one_train) + decode(one_val) == text.replace("\t", "?")


def test_char_batches_are_shifted_windows_and_loss_matches_torch():
    task = StdlibCharLM(seed=0, block_size=16, batch_size=4, d_model=16, n_heads=2, n_layers=1, dtype=np.float64)
    x, y = task.next_batch()
    assert x.shape == y.shape == (4, 16)
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])
    loss = task.loss_and_grad((x, y))
    logits = torch.from_numpy(task.model(x))
    assert loss == pytest.approx(F.cross_entropy(logits.reshape(-1, VOCAB_SIZE), torch.from_numpy(y).reshape(-1)).item(), rel=1e-12)
    # small initial weights: the first prediction is close to uniform, loss ≈ ln 97 = 4.57
    assert abs(task.evaluate()["loss"] - np.log(97)) < 0.3
