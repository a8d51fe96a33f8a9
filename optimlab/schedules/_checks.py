"""Argument checks shared by the schedules and the scheduler classes.

Every check raises ``TypeError`` for a wrong type and ``ValueError`` for a bad value, and the
message names the argument and the value it got.
"""

from __future__ import annotations

import math
from numbers import Integral, Real


def check_int(name: str, value, *, minimum: int = 1) -> int:
    """Return ``value`` as an int after checking it is an integer ``>= minimum`` (bools rejected)."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} of type {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_real(name: str, value, *, low: float = -math.inf, high: float = math.inf,
               low_open: bool = False, high_open: bool = False) -> float:
    """Return ``value`` as a float after checking it is a finite real number in the given interval."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, got {value!r} of type {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    too_low = value <= low if low_open else value < low
    too_high = value >= high if high_open else value > high
    if too_low or too_high:
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise ValueError(f"{name} must lie in {interval}, got {value!r}")
    return value


def check_choice(name: str, value, choices) -> str:
    """Check that ``value`` is one of the strings in ``choices``."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {value!r} of type {type(value).__name__}")
    if value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}, got {value!r}")
    return value


def check_step(step) -> float | int:
    """A schedule's argument: a non-negative real number of completed steps."""
    if isinstance(step, bool) or not isinstance(step, Real):
        raise TypeError(f"step must be a real number, got {step!r} of type {type(step).__name__}")
    if not step >= 0:  # also rejects NaN
        raise ValueError(f"step must be >= 0, got {step!r}")
    return step


def check_sorted_ints(name: str, values, *, strict: bool, minimum: int = 0) -> list[int]:
    """Check a sequence of integers is in order (strictly increasing if ``strict``)."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{name} must be a sequence of integers, got {values!r}")
    values = [check_int(f"{name}[{i}]", v, minimum=minimum) for i, v in enumerate(values)]
    for i in range(1, len(values)):
        if values[i] < values[i - 1] or (strict and values[i] == values[i - 1]):
            order = "strictly increasing" if strict else "non-decreasing"
            raise ValueError(f"{name} must be {order}, got {values!r}")
    return values
