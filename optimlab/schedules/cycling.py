r"""Torch 2.13's cycling schedulers over pure schedules: ``CosineAnnealingWarmRestarts``,
``CyclicLR`` and ``OneCycleLR`` (the last two also cycle momentum, or Adam's :math:`\beta_1`).

All three write closed forms, so they are not chainable (as in torch).
"""

from __future__ import annotations

import math

from ._checks import check_choice, check_int, check_real, check_step
from .base import LRScheduler, check_optimizer, per_group
from .functions import ANNEAL, cosine_warm_restarts, cyclic, one_cycle_ends, piecewise_anneal, sgdr_position

__all__ = ["CosineAnnealingWarmRestarts", "CyclicLR", "OneCycleLR"]


class _MomentumCycling(LRScheduler):
    """Writes ``group['momentum']`` (SGD-like) or ``group['betas'][0]`` (Adam-like) with the lr."""

    def _setup_momentum(self, optimizer, cycle_momentum) -> None:
        if not isinstance(cycle_momentum, bool):
            raise TypeError(f"cycle_momentum must be a bool, got {cycle_momentum!r}")
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            defaults = getattr(optimizer, "defaults", {})
            if "momentum" not in defaults and "betas" not in defaults:
                raise ValueError("cycle_momentum=True needs an optimizer with 'momentum' or 'betas' "
                                 f"({type(optimizer).__name__} has neither); pass cycle_momentum=False")
            self.use_beta1 = "betas" in defaults

    def _write_momenta(self, momenta) -> None:
        for group, momentum in zip(self.optimizer.param_groups, momenta, strict=True):
            if self.use_beta1:
                group["betas"] = (momentum, *group["betas"][1:])
            else:
                group["momentum"] = momentum
        self._last_momentum = list(momenta)

    def _restore_optimizer(self) -> None:
        super()._restore_optimizer()
        if self.cycle_momentum:
            self._write_momenta(self._last_momentum)


class CosineAnnealingWarmRestarts(LRScheduler):
    r"""SGDR: cosine annealing restarted every :math:`T_i = T_0 T_{mult}^i` steps
    (:func:`~.functions.cosine_warm_restarts`).

    ``step(epoch)`` accepts a fractional epoch (``scheduler.step(epoch + i / iters)``), as in torch;
    ``step()`` advances by one. Cycle boundaries are found exactly (torch's ``step(epoch)`` can land
    one cycle early where a logarithm rounds down, e.g. ``T_0=1, T_mult=3, epoch=121``).
    """

    def __init__(self, optimizer, T_0: int, T_mult: int = 1, eta_min: float = 0.0, last_epoch: int = -1) -> None:
        self.T_0 = check_int("T_0", T_0)
        self.T_mult = check_int("T_mult", T_mult)
        self.eta_min = check_real("eta_min", eta_min)
        self.T_i, self.T_cur = self.T_0, last_epoch
        self._epoch = check_int("last_epoch", last_epoch, minimum=-1)
        super().__init__(optimizer, last_epoch)

    def step(self, epoch: float | None = None) -> None:
        """Advance to ``epoch`` (default: one past the last)."""
        epoch = self._epoch + 1 if epoch is None else check_step(epoch)
        self._step_count += 1
        self._go_to(epoch)

    def _go_to(self, epoch) -> None:
        self._epoch, self.last_epoch = epoch, math.floor(epoch)
        self.T_cur, self.T_i = sgdr_position(epoch, self.T_0, self.T_mult)
        self._write(self._next_lrs())

    def _next_lrs(self):
        return [cosine_warm_restarts(base, self.T_0, self.T_mult, self.eta_min)(self._epoch) for base in self.base_lrs]

    def _restart(self) -> None:
        self._go_to(0)


class CyclicLR(_MomentumCycling):
    r"""Cyclical learning rates (Smith 2017) between ``base_lr`` and ``max_lr``
    (:func:`~.functions.cyclic`), with momentum cycled inversely between ``max_momentum`` and
    ``base_momentum``. Sets each group's ``lr`` to ``base_lr`` on construction, as torch does.
    Passing ``scale_fn`` with a non-default ``mode`` is an error (torch ignores ``mode``).
    """

    _callable_keys = ("_scale_fn",)

    def __init__(self, optimizer, base_lr, max_lr, step_size_up: int = 2000, step_size_down: int | None = None,
                 mode: str = "triangular", gamma: float = 1.0, scale_fn=None, scale_mode: str = "cycle",
                 cycle_momentum: bool = True, base_momentum=0.8, max_momentum=0.9, last_epoch: int = -1) -> None:
        check_optimizer(optimizer)
        last_epoch = check_int("last_epoch", last_epoch, minimum=-1)
        base_lrs = [check_real("base_lr", v, low=0.0) for v in per_group("base_lr", optimizer, base_lr)]
        self.max_lrs = [check_real("max_lr", v, low=0.0) for v in per_group("max_lr", optimizer, max_lr)]
        self.step_size_up, self.step_size_down = step_size_up, step_size_down
        self.mode, self.gamma, self.scale_mode = mode, gamma, scale_mode
        self._scale_fn = [] if scale_fn is None else [scale_fn]
        self._lr_schedule(0.0, 1.0)  # checks the cycle arguments
        self._setup_momentum(optimizer, cycle_momentum)
        if cycle_momentum:
            self.base_momentums = per_group("base_momentum", optimizer, base_momentum)
            self.max_momentums = per_group("max_momentum", optimizer, max_momentum)
        if last_epoch == -1:
            for lr, group in zip(base_lrs, optimizer.param_groups):
                group["lr"] = lr
            if cycle_momentum:
                for group, high, low in zip(optimizer.param_groups, self.max_momentums, self.base_momentums):
                    group["max_momentum"], group["base_momentum"] = high, low
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs  # the cycle's lower bounds, not initial_lr (as in torch)

    def _lr_schedule(self, low, high):
        return cyclic(low, high, self.step_size_up, self.step_size_down, self.mode, self.gamma,
                      self._scale_fn[0] if self._scale_fn else None, self.scale_mode)

    def _next_lrs(self):
        t = self.last_epoch
        if self.cycle_momentum:
            self._write_momenta([self._lr_schedule(high, low)(t)
                                 for low, high in zip(self.base_momentums, self.max_momentums)])
        return [self._lr_schedule(low, high)(t) for low, high in zip(self.base_lrs, self.max_lrs)]


class OneCycleLR(_MomentumCycling):
    r"""The 1cycle policy (Smith & Topin 2017; :func:`~.functions.one_cycle`), reading each group's
    ``initial_lr``, ``max_lr``, ``min_lr`` (and ``max_momentum``, ``base_momentum``) as torch does.

    ``total_steps`` updates use steps :math:`0..T-1`; one more ``step()`` (to :math:`T`) is allowed, as
    in torch, and the next raises ``ValueError`` without changing the scheduler.
    """

    def __init__(self, optimizer, max_lr, total_steps: int | None = None, epochs: int | None = None,
                 steps_per_epoch: int | None = None, pct_start: float = 0.3, anneal_strategy: str = "cos",
                 cycle_momentum: bool = True, base_momentum=0.85, max_momentum=0.95, div_factor: float = 25.0,
                 final_div_factor: float = 1e4, three_phase: bool = False, last_epoch: int = -1) -> None:
        check_optimizer(optimizer)
        last_epoch = check_int("last_epoch", last_epoch, minimum=-1)
        if total_steps is not None:
            self.total_steps = check_int("total_steps", total_steps)
        elif epochs is not None and steps_per_epoch is not None:
            self.total_steps = check_int("epochs", epochs) * check_int("steps_per_epoch", steps_per_epoch)
        else:
            raise ValueError("OneCycleLR needs total_steps, or both epochs and steps_per_epoch")
        self.pct_start = check_real("pct_start", pct_start, low=0.0, high=1.0, low_open=True, high_open=True)
        self.anneal_strategy = check_choice("anneal_strategy", anneal_strategy, ANNEAL)
        if not isinstance(three_phase, bool):
            raise TypeError(f"three_phase must be a bool, got {three_phase!r}")
        self.three_phase = three_phase
        self._ends = one_cycle_ends(self.total_steps, self.pct_start, three_phase)
        div_factor = check_real("div_factor", div_factor, low=0.0, low_open=True)
        final_div_factor = check_real("final_div_factor", final_div_factor, low=0.0, low_open=True)
        self._setup_momentum(optimizer, cycle_momentum)
        if last_epoch == -1:
            for peak, group in zip(per_group("max_lr", optimizer, max_lr), optimizer.param_groups):
                group["initial_lr"] = check_real("max_lr", peak, low=0.0) / div_factor
                group["max_lr"] = peak
                group["min_lr"] = group["initial_lr"] / final_div_factor
            if cycle_momentum:
                for group, high, low in zip(optimizer.param_groups, per_group("max_momentum", optimizer, max_momentum),
                                            per_group("base_momentum", optimizer, base_momentum)):
                    group["max_momentum"], group["base_momentum"] = high, low
        super().__init__(optimizer, last_epoch)

    def step(self) -> None:
        if self.last_epoch + 1 > self.total_steps:
            raise ValueError(f"OneCycleLR cannot step to {self.last_epoch + 1}: past total_steps={self.total_steps}")
        super().step()

    def _anneal(self, group, keys):
        return piecewise_anneal(self.last_epoch, self._ends, [group[k] for k in keys], self.anneal_strategy)

    def _next_lrs(self):
        groups = self.optimizer.param_groups
        lr_keys = ["initial_lr", "max_lr", "initial_lr", "min_lr"] if self.three_phase else ["initial_lr", "max_lr", "min_lr"]
        if self.cycle_momentum:
            m_keys = ["max_momentum", "base_momentum", "max_momentum"] + (["max_momentum"] if self.three_phase else [])
            self._write_momenta([self._anneal(group, m_keys) for group in groups])
        return [self._anneal(group, lr_keys) for group in groups]
