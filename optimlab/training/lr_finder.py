r"""Learning-rate range test (Smith 2017, *Cyclical Learning Rates for Training Neural Networks*, §3.3;
the fastai / ``torch-lr-finder`` recipe).

Train for ``num_steps`` steps while the learning rate grows exponentially from ``start_lr`` to
``end_lr`` (:func:`~optimlab.schedules.exponential`), :math:`\eta_i = \eta_{start}
(\eta_{end}/\eta_{start})^{i/(n-1)}`, recording the loss. The loss is smoothed by a bias-corrected
exponential moving average,

.. math:: a_i = \beta a_{i-1} + (1-\beta)\,\ell_i, \qquad \bar\ell_i = a_i / (1 - \beta^{i+1}),

the sweep stops once :math:`\bar\ell_i > \kappa \min_{j \le i} \bar\ell_j` (divergence,
``diverge_threshold`` :math:`\kappa`) or the loss is not finite, and the suggestion is the learning
rate where the smoothed loss falls fastest against :math:`\log\eta` (the most negative
:math:`d\bar\ell/d\log\eta`) on the way down to its minimum, ignoring the first ``skip_start``
and last ``skip_end`` points. (Looking only before the minimum keeps a steep recovery after a
loss spike at a too-large rate from being chosen.)
The parameters, gradients and optimizer state (including every group's ``lr``) are restored
afterwards, also when the closure raises.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from optimlab.schedules import exponential
from optimlab.schedules._checks import check_int, check_real

__all__ = ["LRRangeTest", "lr_range_test", "plot_lr_range_test"]


@dataclass(frozen=True)
class LRRangeTest:
    """The sweep: learning rates, raw and smoothed losses, the suggestion and why it stopped."""

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    suggestion: float | None
    diverged: bool

    def plot(self, ax=None):
        return plot_lr_range_test(self, ax)


def _snapshot(optimizer):
    params = [p for group in optimizer.param_groups for p in group["params"]]
    data = [p.data.copy() for p in params]
    grads = [None if p.grad is None else p.grad.copy() for p in params]
    return params, data, grads, optimizer.state_dict()


def _restore(optimizer, params, data, grads, state) -> None:
    for p, d, g in zip(params, data, grads):
        p.data[...] = d  # in place: parameters may be views into flat buffers
        p.grad = g
    optimizer.load_state_dict(state)


def _steepest(lrs: np.ndarray, smoothed: np.ndarray, skip_start: int, skip_end: int) -> float | None:
    stop = min(len(lrs) - skip_end, int(np.argmin(smoothed)) + 1)  # descent towards the minimum only
    if stop - skip_start < 3:
        return None
    slope = np.gradient(smoothed[skip_start:stop], np.log(lrs[skip_start:stop]))
    return float(lrs[skip_start + int(np.argmin(slope))])


def lr_range_test(optimizer, closure: Callable[[], float], *, start_lr: float = 1e-7, end_lr: float = 10.0,
                  num_steps: int = 100, smoothing: float = 0.98, diverge_threshold: float = 4.0,
                  skip_start: int = 10, skip_end: int = 5) -> LRRangeTest:
    """Run the range test; ``closure()`` computes the loss on the next batch and sets the gradients.

    Args:
        optimizer: an optimlab optimizer (every group's ``lr`` is swept together).
        closure: ``() -> loss``; called once per step, before ``optimizer.step()``.
        start_lr, end_lr: the sweep's ends (``0 < start_lr < end_lr``).
        num_steps: the most steps to take (``>= 2``).
        smoothing: :math:`\\beta` of the moving average, in ``[0, 1)`` (0: no smoothing).
        diverge_threshold: :math:`\\kappa > 1`; stop when the smoothed loss exceeds :math:`\\kappa` times its minimum.
        skip_start, skip_end: points left out of the suggestion at each end (noisy start, divergence).

    Returns:
        :class:`LRRangeTest`; ``suggestion`` is ``None`` when too few points remain.
    """
    start_lr = check_real("start_lr", start_lr, low=0.0, low_open=True)
    end_lr = check_real("end_lr", end_lr, low=start_lr, low_open=True)
    num_steps = check_int("num_steps", num_steps, minimum=2)
    smoothing = check_real("smoothing", smoothing, low=0.0, high=1.0, high_open=True)
    diverge_threshold = check_real("diverge_threshold", diverge_threshold, low=1.0, low_open=True)
    skip_start = check_int("skip_start", skip_start, minimum=0)
    skip_end = check_int("skip_end", skip_end, minimum=0)
    if not callable(closure):
        raise TypeError(f"closure must be callable, got {closure!r}")
    sweep = exponential(start_lr, (end_lr / start_lr) ** (1.0 / (num_steps - 1)))

    saved = _snapshot(optimizer)
    lrs, losses, smoothed = [], [], []
    average, best, diverged = 0.0, math.inf, False
    try:
        for i in range(num_steps):
            lr = sweep(i)
            for group in optimizer.param_groups:
                group["lr"] = lr
            optimizer.zero_grad()
            loss = float(closure())
            if not math.isfinite(loss):
                diverged = True
                break
            average = smoothing * average + (1 - smoothing) * loss
            value = average / (1 - smoothing ** (i + 1))
            lrs.append(lr)
            losses.append(loss)
            smoothed.append(value)
            best = min(best, value)
            if value > diverge_threshold * best:
                diverged = True
                break
            optimizer.step()
    finally:
        _restore(optimizer, *saved)
    lrs, losses, smoothed = np.array(lrs), np.array(losses), np.array(smoothed)
    return LRRangeTest(lrs, losses, smoothed, _steepest(lrs, smoothed, skip_start, skip_end), diverged)


def plot_lr_range_test(result: LRRangeTest, ax=None):
    """Loss and smoothed loss against the learning rate (log axis), the suggestion marked."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(result.lrs, result.losses, color="0.75", lw=1, label="loss")
    ax.plot(result.lrs, result.smoothed, color="C0", lw=2, label="smoothed loss")
    if result.suggestion is not None:
        ax.axvline(result.suggestion, color="C3", ls="--", label=f"steepest descent: {result.suggestion:.2g}")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss")
    ax.legend(frameon=False)
    return ax
