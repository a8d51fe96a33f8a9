r"""Classic learning-rate schedules as pure functions of the step.

Each factory checks its arguments once and returns ``schedule(step) -> value``, a pure function of the
number of completed steps ``t >= 0`` (``t = 0`` is the value used by the first update, the same
count as torch's ``last_epoch``). With ``init_value=1`` a schedule is a multiplier, which is how the
scheduler classes in :mod:`optimlab.schedules.schedulers` use them. A pure function cannot drift
from its formula or resume wrongly: the value at step ``t`` depends on ``t`` alone.

Notation: :math:`\eta_0` the initial value, :math:`t` the step, :math:`T` a length in steps.

References: Loshchilov & Hutter, *SGDR: Stochastic Gradient Descent with Warm Restarts*, ICLR 2017
(cosine, warm restarts); Smith, *Cyclical Learning Rates for Training Neural Networks*, WACV 2017
(cyclic); Smith & Topin, *Super-Convergence*, 2017 (one-cycle).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from typing import Callable, Sequence

from ._checks import check_choice, check_int, check_real, check_sorted_ints, check_step

Schedule = Callable[[float], float]

__all__ = [
    "constant", "step_decay", "multistep", "exponential", "polynomial", "linear", "cosine",
    "cosine_warm_restarts", "sgdr_position", "cyclic", "one_cycle", "one_cycle_momentum",
    "piecewise_anneal", "join",
]


def constant(value: float = 1.0) -> Schedule:
    r""":math:`\eta_t = \eta_0`."""
    value = check_real("value", value)

    def schedule(step):
        check_step(step)
        return value
    return schedule


def step_decay(init_value: float, step_size: int, gamma: float = 0.1) -> Schedule:
    r"""Step decay (torch ``StepLR``): :math:`\eta_t = \eta_0\,\gamma^{\lfloor t/s\rfloor}`."""
    init_value = check_real("init_value", init_value)
    step_size = check_int("step_size", step_size)
    gamma = check_real("gamma", gamma, low=0.0, low_open=True)

    def schedule(step):
        return init_value * gamma ** (check_step(step) // step_size)
    return schedule


def multistep(init_value: float, milestones: Sequence[int], gamma: float = 0.1) -> Schedule:
    r"""Multi-step decay (torch ``MultiStepLR``): :math:`\eta_t = \eta_0\,\gamma^{\#\{m_i \le t\}}`.

    ``milestones`` must be non-decreasing; a milestone listed ``k`` times decays by :math:`\gamma^k`
    there, as in torch.
    """
    init_value = check_real("init_value", init_value)
    milestones = check_sorted_ints("milestones", milestones, strict=False, minimum=0)
    gamma = check_real("gamma", gamma, low=0.0, low_open=True)

    def schedule(step):
        return init_value * gamma ** bisect_right(milestones, check_step(step))
    return schedule


def exponential(init_value: float, gamma: float) -> Schedule:
    r"""Exponential decay (torch ``ExponentialLR``): :math:`\eta_t = \eta_0\,\gamma^t`."""
    init_value = check_real("init_value", init_value)
    gamma = check_real("gamma", gamma, low=0.0, low_open=True)

    def schedule(step):
        return init_value * gamma ** check_step(step)
    return schedule


def polynomial(init_value: float, total_steps: int, power: float = 1.0,
               end_value: float = 0.0) -> Schedule:
    r"""Polynomial decay (torch ``PolynomialLR`` with ``end_value=0``):

    .. math:: \eta_t = \eta_{end} + (\eta_0 - \eta_{end})\,(1 - \min(t, T)/T)^p.
    """
    init_value = check_real("init_value", init_value)
    total_steps = check_int("total_steps", total_steps)
    power = check_real("power", power, low=0.0, low_open=True)
    end_value = check_real("end_value", end_value)

    def schedule(step):
        fraction = min(total_steps, check_step(step)) / total_steps
        return end_value + (init_value - end_value) * (1.0 - fraction) ** power
    return schedule


def linear(start_value: float, end_value: float, total_steps: int) -> Schedule:
    r"""Linear ramp (torch ``LinearLR`` as a multiplier, and linear warmup):

    .. math:: \eta_t = \eta_{start} + (\eta_{end} - \eta_{start})\,\min(t, T)/T.
    """
    start_value = check_real("start_value", start_value)
    end_value = check_real("end_value", end_value)
    total_steps = check_int("total_steps", total_steps)

    def schedule(step):
        return start_value + (end_value - start_value) * min(total_steps, check_step(step)) / total_steps
    return schedule


def cosine(init_value: float, decay_steps: int, min_value: float = 0.0, exponent: float = 1.0,
           periodic: bool = False) -> Schedule:
    r"""Cosine annealing (SGDR without restarts; optax ``cosine_decay_schedule``):

    .. math:: \eta_t = \eta_{min} + (\eta_0 - \eta_{min})
              \left[\tfrac12\left(1 + \cos\tfrac{\pi\,\tau}{T}\right)\right]^{p},
              \qquad \tau = \min(t, T).

    ``periodic=False`` (default) holds :math:`\eta_{min}` after ``decay_steps``, as the paper and
    optax do. ``periodic=True`` uses :math:`\tau = t`, so the cosine rises again after
    :math:`T` with period :math:`2T`: this is what torch's ``CosineAnnealingLR`` does (both its
    recursion and its closed form), and what :class:`~optimlab.schedules.CosineAnnealingLR` matches.
    optax's ``alpha`` is ``min_value / init_value``.
    """
    init_value = check_real("init_value", init_value)
    decay_steps = check_int("decay_steps", decay_steps)
    min_value = check_real("min_value", min_value)
    exponent = check_real("exponent", exponent, low=0.0, low_open=True)
    if not isinstance(periodic, bool):
        raise TypeError(f"periodic must be a bool, got {periodic!r}")

    def schedule(step):
        tau = check_step(step) if periodic else min(check_step(step), decay_steps)
        return min_value + (init_value - min_value) * ((1 + math.cos(math.pi * tau / decay_steps)) / 2) ** exponent
    return schedule


def sgdr_position(epoch: float, T_0: int, T_mult: int = 1) -> tuple[float, int]:
    r"""Position inside the SGDR cycles: ``(T_cur, T_i)`` for a (possibly fractional) ``epoch``.

    Cycle :math:`i` lasts :math:`T_i = T_0 T_{mult}^i`; ``T_cur`` is the time since the last restart.
    Found by subtracting whole cycles, exact at the restart points (torch's ``step(epoch)`` uses
    :math:`\lfloor\log_{T_{mult}}(\ldots)\rfloor`, which can land one cycle early when the logarithm
    rounds down, e.g. ``T_0=1, T_mult=3, epoch=121``).
    """
    T_0 = check_int("T_0", T_0)
    T_mult = check_int("T_mult", T_mult)
    epoch = check_step(epoch)
    if T_mult == 1:
        return epoch % T_0, T_0
    T_cur, T_i = epoch, T_0
    while T_cur >= T_i:
        T_cur -= T_i
        T_i *= T_mult
    return T_cur, T_i


def cosine_warm_restarts(init_value: float, T_0: int, T_mult: int = 1,
                         min_value: float = 0.0) -> Schedule:
    r"""Cosine annealing with warm restarts (SGDR; torch ``CosineAnnealingWarmRestarts``):

    .. math:: \eta_t = \eta_{min} + \tfrac12(\eta_0 - \eta_{min})\left(1 + \cos\tfrac{\pi T_{cur}}{T_i}\right)

    with :math:`(T_{cur}, T_i)` from :func:`sgdr_position`.
    """
    init_value = check_real("init_value", init_value)
    T_0 = check_int("T_0", T_0)
    T_mult = check_int("T_mult", T_mult)
    min_value = check_real("min_value", min_value)

    def schedule(step):
        T_cur, T_i = sgdr_position(step, T_0, T_mult)
        return min_value + (init_value - min_value) * (1 + math.cos(math.pi * T_cur / T_i)) / 2
    return schedule


_CYCLIC_MODES = {"triangular", "triangular2", "exp_range"}


def cyclic(base_value: float, max_value: float, step_size_up: int, step_size_down: int | None = None,
           mode: str = "triangular", gamma: float = 1.0, scale_fn: Callable[[float], float] | None = None,
           scale_mode: str = "cycle") -> Schedule:
    r"""Cyclical learning rate (Smith 2017; torch ``CyclicLR``).

    With cycle length :math:`L = T_{up} + T_{down}`, cycle :math:`c = \lfloor 1 + t/L\rfloor`,
    position :math:`x = 1 + t/L - c \in [0, 1)` and :math:`r = T_{up}/L`, the triangle
    :math:`h = x/r` for :math:`x \le r`, else :math:`(x - 1)/(r - 1)`, and

    .. math:: \eta_t = \eta_{base} + (\eta_{max} - \eta_{base})\,h\,s,

    where the amplitude scale :math:`s` is 1 (``triangular``), :math:`2^{1-c}` (``triangular2``),
    :math:`\gamma^t` (``exp_range``) or ``scale_fn`` of :math:`c` or :math:`t` (``scale_mode``
    ``'cycle'`` or ``'iterations'``). Momentum is cycled inversely with the same function:
    ``cyclic(max_momentum, base_momentum, ...)``. Passing ``scale_fn`` together with a non-default
    ``mode`` is an error (torch silently ignores ``mode``).
    """
    base_value = check_real("base_value", base_value)
    max_value = check_real("max_value", max_value)
    step_size_up = check_int("step_size_up", step_size_up)
    step_size_down = step_size_up if step_size_down is None else check_int("step_size_down", step_size_down)
    mode = check_choice("mode", mode, _CYCLIC_MODES)
    gamma = check_real("gamma", gamma, low=0.0, low_open=True)
    scale_mode = check_choice("scale_mode", scale_mode, {"cycle", "iterations"})
    if scale_fn is None:
        scale_fn, scale_mode = {
            "triangular": (lambda c: 1.0, "cycle"),
            "triangular2": (lambda c: 1 / (2.0 ** (c - 1)), "cycle"),
            "exp_range": (lambda t: gamma ** t, "iterations"),
        }[mode]
    elif not callable(scale_fn):
        raise TypeError(f"scale_fn must be callable, got {scale_fn!r}")
    elif mode != "triangular":
        raise ValueError(f"mode must be left at 'triangular' when scale_fn is given, got {mode!r}")
    total = float(step_size_up + step_size_down)
    ratio = step_size_up / total

    def schedule(step):
        step = check_step(step)
        cycle = math.floor(1 + step / total)
        x = 1.0 + step / total - cycle
        height = x / ratio if x <= ratio else (x - 1) / (ratio - 1)
        scale = scale_fn(cycle if scale_mode == "cycle" else step)
        return base_value + (max_value - base_value) * height * scale
    return schedule


def _anneal_cos(start: float, end: float, fraction: float) -> float:
    return end + (start - end) / 2.0 * (math.cos(math.pi * fraction) + 1)


def _anneal_linear(start: float, end: float, fraction: float) -> float:
    return (end - start) * fraction + start


ANNEAL = {"cos": _anneal_cos, "linear": _anneal_linear}


def one_cycle_ends(total_steps: int, pct_start: float, three_phase: bool) -> list[float]:
    up = float(pct_start * total_steps) - 1
    ends = [up, float(2 * pct_start * total_steps) - 2, total_steps - 1] if three_phase else [up, total_steps - 1]
    starts = [0.0] + ends[:-1]
    for i, (start, end) in enumerate(zip(starts, ends)):
        if end == start:
            raise ValueError(f"one-cycle phase {i} has zero length (pct_start={pct_start!r}, "
                             f"total_steps={total_steps!r}); torch divides by zero here")
    return ends


def piecewise_anneal(step: float, ends: Sequence[float], values: Sequence[float],
                     anneal_strategy: str = "cos") -> float:
    r"""Anneal between ``values[i]`` and ``values[i+1]`` on phase ``i``, which ends at ``ends[i]``.

    Phase :math:`i` runs from :math:`e_{i-1}` (:math:`e_{-1} = 0`) to :math:`e_i`; with
    :math:`f = (t - e_{i-1})/(e_i - e_{i-1})` the value is
    :math:`v_{i+1} + \tfrac12(v_i - v_{i+1})(1 + \cos\pi f)` (``'cos'``) or
    :math:`v_i + (v_{i+1} - v_i) f` (``'linear'``). After the last phase the final value is held
    (torch extrapolates the last phase: see :func:`one_cycle`).
    """
    anneal = ANNEAL[check_choice("anneal_strategy", anneal_strategy, ANNEAL)]
    start = 0.0
    for i, end in enumerate(ends):
        if step <= end or i == len(ends) - 1:
            return anneal(values[i], values[i + 1], min((step - start) / (end - start), 1.0))
        start = end
    raise ValueError("ends must not be empty")


def _one_cycle(total_steps, pct_start, anneal_strategy, three_phase, values_two, values_three) -> Schedule:
    total_steps = check_int("total_steps", total_steps)
    pct_start = check_real("pct_start", pct_start, low=0.0, high=1.0, low_open=True, high_open=True)
    check_choice("anneal_strategy", anneal_strategy, ANNEAL)
    if not isinstance(three_phase, bool):
        raise TypeError(f"three_phase must be a bool, got {three_phase!r}")
    ends = one_cycle_ends(total_steps, pct_start, three_phase)
    values = values_three if three_phase else values_two

    def schedule(step):
        if check_step(step) > total_steps:
            raise ValueError(f"step {step!r} is past total_steps={total_steps} of the one-cycle schedule")
        return piecewise_anneal(step, ends, values, anneal_strategy)
    return schedule


def one_cycle(max_value: float, total_steps: int, pct_start: float = 0.3, anneal_strategy: str = "cos",
              div_factor: float = 25.0, final_div_factor: float = 1e4, three_phase: bool = False) -> Schedule:
    r"""One-cycle learning rate (Smith & Topin 2017; torch ``OneCycleLR``).

    From :math:`\eta_{init} = \eta_{max}/\text{div}` up to :math:`\eta_{max}` over the first
    ``pct_start`` of ``total_steps``, then down to :math:`\eta_{min} = \eta_{init}/\text{final\_div}`
    (two phases, fastai); with ``three_phase`` back down to :math:`\eta_{init}` symmetrically, then to
    :math:`\eta_{min}`. Phases end at steps :math:`pT - 1` (:math:`2pT - 2`) and :math:`T - 1`, as in
    torch. Steps :math:`0..T` are defined (torch allows one scheduler step past the last update) and
    a later step raises ``ValueError``. At step :math:`T`, whose value no update uses, this holds
    :math:`\eta_{min}`, where torch extrapolates the last phase (a cosine rising again, or a line
    below :math:`\eta_{min}` that can be negative, which optimlab's optimizers reject).
    """
    max_value = check_real("max_value", max_value)
    div_factor = check_real("div_factor", div_factor, low=0.0, low_open=True)
    final_div_factor = check_real("final_div_factor", final_div_factor, low=0.0, low_open=True)
    initial = max_value / div_factor
    final = initial / final_div_factor
    return _one_cycle(total_steps, pct_start, anneal_strategy, three_phase,
                      [initial, max_value, final], [initial, max_value, initial, final])


def one_cycle_momentum(total_steps: int, base_momentum: float = 0.85, max_momentum: float = 0.95,
                       pct_start: float = 0.3, anneal_strategy: str = "cos",
                       three_phase: bool = False) -> Schedule:
    r"""The momentum (or Adam's :math:`\beta_1`) that torch's ``OneCycleLR`` cycles inversely to the
    learning rate: ``max_momentum`` down to ``base_momentum`` at the peak, then back up (and held at
    ``max_momentum`` in the third phase)."""
    base_momentum = check_real("base_momentum", base_momentum)
    max_momentum = check_real("max_momentum", max_momentum)
    return _one_cycle(total_steps, pct_start, anneal_strategy, three_phase,
                      [max_momentum, base_momentum, max_momentum],
                      [max_momentum, base_momentum, max_momentum, max_momentum])


def join(schedules: Sequence[Schedule], boundaries: Sequence[int]) -> Schedule:
    r"""Run ``schedules[i]`` from ``boundaries[i-1]`` on, restarting its step count at 0 there
    (optax ``join_schedules``; torch ``SequentialLR``):
    :math:`\eta_t = s_i(t - b_{i-1})` for :math:`b_{i-1} \le t < b_i`."""
    schedules = list(schedules)
    boundaries = check_sorted_ints("boundaries", boundaries, strict=True, minimum=1)
    if not schedules:
        raise ValueError("schedules must not be empty")
    for i, s in enumerate(schedules):
        if not callable(s):
            raise TypeError(f"schedules[{i}] must be callable, got {s!r}")
    if len(boundaries) != len(schedules) - 1:
        raise ValueError(f"boundaries must have len(schedules) - 1 = {len(schedules) - 1} entries, "
                         f"got {len(boundaries)}: {boundaries!r}")

    def schedule(step):
        i = bisect_right(boundaries, check_step(step))
        return schedules[i](step - boundaries[i - 1] if i else step)
    return schedule
