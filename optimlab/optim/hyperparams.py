"""Hyperparameter rules: each checks one value and raises an error that names it.

A rule is a callable ``rule(name, value) -> value``. Optimizers declare one rule per hyperparameter
(``Optimizer.hyperparameters``); the rules run in the constructor, in ``add_param_group``, whenever a
group entry is assigned (``group["lr"] = ...``) and in ``load_state_dict``. Wrong types raise
``TypeError``; NaN, infinities and out-of-range values raise ``ValueError``.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Callable

Rule = Callable[[str, Any], Any]


def _real(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}: {value!r}")
    return value


def _interval(low, high, low_open, high_open) -> str:
    left = "(" if low_open else "["
    right = ")" if high_open else "]"
    low = "-inf" if low is None else low
    high = "inf" if high is None else high
    return f"{left}{low}, {high}{right}"


def real(low=None, high=None, *, low_open: bool = False, high_open: bool = False) -> Rule:
    """A finite real number in an interval (``None`` bounds are open to infinity)."""

    def rule(name: str, value):
        _real(name, value)
        bad = not math.isfinite(value)
        bad = bad or (low is not None and (value <= low if low_open else value < low))
        bad = bad or (high is not None and (value >= high if high_open else value > high))
        if bad:
            span = _interval(low, high, low_open or low is None, high_open or high is None)
            raise ValueError(f"Invalid {name}: {value!r} (must be finite and in {span})")
        return value

    return rule


def integer(low=None) -> Rule:
    """An integer, at least ``low``."""

    def rule(name: str, value):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}: {value!r}")
        if low is not None and value < low:
            raise ValueError(f"Invalid {name}: {value!r} (must be >= {low})")
        return int(value)

    return rule


def boolean(name: str, value) -> bool:
    """``True`` or ``False`` (NumPy bools too), nothing else."""
    if not isinstance(value, bool) and type(value).__name__ != "bool_":
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}: {value!r}")
    return bool(value)


def pair(element: Rule) -> Rule:
    """A 2-tuple (or list) whose entries satisfy ``element``; stored as a tuple."""

    def rule(name: str, value):
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            raise TypeError(f"{name} must be a pair (tuple of 2), got {type(value).__name__}: {value!r}")
        return tuple(element(f"{name}[{i}]", v) for i, v in enumerate(value))

    return rule


def choice(*options) -> Rule:
    """One of a fixed set of values."""

    def rule(name: str, value):
        if value not in options:
            raise ValueError(f"Invalid {name}: {value!r} (must be one of {options})")
        return value

    return rule


def optional(inner: Rule) -> Rule:
    """``None`` or a value that satisfies ``inner``."""

    def rule(name: str, value):
        return None if value is None else inner(name, value)

    return rule


def learning_rate(name: str, value):
    """A finite non-negative number, or a schedule: a callable ``step -> lr`` checked when used."""
    if callable(value):
        return value
    return real(0.0)(name, value)


nonnegative = real(0.0)
unit_closed = real(0.0, 1.0)
unit_right_open = real(0.0, 1.0, high_open=True)
betas = pair(unit_right_open)
