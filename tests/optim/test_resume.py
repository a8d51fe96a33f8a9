"""Resume through a pickle round trip of ``state_dict()`` at steps 0, 1, N/2 and N−1 gives bit-identical
parameters and state; ``state_dict`` never aliases live state; ``load_state_dict`` checks everything
at load time and never mutates its argument; no optimizer writes into the caller's gradient."""

import copy
import pickle

import numpy as np
import pytest

import optimlab.optim as optim
from optimlab import Parameter
from optimlab.verify.parity import TrajectoryProblem
from optimlab.verify.oracle_cases import oracle_cases
from optimlab.verify.side_by_side import SIDE_BY_SIDE
from optimlab.verify.torch_cases import torch_cases

# every torch twin, and every optimizer checked against another oracle (those run side by side with
# runner arguments are resumed in their own modules: test_sophia.py, test_adam_mini.py, test_shampoo.py)
CASES = torch_cases() + [case for case in oracle_cases() if case.name not in SIDE_BY_SIDE]
N = 10


def _run(optimizer, params, problem, steps, start=0):
    for step in range(start, start + steps):

        def closure(step=step):
            values = [p.data for p in params]
            for p, g in zip(params, problem.grads(values, step)):
                p.grad = g
            return problem.loss(values, step)

        optimizer.step(closure)


def _assert_same_state(a, b):
    assert set(a) == set(b)
    for key in a:
        if isinstance(a[key], np.ndarray):
            assert a[key].dtype == b[key].dtype and np.array_equal(a[key], b[key]), key
        else:
            assert a[key] == b[key], key


@pytest.mark.parametrize("resume_at", [0, 1, N // 2, N - 1])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_resume_is_bit_identical(case, resume_at):
    problem = TrajectoryProblem(seed=1, shapes=case.shapes)
    straight_params = [Parameter(x.copy()) for x in problem.initial]
    straight = case.ours(straight_params, **case.config)
    _run(straight, straight_params, problem, N)

    first_params = [Parameter(x.copy()) for x in problem.initial]
    first = case.ours(first_params, **case.config)
    _run(first, first_params, problem, resume_at)
    blob = pickle.dumps((first.state_dict(), [p.data for p in first_params]))
    del first, first_params

    saved, values = pickle.loads(blob)
    resumed_params = [Parameter(v) for v in values]
    resumed = case.ours(resumed_params, **case.config)
    resumed.load_state_dict(saved)
    _run(resumed, resumed_params, problem, N - resume_at, start=resume_at)

    for a, b in zip(straight_params, resumed_params):
        assert np.array_equal(a.data, b.data)
    for a, b in zip(straight_params, resumed_params):
        _assert_same_state(straight.state.get(a, {}), resumed.state.get(b, {}))


@pytest.mark.parametrize("case", CASES, ids=str)
def test_caller_gradient_is_never_written(case):
    problem = TrajectoryProblem(seed=2, shapes=case.shapes)
    params = [Parameter(x.copy()) for x in problem.initial]
    optimizer = case.ours(params, **case.config)
    for step in range(3):
        grads = problem.grads([p.data for p in params], step)
        kept = [g.copy() for g in grads]
        for p, g in zip(params, grads):
            p.grad = g
        optimizer.step()
        for g, k in zip(grads, kept):
            assert np.array_equal(g, k)


def _trained(name="Adam", **kwargs):
    params = [Parameter(np.ones((3, 2))), Parameter(np.zeros(2))]
    optimizer = getattr(optim, name)(params, **kwargs)
    for p in params:
        p.grad = np.full(p.shape, 0.5)
    optimizer.step()
    return optimizer, params


def test_state_dict_does_not_alias_live_state():
    optimizer, params = _trained(amsgrad=True)
    saved = optimizer.state_dict()
    saved["state"][0]["exp_avg"][...] = 123.0
    saved["param_groups"][0]["betas"] = (0.1, 0.2)
    assert not np.any(optimizer.state[params[0]]["exp_avg"] == 123.0)
    assert optimizer.param_groups[0]["betas"] == (0.9, 0.999)


def test_load_state_dict_copies_and_never_mutates_its_argument():
    optimizer, params = _trained()
    saved = optimizer.state_dict()
    snapshot = copy.deepcopy(saved)
    other, other_params = _trained(lr=0.5)
    other.load_state_dict(saved)
    _assert_same_state(saved["state"][0], snapshot["state"][0])
    assert saved["param_groups"] == snapshot["param_groups"]
    saved["state"][0]["exp_avg"][...] = 7.0
    assert not np.any(other.state[other_params[0]]["exp_avg"] == 7.0)
    assert other.param_groups[0]["lr"] == 1e-3


def test_load_errors_leave_the_optimizer_unchanged():
    optimizer, params = _trained()
    good = optimizer.state_dict()
    target, target_params = _trained(lr=0.5)
    before = target.state_dict()

    two_groups = copy.deepcopy(good)
    two_groups["param_groups"].append(copy.deepcopy(good["param_groups"][0]))
    wrong_shape = copy.deepcopy(good)
    wrong_shape["state"][0]["exp_avg"] = np.zeros((2, 3))
    wrong_dtype = copy.deepcopy(good)
    wrong_dtype["state"][0]["exp_avg_sq"] = wrong_dtype["state"][0]["exp_avg_sq"].astype(np.float32)
    wrong_size = copy.deepcopy(good)
    wrong_size["param_groups"][0]["params"] = [0]
    unknown_key = copy.deepcopy(good)
    unknown_key["state"][0]["momentum_buffer"] = np.zeros((3, 2))
    bad_value = copy.deepcopy(good)
    bad_value["param_groups"][0]["lr"] = -1.0
    missing = copy.deepcopy(good)
    del missing["state"][1]["exp_avg_sq"]

    for broken, fragment in [(two_groups, "2 parameter groups"), (wrong_shape, "shape"),
                             (wrong_dtype, "dtype"), (wrong_size, "1 parameters"),
                             (unknown_key, "momentum_buffer"), (bad_value, "lr"), (missing, "exp_avg_sq")]:
        with pytest.raises((ValueError, TypeError), match=fragment):
            target.load_state_dict(broken)
        after = target.state_dict()
        assert after["param_groups"] == before["param_groups"]
        for index in before["state"]:
            _assert_same_state(after["state"][index], before["state"][index])


def test_step_counter_is_an_unbounded_int():
    optimizer, params = _trained()
    state = optimizer.state[params[0]]
    state["step"] = 2**24
    optimizer.step()
    assert state["step"] == 2**24 + 1 and isinstance(state["step"], int)


def test_zero_grad_and_closure():
    optimizer, params = _trained("SGD", lr=0.1)
    caller = np.ones(2)
    params[1].grad = caller
    optimizer.zero_grad(set_to_none=False)
    assert np.array_equal(params[1].grad, np.zeros(2)) and np.array_equal(caller, np.ones(2))
    optimizer.zero_grad()
    assert all(p.grad is None for p in params)
    assert optimizer.step(lambda: 4.5) == 4.5


def test_state_bytes_are_measured_from_the_arrays():
    optimizer, params = _trained("Adam", amsgrad=True)
    elements = sum(p.size for p in params)
    assert optimizer.state_bytes() == 3 * 8 * elements
    assert optimizer.state_bytes_per_parameter() == 24.0
