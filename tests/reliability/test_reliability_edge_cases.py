"""Edge cases over the whole table: a gradient of None, all-zero gradients, lr = 0, zero-size, 0-D and
1-D parameters, frozen parameters, maximize ≡ minimizing the negative, two groups ≡ two optimizers,
and zero weights (LAMB/LARS's trust ratio). Where an optimizer, like its torch twin, does not do the
generic thing, the table names it (``OptimizerInfo.quirks``) and the test asserts the quirk."""

import numpy as np
import pytest

from optimlab import Parameter
from optimlab.testing import TABLE
from optimlab.testing.runs import closure_for, differences, run, setup
from optimlab.verify.parity import TrajectoryProblem

IDS = {"ids": lambda info: info.name}


def _quiet_config(info, **changes) -> dict:
    """``info.base`` without weight decay (a wrapper: its inner optimizer's), with ``changes``."""
    if info.wrapper:
        return {"inner": "Adam", "inner_kwargs": {"lr": 0.01, **changes}}
    config = dict(info.base)
    if info.weight_decay:
        config["weight_decay"] = 0.0
    return {**config, **changes}


def _unchanged(before, params) -> bool:
    return all(np.array_equal(a, p.data) for a, p in zip(before, params))


def _finite(params) -> bool:
    return all(np.isfinite(p.data).all() for p in params)


def _steps(optimizer, params, grads_of, steps):
    for step in range(steps):

        def closure(step=step):
            for p, g in zip(params, grads_of(step)):
                p.grad = g
            return 0.0

        optimizer.step(closure)


@pytest.mark.parametrize("info", TABLE, **IDS)
def test_parameter_without_gradient_is_left_alone(info):
    problem = TrajectoryProblem(seed=3, shapes=info.shapes)
    params = [Parameter(x.copy()) for x in problem.initial]
    optimizer = info.build(params)
    _steps(optimizer, params, lambda step: [problem.grads([params[0].data], step)[0]] + [None] * (len(params) - 1), 3)
    assert _unchanged(problem.initial[1:], params[1:])
    if not info.wrapper:  # Lookahead keeps slow weights for every parameter
        assert all(p not in optimizer.state for p in params[1:])


@pytest.mark.parametrize("info", TABLE, **IDS)
def test_frozen_parameter_stays_put(info):
    """Stepped twice, then its gradient is None for three steps: parameter and state unchanged."""
    problem, params, optimizer = setup(info)
    run(optimizer, problem, params, 2)
    frozen = params[-1]
    value, state = frozen.data.copy(), optimizer.state_dict()["state"].get(len(params) - 1)

    def grads(step):
        return problem.grads([p.data for p in params], step + 2)[:-1] + [None]

    _steps(optimizer, params, grads, 3)
    moved = not np.array_equal(value, frozen.data)
    assert moved == ("frozen" in info.quirks), info.quirks.get("frozen", "a frozen parameter moved")
    if not moved and state is not None:
        assert differences(state, optimizer.state_dict()["state"][len(params) - 1]) == []


@pytest.mark.parametrize("info", TABLE, **IDS)
def test_zero_gradients_change_nothing(info):
    problem = TrajectoryProblem(seed=4, shapes=info.shapes)
    params = [Parameter(x.copy()) for x in problem.initial]
    optimizer = info.build(params, _quiet_config(info))
    _steps(optimizer, params, lambda step: [np.zeros_like(x) for x in problem.initial], 3)
    assert _finite(params)
    assert _unchanged(problem.initial, params) != ("zero gradients" in info.quirks), info.quirks.get("zero gradients")


@pytest.mark.parametrize("decay", [0.0, 0.1])
@pytest.mark.parametrize("info", TABLE, **IDS)
def test_zero_learning_rate_changes_nothing(info, decay):
    config = _quiet_config(info, lr=0.0)
    if info.weight_decay:
        config["weight_decay"] = decay
    problem, params, optimizer = setup(info, config)
    run(optimizer, problem, params, 3)
    assert _finite(params)
    assert _unchanged(problem.initial, params) != ("lr = 0" in info.quirks), info.quirks.get("lr = 0")


@pytest.mark.parametrize("shape", [(0, 3), (0,), (), (4,)], ids=str)
@pytest.mark.parametrize("info", TABLE, **IDS)
def test_zero_size_0d_and_1d_parameters(info, shape):
    """Each next to an ordinary parameter of the entry's first shape; Muon refuses all but matrices."""
    rng = np.random.default_rng(5)
    params = [Parameter(np.asarray(rng.standard_normal(shape))), Parameter(rng.standard_normal(info.shapes[0]))]
    start = [p.data.copy() for p in params]
    if info.matrix_only and len(shape) != 2:
        with pytest.raises(ValueError, match=rf"2-D.*{shape}"):
            info.build(params)
        return
    optimizer = info.build(params)
    _steps(optimizer, params, lambda step: [np.full(p.shape, 0.5 + 0.1 * step) for p in params], 3)
    assert _finite(params) and params[0].shape == shape
    assert params[0].size == 0 or not np.array_equal(start[0], params[0].data), "the parameter did not move"
    assert not np.array_equal(start[1], params[1].data)


@pytest.mark.parametrize("info", [info for info in TABLE if info.maximize], **IDS)
def test_maximize_is_minimizing_the_negative(info):
    problem, ascent_params, ascent = setup(info, {**info.base, "maximize": True})
    _, descent_params, descent = setup(info, {**info.base, "maximize": False})
    for step in range(5):
        ascent.step(closure_for(problem, ascent_params, step, lambda grads: [np.negative(g, out=g) for g in grads]))
        descent.step(closure_for(problem, descent_params, step))
    assert differences([p.data for p in ascent_params], [p.data for p in descent_params]) == []
    assert differences(ascent.state_dict()["state"], descent.state_dict()["state"]) == []


@pytest.mark.parametrize("info", [info for info in TABLE if not info.single_group], **IDS)
def test_two_groups_are_two_optimizers(info):
    """Group 0 with the defaults, group 1 with half the learning rate, against one optimizer each."""
    problem, params, probe = setup(info)
    half = probe.param_groups[0]["lr"] / 2
    together = info.build([{"params": params[:1]}, {"params": params[1:], "lr": half}])
    _, apart_params, first = setup(info)
    first = info.build(apart_params[:1])
    second = info.build(apart_params[1:], {"inner_kwargs": {"lr": half}} if info.wrapper else {**info.base, "lr": half})
    for step in range(5):
        together.step(closure_for(problem, params, step))
        grads = problem.grads([p.data for p in apart_params], step)
        for optimizer, part in ((first, slice(0, 1)), (second, slice(1, None))):

            def closure(part=part):
                for p, g in zip(apart_params[part], grads[part]):
                    p.grad = g
                return 0.0

            optimizer.step(closure)
    assert differences([p.data for p in params], [p.data for p in apart_params]) == []


@pytest.mark.parametrize("info", TABLE, **IDS)
def test_zero_weights_stay_finite_and_move(info):
    """From θ = 0 every optimizer moves and stays finite; for LAMB/LARS this is the trust ratio's
    ‖θ‖ = 0 case, where a ratio of 0 would freeze the weights for good and 0/0 would make them NaN."""
    problem = TrajectoryProblem(seed=6, shapes=info.shapes)
    params = [Parameter(np.zeros(shape)) for shape in info.shapes]
    optimizer = info.build(params)
    run(optimizer, problem, params, 3)
    assert _finite(params)
    assert all(np.any(p.data != 0) for p in params)
