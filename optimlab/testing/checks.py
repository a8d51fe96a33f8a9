"""The generic checks over the table, as plain functions: ``tests/reliability`` runs them (one test
per hyperparameter, configuration or case) and ``optimlab.testing.report`` runs them all to count.
A check returns ``None`` when the optimizer behaves and raises ``AssertionError`` saying what went
wrong otherwise.

* bad inputs: every invalid value of every hyperparameter, set in each place a value can be set
  (``WHERES``), plus structural mistakes in the parameter list;
* resume: stop after ``resume_at`` of ``RESUME_STEPS`` steps, round-trip ``state_dict()`` through
  ``pickle`` bytes, continue in a fresh optimizer: parameters and state bit-identical to an
  uninterrupted run;
* non-finite gradients: with ``step_if_finite`` nothing changes; without it the outcome is the one
  the table documents.
"""

from __future__ import annotations

import inspect
import pickle
from dataclasses import dataclass
from typing import Any

import numpy as np

from optimlab.parameter import Parameter
from optimlab.testing.runs import closure_for, differences, run, setup, snapshot
from optimlab.testing.table import NONFINITE_KINDS, OPTIMIZERS, TABLE
from optimlab.training.gradients import step_if_finite

WHERES = ("constructor", "group", "add_param_group", "assignment", "load_state_dict")
RESUME_STEPS = 10
NONFINITE_VALUES = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf}


# -- bad inputs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BadInput:
    """One invalid ``value`` of hyperparameter ``key`` of optimizer ``name``, set in ``where``."""

    name: str
    key: str
    value: Any
    exc: type
    where: str

    def __str__(self) -> str:
        return f"{self.name}.{self.key}={self.value!r}@{self.where}"


def _wheres(info, key: str) -> tuple[str, ...]:
    """Where ``key`` can be set: a key the constructor does not take (AdamW's
    ``decoupled_weight_decay``) only in param groups and state dicts."""
    if key not in inspect.signature(info.cls.__init__).parameters:
        return tuple(where for where in WHERES if where != "constructor")
    if info.wrapper:  # the wrapper's own settings are attributes, not param-group entries
        return ("constructor", "assignment", "load_state_dict")
    if info.single_group:  # no second group, no add_param_group
        return ("constructor", "group", "assignment", "load_state_dict")
    return WHERES


def bad_input_cases() -> list[BadInput]:
    """Every (optimizer, hyperparameter, invalid value, place) of the table."""
    return [BadInput(info.name, key, value, exc, where) for info in TABLE for key, values in info.invalid.items()
            for value, exc in values for where in _wheres(info, key)]


def names_key_and_value(message: str, key: str, value) -> bool:
    """Whether an error message names the hyperparameter and the offending value (for a tuple, the
    whole tuple or one entry together with its index, as in ``betas[1]: 1.0``)."""
    if key not in message:
        return False
    if repr(value) in message or str(value) in message:
        return True
    return isinstance(value, (tuple, list)) and any(
        f"{key}[{i}]" in message and repr(entry) in message for i, entry in enumerate(value))


def _params(info, count: int = 1) -> list[Parameter]:
    return [Parameter(np.ones(info.shapes[0])) for _ in range(count)]


def _settings(optimizer) -> Any:
    """What a rejected assignment must leave unchanged: the group dicts, or a wrapper's settings."""
    if hasattr(optimizer, "optimizer"):
        return {key: getattr(optimizer, key) for key in ("k", "alpha", "slow_start")}
    return [dict(group) for group in optimizer.param_groups]


def _attempt(case: BadInput, info, target) -> None:
    """Set the bad value where ``case.where`` says (into ``target`` for the last three places)."""
    bad = {case.key: case.value}
    if case.where == "constructor":
        info.build(_params(info), {**info.base, **bad})
    elif case.where == "group":
        first, second = _params(info, 2)
        groups = [{"params": [first]}, {"params": [second], **bad}]
        info.build([{"params": [first], **bad}] if info.single_group else groups)
    elif case.where == "add_param_group":
        target.add_param_group({"params": _params(info), **bad})
    elif case.where == "assignment" and info.wrapper:
        setattr(target, case.key, case.value)
    elif case.where == "assignment":
        target.param_groups[0][case.key] = case.value
    else:
        saved = target.state_dict()
        (saved if info.wrapper else saved["param_groups"][0])[case.key] = case.value
        target.load_state_dict(saved)


def check_bad_input(case: BadInput) -> None:
    """The bad value raises ``case.exc`` naming the hyperparameter and the value; a rejected
    ``add_param_group``, assignment or ``load_state_dict`` leaves the optimizer exactly as it was."""
    info = OPTIMIZERS[case.name]
    target = None if case.where in ("constructor", "group") else info.build(_params(info))
    before = None if target is None else (_settings(target), target.state_dict())
    try:
        _attempt(case, info, target)
    except (ValueError, TypeError) as error:
        assert isinstance(error, case.exc), f"{case}: {type(error).__name__}: {error}"
        assert names_key_and_value(str(error), case.key, case.value), f"{case}: message {error}"
    else:
        raise AssertionError(f"{case}: accepted")
    if target is not None:
        changed = differences(before, (_settings(target), target.state_dict()))
        assert not changed, f"{case}: the rejected value changed {changed}"


@dataclass(frozen=True)
class Structural:
    """A malformed parameter list (or param group) given to optimizer ``name``."""

    name: str
    label: str
    exc: type
    fragment: str

    def __str__(self) -> str:
        return f"{self.name}: {self.label}"


def _structural_attempts(info) -> dict:
    """label -> (attempt, exception, fragment of the message)."""
    p, q = _params(info, 2)
    if info.wrapper:
        return {"a parameter list instead of an optimizer": (lambda: info.cls([p]), TypeError, "Optimizer")}
    # a second group (LBFGS has one only) or a parameter already in a group
    regroup = (ValueError, "parameter groups" if info.single_group else "more than one parameter group")
    array = np.ones(info.shapes[0])

    def build(params):
        return lambda: info.build(params() if callable(params) else params)

    return {
        "empty list": (build([]), ValueError, "empty"),
        "empty generator": (build(lambda: (x for x in [])), ValueError, "empty"),
        "bare array": (build(array), TypeError, "ndarray"),
        "bare Parameter": (build(p), TypeError, "Parameter"),
        "set of parameters": (build({p}), TypeError, "set"),
        "string": (build("params"), TypeError, "str"),
        "array in the list": (build([array]), TypeError, "ndarray"),
        "group without 'params'": (build([{"lr": 0.1}]), ValueError, "'params'"),
        "empty group": (build([{"params": []}]), ValueError, "no parameters"),
        "groups mixed with parameters": (build([{"params": [p]}, q]), TypeError, "mixes"),
        "duplicate within a group": (build([p, p]), ValueError, "more than once"),
        "duplicate across groups": (build([{"params": [p]}, {"params": [p]}]), *regroup),
        "add_param_group: duplicate": (lambda: info.build([p]).add_param_group({"params": [p]}), *regroup),
        "add_param_group: not a dict": (lambda: info.build([p]).add_param_group([q]),
                                         *(regroup if info.single_group else (TypeError, "dict"))),
    }


def structural_cases() -> list[Structural]:
    return [Structural(info.name, label, exc, fragment) for info in TABLE
            for label, (_, exc, fragment) in _structural_attempts(info).items()]


def check_structural(case: Structural) -> None:
    """The malformed list raises ``case.exc`` whose message contains ``case.fragment``."""
    attempt, _, _ = _structural_attempts(OPTIMIZERS[case.name])[case.label]
    try:
        attempt()
    except (ValueError, TypeError) as error:
        assert isinstance(error, case.exc), f"{case}: {type(error).__name__}: {error}"
        assert case.fragment in str(error), f"{case}: message {error}"
    else:
        raise AssertionError(f"{case}: accepted")


# -- resume --------------------------------------------------------------------------------------


def resume_points(steps: int = RESUME_STEPS) -> tuple[int, ...]:
    return (0, 1, steps // 2, steps - 1)


def resume_cases() -> list[tuple[str, dict]]:
    """``(optimizer, configuration)`` for every configuration of the table."""
    return [(info.name, config) for info in TABLE for config in info.configs()]


def check_resume(name: str, config: dict, resume_at, steps: int = RESUME_STEPS) -> None:
    """For each resume step in ``resume_at`` (an int or a tuple): stop after that many steps, save
    ``(state_dict(), parameter values)`` as pickle bytes, load them into a fresh optimizer over fresh
    parameters and finish; parameters and ``state_dict()`` must be bit-identical to ``steps``
    uninterrupted steps (run once and shared by all the resume steps)."""
    info = OPTIMIZERS[name]
    problem, straight_params, straight = setup(info, config)
    run(straight, problem, straight_params, steps)
    for at in (resume_at,) if isinstance(resume_at, int) else resume_at:
        _, first_params, first = setup(info, config)
        run(first, problem, first_params, at)
        blob = pickle.dumps((first.state_dict(), [p.data for p in first_params]))
        del first, first_params
        saved, values = pickle.loads(blob)
        params = [Parameter(value) for value in values]
        resumed = info.build(params, config)
        resumed.load_state_dict(saved)
        run(resumed, problem, params, steps - at, start=at)
        changed = differences([p.data for p in straight_params], [p.data for p in params], "params")
        changed += differences(straight.state_dict(), resumed.state_dict(), "state_dict")
        assert not changed, f"{name}({config}) resumed at {at}: {changed}"


# -- non-finite gradients ------------------------------------------------------------------------


def inject(kind: str):
    """Put a NaN/+inf/−inf into the first entry of the first parameter's fresh gradient."""

    def change(grads):
        grads[0].reshape(-1)[0] = NONFINITE_VALUES[kind]

    return change


def _stepped_twice(info):
    problem, params, optimizer = setup(info)
    run(optimizer, problem, params, 2)
    return problem, params, optimizer


def check_skip(name: str, kind: str) -> None:
    """``step_if_finite`` refuses a step whose gradient holds ``kind``: parameters, ``state_dict()``
    and the step counter bit-identical to before."""
    problem, params, optimizer = _stepped_twice(OPTIMIZERS[name])
    before = snapshot(optimizer, params)
    stepped = step_if_finite(optimizer, closure_for(problem, params, 2, inject(kind)))
    assert stepped is False, f"{name}: stepped on a {kind} gradient"
    changed = differences(before, snapshot(optimizer, params))
    assert not changed, f"{name}: skipped {kind} step changed {changed}"


def nonfinite_outcome(name: str, kind: str) -> str:
    """What one unguarded step on a gradient holding ``kind`` does: ``"nonfinite"`` (a parameter entry
    became NaN/inf), ``"finite"`` or ``"raises <error type>"``."""
    problem, params, optimizer = _stepped_twice(OPTIMIZERS[name])
    try:
        with np.errstate(all="ignore"):
            optimizer.step(closure_for(problem, params, 2, inject(kind)))
    except Exception as error:  # noqa: BLE001 -- the outcome being measured
        return f"raises {type(error).__name__}"
    return "finite" if all(np.isfinite(p.data).all() for p in params) else "nonfinite"


def nonfinite_cases() -> list[tuple[str, str]]:
    return [(info.name, kind) for info in TABLE for kind in NONFINITE_KINDS]
