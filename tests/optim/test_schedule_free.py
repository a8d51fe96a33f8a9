"""Schedule-Free beyond the oracle runs (``test_oracle_cases``): the memory-saving rewrite against
the simple form step by step (in both modes, with every flag, including ``decay_at_z`` that
schedulefree's memory-saving class lacks), the train/eval contract, and the state's size.

Tolerance: 1e-12 relative in float64 (an algebraic rewrite: rounding differs by a few ulp per step)."""

import copy
import pickle

import numpy as np
import pytest

from optimlab import Parameter
from optimlab.optim.schedule_free import AdamWScheduleFree, SGDScheduleFree
from optimlab.verify.parity import TrajectoryProblem, relative_error

CONFIGS = [
    (SGDScheduleFree, {"lr": 0.1}),
    (SGDScheduleFree, {"lr": 0.1, "momentum": 0.5, "weight_decay": 0.05, "warmup_steps": 10}),
    (SGDScheduleFree, {"lr": 0.2, "r": 1.0, "weight_lr_power": 0.5, "warmup_steps": 5}),
    (AdamWScheduleFree, {"lr": 0.01}),
    (AdamWScheduleFree, {"lr": 0.02, "betas": (0.5, 0.9), "weight_decay": 0.1, "warmup_steps": 10}),
    (AdamWScheduleFree, {"lr": 0.01, "weight_decay": 0.1, "decay_at_z": True, "r": 0.5}),
]


def _closure(params, problem, step):
    def closure():
        values = [p.data for p in params]
        for p, g in zip(params, problem.grads(values, step)):
            p.grad = g
        return problem.loss(values, step)

    return closure


@pytest.mark.parametrize("cls,config", CONFIGS, ids=lambda v: getattr(v, "__name__", str(v)))
def test_memory_saving_rewrite_matches_simple_form(cls, config):
    problem = TrajectoryProblem(seed=3)
    runs = []
    for memory_saving in (False, True):
        params = [Parameter(x.copy()) for x in problem.initial]
        runs.append((params, cls(params, memory_saving=memory_saving, **config)))
    worst = 0.0
    for step in range(50):
        for params, optimizer in runs:
            optimizer.train()
            optimizer.step(_closure(params, problem, step))
            if step % 4 == 3:
                optimizer.eval()
        (simple_params, simple), (lean_params, lean) = runs
        for a, b in zip(simple_params, lean_params):
            worst = max(worst, relative_error(b.data, a.data), relative_error(lean.state[b]["z"], simple.state[a]["z"]))
    assert worst <= 1e-12


def test_eval_holds_x_and_train_holds_y():
    problem = TrajectoryProblem(seed=4)
    params = [Parameter(x.copy()) for x in problem.initial]
    optimizer = SGDScheduleFree(params, lr=0.1, memory_saving=False)
    for step in range(5):
        optimizer.step(_closure(params, problem, step))
    state = optimizer.state[params[0]]
    np.testing.assert_array_equal(params[0].data, state["y"])
    optimizer.eval()
    optimizer.eval()  # a no-op the second time
    np.testing.assert_array_equal(params[0].data, state["x"])
    with pytest.raises(RuntimeError, match="train"):
        optimizer.step(_closure(params, problem, 5))
    optimizer.train()
    np.testing.assert_array_equal(params[0].data, state["y"])
    # y = βx + (1 − β)z, the definition
    np.testing.assert_allclose(state["y"], 0.9 * state["x"] + 0.1 * state["z"], rtol=1e-14)


def test_first_step_closed_form():
    """Step 1 with r = 0: c₁ = 1, so x₁ = z₁ = θ₀ − ηg and y₁ = x₁ (SGD, no decay)."""
    param = Parameter(np.array([1.0, -1.0]))
    optimizer = SGDScheduleFree([param], lr=0.5)
    param.grad = np.array([0.2, 0.4])
    optimizer.step()
    np.testing.assert_allclose(param.data, [0.9, -1.2], rtol=1e-15)
    optimizer.eval()
    np.testing.assert_allclose(param.data, [0.9, -1.2], rtol=1e-14)


def test_resume_in_eval_mode():
    problem = TrajectoryProblem(seed=5)
    params = [Parameter(x.copy()) for x in problem.initial]
    optimizer = AdamWScheduleFree(params, lr=0.01)
    for step in range(4):
        optimizer.step(_closure(params, problem, step))
    optimizer.eval()
    blob = pickle.dumps((optimizer.state_dict(), [p.data for p in params]))
    saved, values = pickle.loads(blob)
    resumed_params = [Parameter(v) for v in values]
    resumed = AdamWScheduleFree(resumed_params, lr=0.01)
    resumed.load_state_dict(saved)
    assert not resumed.train_mode
    for opt, ps in ((optimizer, params), (resumed, resumed_params)):
        opt.train()
        opt.step(_closure(ps, problem, 4))
    for a, b in zip(params, resumed_params):
        np.testing.assert_array_equal(a.data, b.data)


def test_loading_the_other_form_is_refused():
    params = [Parameter(np.ones(2))]
    simple = SGDScheduleFree(params, memory_saving=False)
    params[0].grad = np.ones(2)
    simple.step()
    with pytest.raises(ValueError, match="memory_saving"):
        SGDScheduleFree([Parameter(np.ones(2))]).load_state_dict(copy.deepcopy(simple.state_dict()))


def test_memory_saving_keeps_a_third_of_the_copies():
    sizes = {}
    for memory_saving in (False, True):
        param = Parameter(np.ones(10))
        optimizer = AdamWScheduleFree([param], memory_saving=memory_saving)
        param.grad = np.ones(10)
        optimizer.step()
        sizes[memory_saving] = optimizer.state_bytes()
    assert sizes == {False: 4 * 80, True: 2 * 80}  # z, v, x, y against z, v


def test_memory_saving_needs_a_positive_beta1():
    with pytest.raises(ValueError, match="betas"):
        AdamWScheduleFree([Parameter(np.ones(2))], betas=(0.0, 0.9))
    AdamWScheduleFree([Parameter(np.ones(2))], betas=(0.0, 0.9), memory_saving=False)
    with pytest.raises(ValueError, match="momentum"):
        SGDScheduleFree([Parameter(np.ones(2))], momentum=0.0)
    with pytest.raises(TypeError, match="memory_saving"):
        SGDScheduleFree([Parameter(np.ones(2))], memory_saving="yes")
