r"""Weight averaging: SWA (equal average) and EMA of parameters, as ``torch.optim.swa_utils.AveragedModel``.

Both keep an average :math:`\bar\theta` beside the parameters :math:`\theta_t`. The first ``update()``
copies :math:`\bar\theta_1 = \theta_1` (so there is no zero-initialisation bias); the :math:`n`-th
later update (``n_averaged`` = :math:`n` averages so far) does

.. math::
    \text{SWA:}\quad \bar\theta \leftarrow \bar\theta + \frac{\theta - \bar\theta}{n + 1}
        \quad\big(\bar\theta = \tfrac{1}{n+1}\textstyle\sum_{i\le n+1}\theta_i\big), \qquad
    \text{EMA:}\quad \bar\theta \leftarrow \bar\theta + (1 - \beta_n)(\theta - \bar\theta),

with :math:`\beta_n = \beta` (torch's ``get_ema_multi_avg_fn(decay)``), or with ``warmup=True``
:math:`\beta_n = \min\big(\beta, \frac{1 + n}{10 + n}\big)` (the ``num_updates`` form of
``tf.train.ExponentialMovingAverage``), which lets the average follow quickly early in training.
References: Izmailov et al. (2018), "Averaging Weights Leads to Wider Optima"; Polyak & Juditsky (1992).
"""

from __future__ import annotations

import contextlib
import numbers

from optimlab.backend import get_array_module, is_array
from optimlab.training.gradients import parameter_list


class AveragedParameters:
    """Base class: averaged copies of ``params`` (same dtype and backend), updated by ``update()``.

    Subclasses define ``_average(avg, current, n)``, the in-place update after ``n`` averages.
    """

    def __init__(self, params):
        self.params = parameter_list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__} got no parameters")
        self.averaged = [p.data.copy() for p in self.params]
        self.n_averaged = 0

    def _average(self, avg, current, n: int) -> None:
        raise NotImplementedError

    def update(self) -> None:
        """Fold the parameters' current values into the average (the first call copies them)."""
        for avg, p in zip(self.averaged, self.params):
            if self.n_averaged == 0:
                avg[...] = p.data
            else:
                self._average(avg, p.data, self.n_averaged)
        self.n_averaged += 1

    def copy_to(self, params=None) -> None:
        """Write the averages into ``params`` (default: the tracked parameters), in place."""
        targets = self.params if params is None else parameter_list(params)
        if len(targets) != len(self.averaged):
            raise ValueError(f"copy_to got {len(targets)} parameters, the average has {len(self.averaged)}")
        for avg, p in zip(self.averaged, targets):
            if tuple(p.shape) != tuple(avg.shape):
                raise ValueError(f"parameter {p.name or ''} has shape {tuple(p.shape)}, its average {tuple(avg.shape)}")
            p.data[...] = avg

    @contextlib.contextmanager
    def applied(self):
        """Within the ``with`` block the tracked parameters hold the averages (e.g. to evaluate);
        their own values are restored on exit."""
        saved = [p.data.copy() for p in self.params]
        self.copy_to()
        try:
            yield self
        finally:
            for value, p in zip(saved, self.params):
                p.data[...] = value

    def state_dict(self) -> dict:
        return {"n_averaged": self.n_averaged, "averaged": [avg.copy() for avg in self.averaged]}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore from ``state_dict()``; shapes and dtypes are checked before anything changes."""
        n, averaged = state_dict["n_averaged"], state_dict["averaged"]
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
            raise ValueError(f"n_averaged must be a non-negative int, got {n!r}")
        if len(averaged) != len(self.averaged):
            raise ValueError(f"state dict has {len(averaged)} averages, expected {len(self.averaged)}")
        for i, (new, old) in enumerate(zip(averaged, self.averaged)):
            if not is_array(new) or tuple(new.shape) != tuple(old.shape) or new.dtype != old.dtype:
                raise ValueError(f"average {i} must be an array of shape {tuple(old.shape)} and dtype {old.dtype}")
        self.averaged = [get_array_module(old).array(new, copy=True) for new, old in zip(averaged, self.averaged)]
        self.n_averaged = int(n)


class SWA(AveragedParameters):
    """Stochastic weight averaging: the equal average of every parameter value passed to ``update()``
    (``AveragedModel`` with its default averaging)."""

    def _average(self, avg, current, n):
        avg += (current - avg) / (n + 1)  # θ̄ ← θ̄ + (θ − θ̄)/(n + 1)


class EMA(AveragedParameters):
    """Exponential moving average with ``decay`` β (``AveragedModel(multi_avg_fn=get_ema_multi_avg_fn(β))``);
    ``warmup=True`` uses β_n = min(β, (1 + n)/(10 + n)) (see the module docstring)."""

    def __init__(self, params, decay: float = 0.999, *, warmup: bool = False):
        if isinstance(decay, bool) or not isinstance(decay, numbers.Real) or not 0 < decay < 1:
            raise ValueError(f"EMA decay must be a real number in (0, 1), got {decay!r}")
        if not isinstance(warmup, bool):
            raise TypeError(f"warmup must be a bool, got {type(warmup).__name__}: {warmup!r}")
        super().__init__(params)
        self.decay, self.warmup = float(decay), warmup

    def decay_at(self, n: int) -> float:
        """β_n, the decay used by the update after ``n`` averages."""
        return min(self.decay, (1 + n) / (10 + n)) if self.warmup else self.decay

    def _average(self, avg, current, n):
        avg += (1 - self.decay_at(n)) * (current - avg)  # θ̄ ← θ̄ + (1 − β_n)(θ − θ̄)
