r"""Warmup schedules of the transformer era, as pure functions of the step.

* the Hugging Face family (``transformers.get_{constant,linear,cosine}_schedule_with_warmup``):
  linear warmup :math:`\eta_t = \eta_{peak}\,t/W` for :math:`t < W`, then constant, linear decay
  or cosine decay to ``total_steps``; :math:`t = 0` gives 0, exactly as there;
* inverse square root (Hugging Face ``get_inverse_sqrt_schedule``) and Noam (Vaswani et al. 2017,
  *Attention Is All You Need*, eq. 3);
* warmup-stable-decay (Hu et al. 2024, *MiniCPM*; Hägele et al. 2024, *Scaling Laws and
  Compute-Optimal Training Beyond Fixed Training Durations*) with the cooldown shapes
  linear, cosine, 1-sqrt and 1-square.

All are built with :func:`~optimlab.schedules.functions.join` from the classic pieces where the
piece exists, so there is one formula per shape.
"""

from __future__ import annotations

import math

from ._checks import check_choice, check_int, check_real, check_step
from .functions import Schedule, constant, cosine, join, linear

__all__ = ["warmup_constant", "warmup_linear_decay", "warmup_cosine_decay", "inverse_sqrt", "noam",
           "warmup_stable_decay"]


def _warmup_then(peak_value: float, warmup_steps: int, after: Schedule) -> Schedule:
    if warmup_steps == 0:
        return after
    return join([linear(0.0, peak_value, warmup_steps), after], [warmup_steps])


def _decay_length(warmup_steps: int, total_steps: int) -> int:
    total_steps = check_int("total_steps", total_steps)
    if total_steps <= warmup_steps:
        raise ValueError(f"total_steps must exceed warmup_steps={warmup_steps}, got {total_steps!r}")
    return total_steps - warmup_steps


def warmup_constant(peak_value: float, warmup_steps: int) -> Schedule:
    r"""Linear warmup from 0 over ``warmup_steps``, then :math:`\eta_{peak}`."""
    peak_value = check_real("peak_value", peak_value)
    warmup_steps = check_int("warmup_steps", warmup_steps, minimum=0)
    return _warmup_then(peak_value, warmup_steps, constant(peak_value))


def warmup_linear_decay(peak_value: float, warmup_steps: int, total_steps: int,
                        end_value: float = 0.0) -> Schedule:
    r"""Linear warmup, then linear decay from :math:`\eta_{peak}` at :math:`W` to ``end_value`` at
    ``total_steps``, held after it."""
    peak_value = check_real("peak_value", peak_value)
    warmup_steps = check_int("warmup_steps", warmup_steps, minimum=0)
    decay = linear(peak_value, end_value, _decay_length(warmup_steps, total_steps))
    return _warmup_then(peak_value, warmup_steps, decay)


def warmup_cosine_decay(peak_value: float, warmup_steps: int, total_steps: int,
                        min_value: float = 0.0) -> Schedule:
    r"""Linear warmup, then a half cosine from :math:`\eta_{peak}` to ``min_value`` at ``total_steps``.

    As in Hugging Face's ``get_cosine_schedule_with_warmup`` (and torch's ``CosineAnnealingLR``), the
    cosine is not clamped: after ``total_steps`` it rises again. Use ``join`` with a constant to
    hold the minimum instead.
    """
    peak_value = check_real("peak_value", peak_value)
    warmup_steps = check_int("warmup_steps", warmup_steps, minimum=0)
    decay = cosine(peak_value, _decay_length(warmup_steps, total_steps), min_value, periodic=True)
    return _warmup_then(peak_value, warmup_steps, decay)


def inverse_sqrt(peak_value: float, warmup_steps: int, timescale: int | None = None) -> Schedule:
    r"""Linear warmup, then :math:`\eta_t = \eta_{peak}/\sqrt{(t + \tau - W)/\tau}` for
    :math:`t \ge W` (Hugging Face ``get_inverse_sqrt_schedule``; the timescale :math:`\tau`
    defaults to :math:`W`, or 10 000 without warmup, so that :math:`\eta_W = \eta_{peak}`)."""
    peak_value = check_real("peak_value", peak_value)
    warmup_steps = check_int("warmup_steps", warmup_steps, minimum=0)
    timescale = (warmup_steps or 10_000) if timescale is None else check_int("timescale", timescale)
    shift = timescale - warmup_steps

    def decay(step):
        return peak_value / math.sqrt((check_step(step) + warmup_steps + shift) / timescale)
    return _warmup_then(peak_value, warmup_steps, decay)


def noam(d_model: int, warmup_steps: int, factor: float = 1.0) -> Schedule:
    r"""The Transformer schedule (Vaswani et al. 2017, eq. 3):

    .. math:: \eta_t = c\, d_{model}^{-1/2} \min(n^{-1/2},\; n\, W^{-3/2}),\qquad n = \max(t, 1),

    linear warmup to the peak :math:`c\,(d_{model} W)^{-1/2}` at :math:`n = W`, then
    :math:`\propto n^{-1/2}`. The paper counts steps from 1; :math:`t = 0` is treated as step 1, as in
    *The Annotated Transformer*.
    """
    d_model = check_int("d_model", d_model)
    warmup_steps = check_int("warmup_steps", warmup_steps)
    factor = check_real("factor", factor, low=0.0, low_open=True)

    def schedule(step):
        n = max(check_step(step), 1)
        return factor * d_model ** -0.5 * min(n ** -0.5, n * warmup_steps ** -1.5)
    return schedule


_COOLDOWN_SHAPES = {
    "linear": lambda p: 1.0 - p,
    "cosine": lambda p: (1.0 + math.cos(math.pi * p)) / 2,
    "1-sqrt": lambda p: 1.0 - math.sqrt(p),
    "1-square": lambda p: 1.0 - p * p,
}


def warmup_stable_decay(peak_value: float, warmup_steps: int, stable_steps: int, decay_steps: int,
                        cooldown: str = "linear", min_value: float = 0.0) -> Schedule:
    r"""Warmup-stable-decay (trapezoid): linear warmup from 0 over :math:`W` steps, :math:`\eta_{peak}`
    for :math:`S` steps, then a cooldown over :math:`D` steps

    .. math:: \eta_t = \eta_{min} + (\eta_{peak} - \eta_{min})\, c(p), \qquad p = (t - W - S)/D,

    with :math:`c(p) = 1 - p` (``linear``), :math:`\tfrac12(1 + \cos\pi p)` (``cosine``),
    :math:`1 - \sqrt p` (``1-sqrt``, Hägele et al.'s best) or :math:`1 - p^2` (``1-square``);
    :math:`\eta_{min}` after. (Hugging Face's ``get_wsd_schedule`` starts its warmup at the minimum
    instead of 0.)
    """
    peak_value = check_real("peak_value", peak_value)
    warmup_steps = check_int("warmup_steps", warmup_steps, minimum=0)
    stable_steps = check_int("stable_steps", stable_steps, minimum=0)
    decay_steps = check_int("decay_steps", decay_steps)
    shape = _COOLDOWN_SHAPES[check_choice("cooldown", cooldown, _COOLDOWN_SHAPES)]
    min_value = check_real("min_value", min_value)

    def decay(step):
        progress = min(check_step(step), decay_steps) / decay_steps
        return min_value + (peak_value - min_value) * shape(progress)

    pieces, boundaries = [decay], []
    if stable_steps:
        pieces, boundaries = [constant(peak_value), decay], [stable_steps]
    return _warmup_then(peak_value, warmup_steps, join(pieces, boundaries))
