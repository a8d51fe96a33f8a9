"""Flat buffers: a flattened optimizer takes exactly the same steps as the per-parameter one.

Elementwise IEEE operations (+, −, ×, ÷, √, max) are correctly rounded per element whatever the array
layout, so a flattened update must be *bit-identical* to the per-tensor update, not merely close.
"""

import pickle

import numpy as np
import pytest

import optimlab.optim as optim
from optimlab import Parameter
from optimlab.kernels import cpu_kernels
from optimlab.verify.parity import TrajectoryProblem
from optimlab.verify.torch_cases import torch_cases

CASES = [case for case in torch_cases() if case.ours.elementwise]
STEPS = 8


def _setgrads(params, problem, step):
    for p, g in zip(params, problem.grads([p.data for p in params], step)):
        p.grad = g


def _pair(case, problem):
    plain_params = [Parameter(x.copy()) for x in problem.initial]
    flat_params = [Parameter(x.copy()) for x in problem.initial]
    plain = case.ours(plain_params, **case.config)
    flat = case.ours(flat_params, **case.config).flatten()
    return plain_params, plain, flat_params, flat


def _assert_identical(plain_params, plain, flat_params, flat):
    for a, b in zip(plain_params, flat_params):
        assert np.array_equal(a.data, b.data)
        state_a, state_b = plain.state.get(a, {}), flat.state.get(b, {})
        assert set(state_a) == set(state_b)
        for key in state_a:
            assert np.array_equal(state_a[key], state_b[key]), key


def _step_side_by_side(problem, plain_params, plain, flat_params, flat):
    """``STEPS`` steps of both optimizers on the same gradients, identical after each."""
    for step in range(STEPS):
        _setgrads(plain_params, problem, step)
        _setgrads(flat_params, problem, step)
        plain.step()
        flat.step()
        _assert_identical(plain_params, plain, flat_params, flat)


@pytest.mark.parametrize("fused", [False, True], ids=["reference", "cpu-kernel"])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_flat_steps_are_bit_identical(case, fused):
    problem = TrajectoryProblem(seed=3)
    plain_params, plain, flat_params, flat = _pair(case, problem)
    buffer = flat._flat_buffers[0]
    with cpu_kernels(fused):
        _step_side_by_side(problem, plain_params, plain, flat_params, flat)
    assert all(np.shares_memory(p.data, buffer.data) for p in flat_params)
    for p in flat_params:
        assert all(np.shares_memory(v, buffer.state[k]) for k, v in flat.state[p].items() if isinstance(v, np.ndarray))


@pytest.mark.parametrize("case", CASES, ids=str)
def test_the_reference_over_pieces_of_the_buffer_is_bit_identical(case, monkeypatch):
    """The NumPy path steps a flat buffer in cache-sized pieces (``flat.CHUNK``); pieces of 7 elements
    here split the test problem's matrix and bias, and each piece's scalar state (step counters, ASGD's
    η and μ, Schedule-Free's weight sum) and lazily created arrays (SGD's momentum) join back up."""
    from optimlab.optim import flat as flat_module

    monkeypatch.setattr(flat_module, "CHUNK", 7)
    problem = TrajectoryProblem(seed=3)
    plain_params, plain, flat_params, flat = _pair(case, problem)
    _step_side_by_side(problem, plain_params, plain, flat_params, flat)
    assert len(flat._flat_buffers[0]._pieces) > 1


@pytest.mark.parametrize("case", CASES, ids=str)
def test_16bit_flat_steps_through_the_kernel_are_bit_identical(case):
    """bfloat16 parameters beside float32 ones in one group: one flat buffer per dtype, each stepped
    by the kernel (float32 arithmetic, one rounding per stored value) exactly as per tensor."""
    from ml_dtypes import bfloat16

    problem = TrajectoryProblem(seed=3)
    storage = [bfloat16 if index % 2 == 0 else np.float32 for index in range(len(problem.initial))]
    plain_params, flat_params = ([Parameter(x.astype(t)) for x, t in zip(problem.initial, storage)] for _ in range(2))
    plain, flat = case.ours(plain_params, **case.config), case.ours(flat_params, **case.config).flatten()
    assert sorted(str(b.data.dtype) for b in flat._flat_buffers) == ["bfloat16", "float32"]
    with cpu_kernels():
        for step in range(STEPS):
            for params in (plain_params, flat_params):
                grads = problem.grads([p.data.astype(np.float64) for p in params], step)
                for p, g, t in zip(params, grads, storage):
                    p.grad = g.astype(t)
            plain.step()
            flat.step()
            _assert_identical(plain_params, plain, flat_params, flat)


def test_missing_gradient_falls_back_and_stays_correct():
    problem = TrajectoryProblem(seed=4)
    case = next(c for c in CASES if c.name == "Adam")
    plain_params, plain, flat_params, flat = _pair(case, problem)
    for step in range(6):
        _setgrads(plain_params, problem, step)
        _setgrads(flat_params, problem, step)
        if step == 2:  # one parameter without a gradient: torch skips it, so its step count lags
            plain_params[1].grad = None
            flat_params[1].grad = None
        plain.step()
        flat.step()
        _assert_identical(plain_params, plain, flat_params, flat)
    assert flat.state[flat_params[0]]["step"] == 6 and flat.state[flat_params[1]]["step"] == 5


def _doubled(array):
    """A new array (0-d ones included: ``array * 2`` would be a NumPy scalar)."""
    new = array.copy()
    new *= 2
    return new


def _scale_exp_avg(optimizer, params):
    for p in params:  # a new array in place of the view
        optimizer.state[p]["exp_avg"] = _doubled(optimizer.state[p]["exp_avg"])


def _set_step(optimizer, params):
    for p in params:
        optimizer.state[p]["step"] = 10


def _new_dicts(optimizer, params):
    for p in params:
        optimizer.state[p] = {key: _doubled(value) if key == "exp_avg_sq" else value
                              for key, value in optimizer.state[p].items()}


@pytest.mark.parametrize("edit", [_scale_exp_avg, _set_step, _new_dicts], ids=["array", "step", "dict"])
def test_a_changed_per_parameter_state_is_taken_up_by_the_next_step(edit):
    """The flat step checks that ``optimizer.state[p]`` is still what it last published (in C loops,
    not per entry in Python); an edit between steps, made to both optimizers alike, is stepped from
    as the per-parameter optimizer steps from it, and the states are views of the buffer again."""
    problem = TrajectoryProblem(seed=6)
    case = next(c for c in CASES if c.name == "AdamW")
    plain_params, plain, flat_params, flat = _pair(case, problem)
    for step in range(5):
        if step == 2:
            edit(plain, plain_params)
            edit(flat, flat_params)
        _setgrads(plain_params, problem, step)
        _setgrads(flat_params, problem, step)
        plain.step()
        flat.step()
        _assert_identical(plain_params, plain, flat_params, flat)
    buffer = flat._flat_buffers[0]
    assert all(np.shares_memory(flat.state[p]["exp_avg_sq"], buffer.state["exp_avg_sq"]) for p in flat_params)


def test_a_scalar_entry_that_a_later_step_adds_reaches_every_parameter_state():
    class Counting(optim.SGD):
        def _update(self, param, grad, state, group):
            super()._update(param, grad, state, group)
            if self.step_count >= 1:  # from the second step on
                state["counted"] = state.get("counted", 0) + 1

    params = [Parameter(np.ones(3)), Parameter(np.ones(2))]
    optimizer = Counting(params, lr=0.1).flatten()
    for step in range(4):
        for p in params:
            p.grad = np.ones(p.shape)
        optimizer.step()
        assert [optimizer.state[p].get("counted") for p in params] == [step or None] * 2


def test_resume_into_a_flat_optimizer_is_bit_identical():
    problem = TrajectoryProblem(seed=5)
    case = next(c for c in CASES if c.name == "AdamW")
    plain_params, plain, flat_params, flat = _pair(case, problem)
    for step in range(3):
        _setgrads(flat_params, problem, step)
        flat.step()
    saved = pickle.loads(pickle.dumps((flat.state_dict(), [p.data.copy() for p in flat_params])))
    resumed_params = [Parameter(v) for v in saved[1]]
    resumed = case.ours(resumed_params, **case.config).flatten()
    resumed.load_state_dict(saved[0])
    for step in range(3, 6):
        for params, optimizer in ((flat_params, flat), (resumed_params, resumed)):
            _setgrads(params, problem, step)
            optimizer.step()
    _assert_identical(flat_params, flat, resumed_params, resumed)
    exported = flat.state_dict()["state"][0]["exp_avg"]
    assert not np.shares_memory(exported, flat._flat_buffers[0].state["exp_avg"])


def test_model_gradients_land_in_the_buffer_without_copy():
    params = [Parameter(np.ones((2, 3))), Parameter(np.zeros(4))]
    optimizer = optim.SGD(params, lr=0.1).flatten()
    optimizer.zero_grad()
    params[0].accumulate_grad(np.full((2, 3), 2.0))
    params[0].accumulate_grad(np.full((2, 3), 1.0))
    buffer = optimizer._flat_buffers[0]
    assert np.shares_memory(params[0].grad, buffer.grad)
    assert np.array_equal(buffer.grad[:6], np.full(6, 3.0))
    optimizer.step()
    assert np.allclose(params[0].data, 1 - 0.1 * 3.0) and np.array_equal(params[1].data, np.zeros(4))


def test_mixed_dtypes_get_one_buffer_each():
    params = [Parameter(np.ones(3)), Parameter(np.ones(2, dtype=np.float32)), Parameter(np.ones(4))]
    optimizer = optim.Adam(params).flatten()
    assert sorted(b.size for b in optimizer._flat_buffers) == [2, 7]


def test_flatten_refuses_a_non_elementwise_update():
    class PerTensorNorm(optim.SGD):
        elementwise = False

    with pytest.raises(TypeError, match="not elementwise"):
        PerTensorNorm([Parameter(np.ones(3))], lr=0.1).flatten()
