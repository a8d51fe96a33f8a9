r"""Torch 2.13's step-indexed schedulers, each a thin adapter over a pure schedule.

Same names, arguments, defaults and learning rates as ``torch.optim.lr_scheduler`` (tested to a
relative error of 1e-12 over 300+ steps). The chainable ones update ``group["lr"]`` by the ratio of
their pure unit schedule (see :mod:`optimlab.schedules.base`); ``LambdaLR`` and ``ScheduleLR`` write
the closed form. Differences from torch: bad arguments raise at construction (torch fails later, or
not at all), ``step()`` takes no ``epoch`` (torch's is deprecated), and resuming works in either
construction order.
"""

from __future__ import annotations

from typing import Callable

from ._checks import check_int, check_real
from .base import ChainableScheduler, LRScheduler, per_group
from .functions import constant, cosine, exponential, join, linear, multistep, polynomial, step_decay

__all__ = ["LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR", "LinearLR",
           "ExponentialLR", "PolynomialLR", "CosineAnnealingLR", "ScheduleLR"]


def _functions(name: str, optimizer, fn) -> list[Callable]:
    functions = per_group(name, optimizer, fn)
    for i, f in enumerate(functions):
        if not callable(f):
            raise TypeError(f"{name}[{i}] must be callable, got {f!r}")
    return functions


class LambdaLR(LRScheduler):
    r""":math:`\eta_t = \eta_{base}\,\lambda(t)`, one ``lr_lambda`` or one per group (closed form)."""

    _callable_keys = ("lr_lambdas",)

    def __init__(self, optimizer, lr_lambda, last_epoch: int = -1) -> None:
        self.lr_lambdas = _functions("lr_lambda", optimizer, lr_lambda)
        super().__init__(optimizer, last_epoch)

    def _next_lrs(self):
        return [base * fn(self.last_epoch) for fn, base in zip(self.lr_lambdas, self.base_lrs)]


class ScheduleLR(LRScheduler):
    r""":math:`\eta_t = s(t)`: drive ``group["lr"]`` with pure schedules of absolute learning rates
    (one, or one per group), e.g. ``ScheduleLR(opt, warmup_cosine_decay(3e-4, 100, 5000))``.

    optimlab's optimizers also accept the schedule itself as ``lr`` (evaluated at the optimizer's
    completed-step count); this adapter does the same job for any torch-style optimizer and
    composes with ``SequentialLR``/``ChainedScheduler``.
    """

    _callable_keys = ("schedules",)

    def __init__(self, optimizer, schedule, last_epoch: int = -1) -> None:
        self.schedules = _functions("schedule", optimizer, schedule)
        super().__init__(optimizer, last_epoch)

    def _next_lrs(self):
        return [s(self.last_epoch) for s in self.schedules]


class MultiplicativeLR(LRScheduler):
    r""":math:`\eta_t = \eta_{t-1}\,\lambda(t)`, i.e. :math:`\eta_{base}\prod_{s=1}^t \lambda(s)`.

    The one schedule defined by its recursion (its closed form is a running product), kept as torch
    has it: the factor multiplies the current ``group["lr"]``.
    """

    _callable_keys = ("lr_lambdas",)

    def __init__(self, optimizer, lr_lambda, last_epoch: int = -1) -> None:
        self.lr_lambdas = _functions("lr_lambda", optimizer, lr_lambda)
        super().__init__(optimizer, last_epoch)

    def _next_lrs(self):
        current = [group["lr"] for group in self.optimizer.param_groups]
        if self._is_initial:
            return current
        return [lr * fn(self.last_epoch) for fn, lr in zip(self.lr_lambdas, current)]


class StepLR(ChainableScheduler):
    r""":math:`\eta_t = \eta_{base}\,\gamma^{\lfloor t/s \rfloor}` (:func:`~.functions.step_decay`)."""

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1) -> None:
        step_decay(1.0, step_size, gamma)
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def _factor(self, t):
        return step_decay(1.0, self.step_size, self.gamma)(t)


class MultiStepLR(ChainableScheduler):
    r""":math:`\eta_t = \eta_{base}\,\gamma^{\#\{m \le t\}}` (:func:`~.functions.multistep`);
    ``milestones`` must be non-decreasing (torch accepts any order)."""

    def __init__(self, optimizer, milestones, gamma: float = 0.1, last_epoch: int = -1) -> None:
        multistep(1.0, milestones, gamma)
        self.milestones, self.gamma = [int(m) for m in milestones], gamma
        super().__init__(optimizer, last_epoch)

    def _factor(self, t):
        return multistep(1.0, self.milestones, self.gamma)(t)


class ConstantLR(ChainableScheduler):
    r""":math:`\eta_t = \eta_{base}\cdot\text{factor}` for :math:`t < T`, then :math:`\eta_{base}`.

    ``factor=0`` works (the lr returns to :math:`\eta_{base}` at :math:`T`); torch divides by zero.
    """

    def __init__(self, optimizer, factor: float = 1.0 / 3, total_iters: int = 5, last_epoch: int = -1) -> None:
        self.factor = check_real("factor", factor, low=0.0, high=1.0)
        self.total_iters = check_int("total_iters", total_iters)
        super().__init__(optimizer, last_epoch)

    def _factor(self, t):
        return join([constant(self.factor), constant(1.0)], [self.total_iters])(t)


class LinearLR(ChainableScheduler):
    r""":math:`\eta_t = \eta_{base}\,(s + (e - s)\min(t, T)/T)` (:func:`~.functions.linear`)."""

    def __init__(self, optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1) -> None:
        self.start_factor = check_real("start_factor", start_factor, low=0.0, high=1.0, low_open=True)
        self.end_factor = check_real("end_factor", end_factor, low=0.0, high=1.0)
        self.total_iters = check_int("total_iters", total_iters)
        super().__init__(optimizer, last_epoch)

    def _factor(self, t):
        return linear(self.start_factor, self.end_factor, self.total_iters)(t)


class ExponentialLR(ChainableScheduler):
    r""":math:`\eta_t = \eta_{base}\,\gamma^t` (:func:`~.functions.exponential`)."""

    def __init__(self, optimizer, gamma: float, last_epoch: int = -1) -> None:
        exponential(1.0, gamma)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def _factor(self, t):
        return exponential(1.0, self.gamma)(t)


class PolynomialLR(ChainableScheduler):
    r""":math:`\eta_t = \eta_{base}\,(1 - \min(t, T)/T)^p` (:func:`~.functions.polynomial`)."""

    def __init__(self, optimizer, total_iters: int = 5, power: float = 1.0, last_epoch: int = -1) -> None:
        self.total_iters = check_int("total_iters", total_iters)
        polynomial(1.0, total_iters, power)
        self.power = power
        super().__init__(optimizer, last_epoch)

    def _factor(self, t):
        return polynomial(1.0, self.total_iters, self.power)(t)


class CosineAnnealingLR(ChainableScheduler):
    r"""Cosine annealing from :math:`\eta_{base}` to :math:`\eta_{min}` over ``T_max`` steps:

    .. math:: \eta_t = \eta_{min} + \tfrac12(\eta_{base} - \eta_{min})(1 + \cos(\pi t / T_{max})).

    Past ``T_max`` this matches torch, whose recursion keeps following the cosine: the lr rises
    back to :math:`\eta_{base}` at :math:`2T_{max}` (period :math:`2T_{max}`), rather than holding
    :math:`\eta_{min}` as the SGDR paper's :math:`T_{cur} \le T_{max}` implies. For the held form use
    ``ScheduleLR(opt, cosine(lr, T_max, eta_min))`` (``periodic=False``).
    """

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1) -> None:
        self.T_max = check_int("T_max", T_max)
        self.eta_min = check_real("eta_min", eta_min)
        super().__init__(optimizer, last_epoch)

    def _factor(self, t):
        return cosine(1.0, self.T_max, periodic=True)(t)

    def _floor(self):
        return self.eta_min
