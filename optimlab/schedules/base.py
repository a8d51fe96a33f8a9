r"""The scheduler shell: torch 2.13's ``LRScheduler`` protocol over pure schedules.

A scheduler owns ``last_epoch`` :math:`t` (the number of ``step()`` calls since construction; the
constructor makes the first one, to :math:`t = 0`), ``base_lrs`` (each group's ``initial_lr``) and
``_last_lr``. It writes ``group["lr"]`` of any optimizer with torch-style ``param_groups``
(optimlab's or torch's own).

*Chainable* schedulers (``StepLR`` ... ``CosineAnnealingLR``) are defined by a pure unit schedule
:math:`f` (:math:`f(-1) = 1`) and a floor :math:`\eta_{min}`, and update the current value as torch
does, so that external changes to ``group["lr"]`` and ``ChainedScheduler`` compose as in torch:

.. math:: \eta_t = \eta_{min} + (\eta_{t-1} - \eta_{min})\,\frac{f(t)}{f(t-1)}
          \quad (f(t-1) \ne 0), \qquad
          \eta_t = \eta_{t-1} + (\eta_{base} - \eta_{min})\,(f(t) - f(t-1)) \quad (f(t-1) = 0),

and :math:`\eta_t = \eta_{t-1}` when :math:`f(t) = f(t-1)`. Left alone, this is
:math:`\eta_{min} + (\eta_{base} - \eta_{min}) f(t)` up to rounding (tested): the recursion is
derived from the closed form, so the two cannot drift apart. Torch's hand-written recursions are the
same ratios; where :math:`f(t-1) = 0` torch either adds the same increment (cosine past
``T_max``) or divides by zero (``ConstantLR(factor=0)``).

Resuming: ``load_state_dict`` also writes the loaded step's learning rates (and cycled momenta)
into the optimizer, so the order of construction does not matter. Torch's does not, so building a
``LinearLR``, ``ConstantLR``, ``LambdaLR`` or ``SequentialLR`` *after* loading the optimizer's
state leaves a wrong ``lr`` in the optimizer.
"""

from __future__ import annotations

import copy
import types
from typing import Any

from ._checks import check_int

__all__ = ["LRScheduler"]


def check_optimizer(optimizer) -> None:
    """Any optimizer with torch-style ``param_groups`` (optimlab's or torch's) can be scheduled."""
    groups = getattr(optimizer, "param_groups", None)
    if not isinstance(groups, list) or not groups or not all(isinstance(g, dict) for g in groups):
        raise TypeError(f"optimizer must have a non-empty list of dict param_groups, got {type(optimizer).__name__}")
    for i, group in enumerate(groups):
        if callable(group.get("lr")):
            raise TypeError(f"param_groups[{i}]['lr'] is a schedule function; a scheduler cannot also drive it "
                            "(pass a number as lr, or use the schedule function alone)")


def per_group(name: str, optimizer, value) -> list:
    """``value`` repeated for every group, or a list/tuple with one entry per group."""
    n = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"{name} must have one entry per param group ({n}), got {len(value)}: {value!r}")
        return list(value)
    return [value] * n


def save_callables(functions) -> list:
    """Torch's convention: a callable object's ``__dict__`` is saved, a plain function is not."""
    return [None if isinstance(fn, types.FunctionType) else copy.deepcopy(fn.__dict__) for fn in functions]


def load_callables(functions, saved) -> None:
    for fn, state in zip(functions, saved):
        if state is not None:
            fn.__dict__.update(copy.deepcopy(state))


class LRScheduler:
    """Base class; subclasses define ``_next_lrs()`` (the learning rates at ``self.last_epoch``)."""

    _callable_keys: tuple[str, ...] = ()  # attributes holding lists of user functions (saved as torch does)
    _is_initial = False

    def __init__(self, optimizer, last_epoch: int = -1) -> None:
        check_optimizer(optimizer)
        self.optimizer = optimizer
        last_epoch = check_int("last_epoch", last_epoch, minimum=-1)
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise ValueError(f"last_epoch={last_epoch} resumes a schedule, but param_groups[{i}] has no "
                                     "'initial_lr' (load the optimizer's state first)")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def step(self) -> None:
        """Advance one step and write the new learning rates (call after ``optimizer.step()``)."""
        self._step_count += 1
        self.last_epoch += 1
        self._write(self._next_lrs())

    def _next_lrs(self) -> list[float]:
        raise NotImplementedError

    def _restart(self) -> None:
        """Jump to step 0 of this schedule (``SequentialLR`` at a milestone; torch's ``_update_lr(0)``)."""
        self.last_epoch = 0
        self._write(self._next_lrs())

    def _write(self, lrs) -> None:
        for group, lr in zip(self.optimizer.param_groups, lrs, strict=True):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The learning rates of the last step, one per param group (a copy)."""
        return list(self._last_lr)

    # -- saving and loading --------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Every attribute except the optimizer, copied; user functions as torch saves them."""
        state = {key: copy.deepcopy(value) for key, value in self.__dict__.items()
                 if key != "optimizer" and key not in self._callable_keys}
        for key in self._callable_keys:
            state[key] = save_callables(self.__dict__[key])
        return state

    def _load_state(self, state_dict: dict[str, Any]) -> None:
        """Restore the attributes only (composite schedulers load their children with this)."""
        if not isinstance(state_dict, dict):
            raise TypeError(f"state_dict must be a dict, got {type(state_dict).__name__}")
        for key, saved in state_dict.items():
            if key in self._callable_keys:
                load_callables(self.__dict__[key], saved)
            else:
                self.__dict__[key] = copy.deepcopy(saved)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the scheduler and write its learning rates into the optimizer (see module doc)."""
        self._load_state(state_dict)
        self._restore_optimizer()

    def _restore_optimizer(self) -> None:
        for group, lr in zip(self.optimizer.param_groups, self._last_lr, strict=True):
            group["lr"] = lr


class ChainableScheduler(LRScheduler):
    """A scheduler given by a pure unit schedule ``_factor(t)`` and a floor (see module doc)."""

    def _factor(self, t: int) -> float:
        raise NotImplementedError

    def _floor(self) -> float:
        return 0.0

    def _closed_form(self, t: int) -> list[float]:
        floor, factor = self._floor(), self._factor(t)
        return [floor + (base - floor) * factor for base in self.base_lrs]

    def _next_lrs(self) -> list[float]:
        t = self.last_epoch
        current = [group["lr"] for group in self.optimizer.param_groups]
        if self._is_initial and t > 0:  # constructed with last_epoch >= 0: keep the loaded lr
            return current
        previous, factor, floor = (self._factor(t - 1) if t > 0 else 1.0), self._factor(t), self._floor()
        if factor == previous:
            return current
        if previous != 0:
            ratio = factor / previous
            return [floor + (lr - floor) * ratio for lr in current]
        return [lr + (base - floor) * (factor - previous) for lr, base in zip(current, self.base_lrs)]

    def _restart(self) -> None:
        self.last_epoch = 0
        self._write(self._closed_form(0))
