"""Clipping and norms against torch.nn.utils (float64), accumulation against the full-batch gradient,
the non-finite guard against an untouched copy."""

import copy
import math

import numpy as np
import pytest
import torch

from optimlab import Parameter
from optimlab.nn import Linear, MSELoss, Sequential, Tanh
from optimlab.optim import SGD, Adam
from optimlab.training import (accumulate_gradients, clip_grad_norm_, clip_grad_value_, get_total_norm,
                               global_grad_norm, guarded_step, split_batch, step_if_finite)

# float64 throughout: the same sums in a different order differ by a few ulps, far below 1e-12.
TOL = 1e-12
SHAPES = [(3, 4), (5,), (2, 3, 2), ()]


def make_pair(seed=0, scale=1.0, with_none=True):
    """The same gradients as optimlab Parameters and as torch tensors (the last one without a gradient)."""
    rng = np.random.default_rng(seed)
    grads = [np.asarray(rng.normal(size=s) * scale) for s in SHAPES]
    ours = [Parameter(np.zeros(s)) for s in SHAPES] + ([Parameter(np.zeros(2))] if with_none else [])
    theirs = [torch.zeros(s, dtype=torch.float64, requires_grad=True) for s in SHAPES]
    for p, t, g in zip(ours, theirs, grads):
        p.grad = g
        t.grad = torch.tensor(g)
    if with_none:
        theirs.append(torch.zeros(2, dtype=torch.float64, requires_grad=True))
    return ours, theirs, grads


def assert_grads_match(ours, theirs):
    for p, t in zip(ours, theirs):
        if t.grad is None:
            assert p.grad is None
        else:
            np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=TOL, atol=0)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.5, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    ours, theirs, grads = make_pair()
    total = clip_grad_norm_(ours, max_norm, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert total == pytest.approx(float(expected), rel=TOL, abs=0)
    assert_grads_match(ours, theirs)
    for g, original in zip(grads, make_pair()[2]):
        np.testing.assert_array_equal(g, original)  # the caller's gradient arrays are untouched


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf])
def test_total_norm_matches_torch(norm_type):
    ours, theirs, grads = make_pair(seed=3)
    expected = float(torch.nn.utils.get_total_norm([t.grad for t in theirs if t.grad is not None], norm_type))
    assert get_total_norm(grads, norm_type) == pytest.approx(expected, rel=TOL, abs=0)
    assert global_grad_norm(ours, norm_type) == pytest.approx(expected, rel=TOL, abs=0)


@pytest.mark.filterwarnings("ignore:invalid value encountered in multiply")
def test_clip_grad_norm_with_nonfinite_gradient_matches_torch():
    ours, theirs, _ = make_pair(seed=1)
    ours[0].grad = ours[0].grad.copy()
    ours[0].grad[0, 0] = np.inf
    theirs[0].grad[0, 0] = math.inf
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError):
        torch.nn.utils.clip_grad_norm_(theirs, 1.0, error_if_nonfinite=True)
    # Without the error, torch multiplies by max_norm / inf = 0 (and inf · 0 = NaN): so do we.
    assert clip_grad_norm_(ours, 1.0) == float(torch.nn.utils.clip_grad_norm_(theirs, 1.0)) == math.inf
    for p, t in zip(ours, theirs):
        if t.grad is not None:
            np.testing.assert_array_equal(p.grad, t.grad.numpy())


def test_clip_grad_value_matches_torch():
    ours, theirs, grads = make_pair(seed=2)
    clip_grad_value_(ours, 0.7)
    torch.nn.utils.clip_grad_value_(theirs, 0.7)
    assert_grads_match(ours, theirs)
    assert np.abs(grads[0]).max() > 0.7  # the caller's array still holds the unclipped values


def test_clip_works_on_the_backend(xp):
    p = Parameter(xp.zeros(4))
    p.grad = xp.asarray([3.0, 4.0, 0.0, 0.0])
    assert clip_grad_norm_([p], 1.0) == pytest.approx(5.0, rel=TOL)
    np.testing.assert_allclose(xp.asnumpy(p.grad) if xp is not np else p.grad,
                               np.array([3.0, 4.0, 0, 0]) / (5.0 + 1e-6), rtol=TOL)


@pytest.mark.parametrize("bad", [0, -1.0, math.nan, math.inf])
def test_clipping_rejects_nonpositive_bounds(bad):
    p = Parameter(np.zeros(2))
    p.grad = np.ones(2)
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm_([p], bad)
    with pytest.raises(ValueError, match="clip_value"):
        clip_grad_value_([p], bad)
    np.testing.assert_array_equal(p.grad, np.ones(2))


def test_bad_norm_type_and_types():
    p = Parameter(np.zeros(2))
    p.grad = np.ones(2)
    with pytest.raises(ValueError, match="norm_type"):
        clip_grad_norm_([p], 1.0, norm_type=0)
    with pytest.raises(TypeError, match="max_norm"):
        clip_grad_norm_([p], "1")
    with pytest.raises(TypeError, match="Parameter"):
        clip_grad_norm_([np.ones(2)], 1.0)


def test_mismatched_gradient_shape_is_rejected():
    p = Parameter(np.zeros((2, 3)), name="w")
    with pytest.raises(ValueError, match=r"'w'.*\(3, 2\).*\(2, 3\)"):
        p.grad = np.zeros((3, 2))


# -- accumulation ------------------------------------------------------------------------------------

def mlp_task(seed=0):
    rng = np.random.default_rng(seed)
    model = Sequential(Linear(5, 7, rng=rng, dtype=np.float64), Tanh(), Linear(7, 2, rng=rng, dtype=np.float64))
    loss_fn = MSELoss()
    x, y = rng.normal(size=(24, 5)), rng.normal(size=(24, 2))

    def loss_and_grad(batch, loss_scale=1.0):
        xb, yb = batch
        loss = loss_fn(model(xb), yb)
        model.backward(loss_fn.backward(loss_scale))
        return float(loss)

    return model, loss_and_grad, (x, y)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 6, 24])
def test_mean_accumulation_equals_full_batch_gradient(k):
    model, loss_and_grad, batch = mlp_task()
    full_loss = loss_and_grad(batch)
    full = [p.grad.copy() for p in model.parameters()]
    model.zero_grad()
    loss = accumulate_gradients(loss_and_grad, split_batch(batch, k), "mean")
    assert loss == pytest.approx(full_loss, rel=TOL)
    for p, g in zip(model.parameters(), full):
        np.testing.assert_allclose(p.grad, g, rtol=TOL, atol=TOL * np.abs(g).max())


def test_sum_accumulation_is_k_times_the_mean():
    model, loss_and_grad, batch = mlp_task(seed=1)
    loss_and_grad(batch)
    full = [p.grad.copy() for p in model.parameters()]
    model.zero_grad()
    accumulate_gradients(loss_and_grad, split_batch(batch, 4), "sum", loss_scale=2.0)
    for p, g in zip(model.parameters(), full):
        np.testing.assert_allclose(p.grad, 8.0 * g, rtol=TOL, atol=TOL * np.abs(g).max())


def test_split_batch_views_and_bad_steps():
    x, y = np.arange(12.0).reshape(6, 2), np.arange(6)
    parts = split_batch((x, y), 3)
    assert [tuple(b.tolist()) for _, b in parts] == [(0, 1), (2, 3), (4, 5)]
    assert [len(a) for a in split_batch(x, 2)] == [3, 3]
    with pytest.raises(ValueError, match="accumulation_steps must be at least 1, got 0"):
        split_batch(x, 0)
    with pytest.raises(TypeError, match="accumulation_steps"):
        split_batch(x, 2.0)
    with pytest.raises(ValueError, match="batch size 6 is not divisible by accumulation_steps=4"):
        split_batch(x, 4)
    with pytest.raises(ValueError, match="reduction"):
        accumulate_gradients(lambda b, s: 0.0, [x], "max")
    with pytest.raises(ValueError, match="empty"):
        accumulate_gradients(lambda b, s: 0.0, [], "mean")


# -- non-finite guard --------------------------------------------------------------------------------

def adam_after_steps(n=3):
    rng = np.random.default_rng(4)
    params = [Parameter(rng.normal(size=(3, 2))), Parameter(rng.normal(size=4))]
    opt = Adam(params, lr=0.1)
    for _ in range(n):
        for p in params:
            p.grad = rng.normal(size=p.shape)
        opt.step()
    return params, opt


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_step_if_finite_skips_and_leaves_everything_untouched(bad):
    params, opt = adam_after_steps()
    before_params = [p.data.copy() for p in params]
    before_state = copy.deepcopy(opt.state_dict())
    params[1].grad = np.array([0.0, bad, 1.0, 2.0])
    assert step_if_finite(opt) is False
    for p, b in zip(params, before_params):
        np.testing.assert_array_equal(p.data, b)
    after = opt.state_dict()
    assert after["step_count"] == before_state["step_count"] == 3
    for i, entries in before_state["state"].items():
        assert after["state"][i]["step"] == entries["step"]
        np.testing.assert_array_equal(after["state"][i]["exp_avg"], entries["exp_avg"])
        np.testing.assert_array_equal(after["state"][i]["exp_avg_sq"], entries["exp_avg_sq"])


def test_step_if_finite_steps_like_step():
    params, opt = adam_after_steps()
    twin_params, twin = adam_after_steps()
    for p, q in zip(params, twin_params):
        p.grad = q.grad = np.full(p.shape, 0.5)
    assert step_if_finite(opt) is True
    twin.step()
    for p, q in zip(params, twin_params):
        np.testing.assert_array_equal(p.data, q.data)
    assert opt.step_count == twin.step_count == 4


def test_guarded_step_clips_then_steps():
    p = Parameter(np.zeros(2))
    p.grad = np.array([3.0, 4.0])
    result = guarded_step(SGD([p], lr=1.0), max_grad_norm=1.0)
    assert result.stepped and result.grad_norm == pytest.approx(5.0, rel=TOL)
    np.testing.assert_allclose(p.data, -np.array([3.0, 4.0]) / (5.0 + 1e-6), rtol=TOL)
    p.grad = np.array([np.nan, 1.0])
    result = guarded_step(SGD([p], lr=1.0), max_grad_norm=1.0)
    assert not result.stepped and math.isnan(result.grad_norm)
    with pytest.raises(ValueError, match="max_grad_norm"):
        guarded_step(SGD([p], lr=1.0), max_grad_norm=-1.0)
