"""Lookahead beyond the oracle runs (``test_oracle_cases``): the synchronisation in closed form for
both conventions, wrapping an optimizer with no state, the state_dict round trip, and bad input."""

import copy
import math
import pickle

import numpy as np
import pytest

from optimlab import Parameter
from optimlab.optim.adam import Adam
from optimlab.optim.lookahead import Lookahead
from optimlab.optim.sgd import SGD


def _constant_gradient_run(slow_start, steps, k=2, alpha=0.5, lr=0.1):
    param = Parameter(np.zeros(1))
    optimizer = Lookahead(SGD([param], lr=lr), k=k, alpha=alpha, slow_start=slow_start)
    for _ in range(steps):
        param.grad = np.ones(1)
        optimizer.step()
    return param.data[0]


def test_sync_points_closed_form():
    """SGD with g = 1, η = 0.1, k = 2, α = 0.5, from θ = 0. Paper/optax: φ₀ = 0, after step 2 θ = −0.2,
    sync → φ = θ = −0.1. torch-optimizer: φ = θ₁ = −0.1 after step 1; step 2, 3 → −0.3, sync → −0.2."""
    assert _constant_gradient_run("initial", 2) == pytest.approx(-0.1, abs=1e-15)
    assert _constant_gradient_run("first_step", 1) == pytest.approx(-0.1, abs=1e-15)
    assert _constant_gradient_run("first_step", 3) == pytest.approx(-0.2, abs=1e-15)
    assert _constant_gradient_run("first_step", 2) == pytest.approx(-0.2, abs=1e-15)  # no sync yet


def test_alpha_one_is_the_inner_optimizer():
    lookahead = _constant_gradient_run("initial", 7, alpha=1.0)
    assert lookahead == pytest.approx(-0.7, abs=1e-15)


def test_wrapping_an_optimizer_with_no_state():
    params = [Parameter(np.ones((2, 2))), Parameter(np.zeros(3))]
    optimizer = Lookahead(SGD(params, lr=0.1), k=3)
    for _ in range(4):
        for p in params:
            p.grad = np.ones(p.shape)
        optimizer.step()
    assert all(optimizer.optimizer.state[p] == {} for p in params)
    assert set(optimizer.state[params[0]]) == {"slow_param"}
    assert optimizer.state_bytes() == 8 * 7


def _trained(steps=3, **kwargs):
    params = [Parameter(np.linspace(-1, 1, 6).reshape(2, 3)), Parameter(np.ones(2))]
    optimizer = Lookahead(Adam(params, lr=0.05), **kwargs)
    for step in range(steps):
        for p in params:
            p.grad = np.cos(p.data + step)
        optimizer.step()
    return optimizer, params


def test_state_dict_round_trip_and_no_aliasing():
    optimizer, params = _trained(k=2, alpha=0.3)
    saved = pickle.loads(pickle.dumps(optimizer.state_dict()))
    snapshot = copy.deepcopy(saved)
    saved_live = optimizer.state_dict()
    saved_live["state"][0]["slow_param"][...] = 99.0
    saved_live["optimizer"]["state"][0]["exp_avg"][...] = 99.0
    assert not np.any(optimizer.state[params[0]]["slow_param"] == 99.0)
    assert not np.any(optimizer.optimizer.state[params[0]]["exp_avg"] == 99.0)

    other, other_params = _trained(steps=1, k=7, alpha=0.9)
    other.load_state_dict(saved)
    assert (other.k, other.alpha, other.step_count) == (2, 0.3, 3)
    for a, b in zip(params, other_params):
        np.testing.assert_array_equal(optimizer.state[a]["slow_param"], other.state[b]["slow_param"])
        np.testing.assert_array_equal(optimizer.optimizer.state[a]["exp_avg"], other.optimizer.state[b]["exp_avg"])
    np.testing.assert_array_equal(saved["state"][0]["slow_param"], snapshot["state"][0]["slow_param"])
    saved["state"][0]["slow_param"][...] = 5.0
    assert not np.any(other.state[other_params[0]]["slow_param"] == 5.0)


def test_bad_state_dict_leaves_the_optimizer_unchanged():
    optimizer, _ = _trained()
    good = optimizer.state_dict()
    target, _ = _trained(steps=1, k=3)
    before = target.state_dict()
    wrong_shape = copy.deepcopy(good)
    wrong_shape["state"][0]["slow_param"] = np.zeros(6)
    unknown = copy.deepcopy(good)
    unknown["state"][5] = {"slow_param": np.zeros(2)}
    bad_k = copy.deepcopy(good)
    bad_k["k"] = 0
    bad_inner = copy.deepcopy(good)
    bad_inner["optimizer"]["param_groups"][0]["lr"] = -1.0
    for broken, fragment in [(wrong_shape, "slow_param"), (unknown, "5"), (bad_k, "k"), (bad_inner, "lr")]:
        with pytest.raises((ValueError, TypeError), match=fragment):
            target.load_state_dict(broken)
        after = target.state_dict()
        assert (after["k"], after["step_count"]) == (before["k"], before["step_count"])
        np.testing.assert_array_equal(after["state"][0]["slow_param"], before["state"][0]["slow_param"])
        assert after["optimizer"]["param_groups"][0]["lr"] == before["optimizer"]["param_groups"][0]["lr"]
    with pytest.raises(TypeError, match="state_dict"):
        target.load_state_dict({"state": {}, "param_groups": []})


@pytest.mark.parametrize("key,value,exc", [
    ("k", 0, ValueError), ("k", -3, ValueError), ("k", 2.5, TypeError), ("k", True, TypeError),
    ("alpha", -0.1, ValueError), ("alpha", 1.5, ValueError), ("alpha", math.nan, ValueError),
    ("alpha", math.inf, ValueError), ("alpha", "0.5", TypeError), ("alpha", None, TypeError),
    ("slow_start", "paper", ValueError),
])
def test_bad_hyperparameters(key, value, exc):
    with pytest.raises(exc, match=key) as excinfo:
        Lookahead(SGD([Parameter(np.ones(2))], lr=0.1), **{key: value})
    assert repr(value) in str(excinfo.value) or str(value) in str(excinfo.value)
    optimizer = Lookahead(SGD([Parameter(np.ones(2))], lr=0.1))
    with pytest.raises(exc, match=key):
        setattr(optimizer, key, value)
    assert (optimizer.k, optimizer.alpha, optimizer.slow_start) == (5, 0.5, "first_step")


def test_wraps_only_optimlab_optimizers():
    with pytest.raises(TypeError, match="Optimizer"):
        Lookahead([Parameter(np.ones(2))])


def test_param_groups_are_the_inner_ones():
    inner = SGD([Parameter(np.ones(2))], lr=0.1)
    optimizer = Lookahead(inner)
    optimizer.param_groups[0]["lr"] = 0.2
    assert inner.param_groups[0]["lr"] == 0.2
