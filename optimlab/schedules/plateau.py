r"""``ReduceLROnPlateau``: the one scheduler driven by a metric instead of the step count (torch 2.13).

A step is *good* when the metric beats the best so far by the threshold: for ``mode='min'``,
:math:`m < b(1 - \theta)` (``rel``) or :math:`m < b - \theta` (``abs``); mirrored for ``'max'``.
After more than ``patience`` bad steps in a row, every group's lr becomes
:math:`\max(\eta\,\text{factor}, \eta_{min})` (skipped when the change is below ``eps``), and the
next ``cooldown`` steps are not counted.
"""

from __future__ import annotations

import math

from ._checks import check_choice, check_int, check_real
from .base import LRScheduler, check_optimizer, per_group

__all__ = ["ReduceLROnPlateau"]


class ReduceLROnPlateau(LRScheduler):
    """Reduce the learning rate when a metric has stopped improving (``step(metric)``)."""

    def __init__(self, optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr=0.0, eps: float = 1e-8) -> None:
        check_optimizer(optimizer)
        self.optimizer = optimizer
        self.mode = check_choice("mode", mode, {"min", "max"})
        self.threshold_mode = check_choice("threshold_mode", threshold_mode, {"rel", "abs"})
        self.factor = check_real("factor", factor, low=0.0, high=1.0, low_open=True, high_open=True)
        self.patience = check_int("patience", patience, minimum=0)
        self.threshold = check_real("threshold", threshold, low=0.0)
        self.cooldown = check_int("cooldown", cooldown, minimum=0)
        self.min_lrs = [check_real("min_lr", v, low=0.0) for v in per_group("min_lr", optimizer, min_lr)]
        self.eps = check_real("eps", eps, low=0.0)
        self.last_epoch = 0
        self.best = math.inf if self.mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self._last_lr = [group["lr"] for group in optimizer.param_groups]

    def _is_better(self, metric: float) -> bool:
        sign = 1.0 if self.mode == "min" else -1.0
        if self.threshold_mode == "rel":
            return sign * metric < sign * self.best * (1.0 - sign * self.threshold)
        return sign * metric < sign * self.best - self.threshold

    def step(self, metrics) -> None:  # noqa: D401 - torch's name for the argument
        """Record one value of the monitored metric and reduce the lr if it has plateaued."""
        current = float(metrics)
        self.last_epoch += 1
        if self._is_better(current):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs, strict=True):
                new_lr = max(group["lr"] * self.factor, min_lr)
                if group["lr"] - new_lr > self.eps:
                    group["lr"] = new_lr
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0
