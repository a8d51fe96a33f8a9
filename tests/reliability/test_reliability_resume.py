"""Resume over the whole table: every configuration of every optimizer, stopped at 0, 1, N/2 and N−1
of N = 10 steps (and, by hypothesis, at any step), saved as pickle bytes and resumed in a fresh
optimizer, ends bit-identical (parameters and ``state_dict()``) to an uninterrupted run;
``state_dict`` and ``load_state_dict`` never alias; ``load_state_dict`` rejects a wrong group count,
size, shape or dtype before changing anything."""

import copy

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimlab.testing import TABLE
from optimlab.testing.checks import RESUME_STEPS, check_resume, resume_points
from optimlab.testing.runs import array_leaves, differences, run, setup

CONFIGS = [(info.name, index, config) for info in TABLE for index, config in enumerate(info.configs())]


@pytest.mark.parametrize("name,index,config", CONFIGS, ids=[f"{name}-{index}" for name, index, _ in CONFIGS])
def test_resume_is_bit_identical(name, index, config):
    check_resume(name, config, resume_points())


@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_resume_at_any_step(data):
    name, _, config = data.draw(st.sampled_from(CONFIGS))
    check_resume(name, config, data.draw(st.integers(0, RESUME_STEPS)))


def _trained(info, config):
    problem, params, optimizer = setup(info, config)
    run(optimizer, problem, params, 3)
    return optimizer


def _stateful_config(info) -> dict:
    """The first configuration (``base`` first) whose state holds arrays (plain SGD keeps none)."""
    return next(config for config in [info.base, *info.configs()]
                if list(array_leaves(_trained(info, config).state_dict()["state"])))


def _fill(tree, value=7) -> None:
    for _, array in array_leaves(tree):
        array[...] = value


def _live_state(optimizer) -> list:
    """The optimizer's own state dicts (a wrapper's and its inner optimizer's)."""
    inner = getattr(optimizer, "optimizer", None)
    return [list(optimizer.state.values())] + ([list(inner.state.values())] if inner is not None else [])


@pytest.mark.parametrize("info", TABLE, ids=lambda info: info.name)
def test_state_dict_and_load_never_alias(info):
    config = _stateful_config(info)
    optimizer = _trained(info, config)
    kept = optimizer.state_dict()
    exported = optimizer.state_dict()
    _fill(exported)
    assert differences(kept, optimizer.state_dict()) == [], "writing into state_dict() changed the optimizer"

    saved = optimizer.state_dict()
    snapshot = copy.deepcopy(saved)
    other = setup(info, config)[2]
    other.load_state_dict(saved)
    assert differences(saved, snapshot) == [], "load_state_dict changed its argument"
    loaded = other.state_dict()
    _fill(saved)
    assert differences(loaded, other.state_dict()) == [], "writing into the loaded dict changed the optimizer"
    _fill(_live_state(other), 9)
    assert differences(saved, copy.deepcopy(saved)) == [] and not any(
        np.all(array == 9) for _, array in array_leaves(saved)), "writing into the live state changed the loaded dict"


def _groups(saved):
    return saved["param_groups"] if "param_groups" in saved else saved["optimizer"]["param_groups"]


def _first_state_array(saved):
    return next((path, array) for path, array in array_leaves(saved["state"]))


def _set(tree, path, value):
    for key in path[:-1]:
        tree = tree[key]
    tree[path[-1]] = value


def _broken(saved, how, required=None):
    broken = copy.deepcopy(saved)
    path, array = _first_state_array(broken)
    if how == "group count":
        _groups(broken).append(copy.deepcopy(_groups(broken)[0]))
    elif how == "size":
        _groups(broken)[0]["params"] = _groups(broken)[0]["params"][:-1]
    elif how == "unknown entry":
        _set(broken["state"], path[:-1] + ("bogus_entry",), array.copy())
    elif how == "missing entry":
        del broken["state"][path[0]][required]
    elif how == "shape":
        _set(broken["state"], path, np.zeros(array.shape + (2,), dtype=array.dtype))
    else:
        other = np.float32 if array.dtype != np.float32 else np.float64
        _set(broken["state"], path, array.astype(other))
    return broken


def _required_entry(optimizer, saved):
    """A state entry that a loaded state dict must hold: one ``_init_state`` creates (a wrapper's
    slow weights), present in the first saved parameter state; ``None`` if there is none."""
    first = next(iter(saved["state"].values()))
    if hasattr(optimizer, "optimizer"):
        return "slow_param"
    param = optimizer.param_groups[0]["params"][0]
    created = optimizer._init_state(param, optimizer.param_groups[0])
    return next((key for key in first if key in created), None)


FRAGMENTS = {"group count": "group", "size": "parameters", "unknown entry": "bogus_entry", "missing entry": "",
             "shape": "shape", "dtype": "dtype"}


@pytest.mark.parametrize("how", FRAGMENTS)
@pytest.mark.parametrize("info", TABLE, ids=lambda info: info.name)
def test_load_rejects_mismatches_and_changes_nothing(info, how):
    config = _stateful_config(info)
    good = _trained(info, config).state_dict()
    target = _trained(info, config)
    before = target.state_dict()
    required = _required_entry(target, good)
    if how == "missing entry" and required is None:
        pytest.skip(f"{info.name}'s state has no entry a state dict must hold (all are created lazily)")
    with pytest.raises((ValueError, TypeError), match=FRAGMENTS[how] or required):
        target.load_state_dict(_broken(good, how, required))
    assert differences(before, target.state_dict()) == []


@pytest.mark.parametrize("info", TABLE, ids=lambda info: info.name)
def test_caller_gradient_is_never_written(info):
    for config in [info.base, *info.configs()]:
        problem, params, optimizer = setup(info, config)
        for step in range(3):
            grads = problem.grads([p.data for p in params], step)
            kept = [g.copy() for g in grads]

            def closure(grads=grads):
                for p, g in zip(params, grads):
                    p.grad = g
                return 0.0

            optimizer.step(closure)
            assert differences(grads, kept) == [], (info.name, config)
