"""Pure schedules against independent closed forms.

Each oracle below is written from the paper or the reference library's source (cited), in a
different form from the library code where one exists (loops, enumerated cycle tables, NumPy
interpolation, the bckenstler CLR formula). Tolerance: |actual - expected| <= 1e-12 * scale,
where scale is the schedule's peak value: the values are O(1) sums of a few rounded terms (a few
ulps each), and near the zeros of 1 + cos x the error relative to the peak, not to the tiny value,
is the meaningful one.
"""

import math

import numpy as np
import pytest

import optimlab.schedules as S

STEPS = range(0, 400)
TOL = 1e-12


def assert_matches(schedule, oracle, steps=STEPS, scale=1.0):
    actual = np.array([schedule(t) for t in steps], dtype=float)
    expected = np.array([oracle(t) for t in steps], dtype=float)
    np.testing.assert_allclose(actual, expected, rtol=0, atol=TOL * scale)


def test_constant():
    assert_matches(S.constant(0.3), lambda t: 0.3)


@pytest.mark.parametrize("step_size, gamma", [(1, 0.99), (7, 0.5), (30, 0.1)])
def test_step_decay_counts_decays(step_size, gamma):
    def oracle(t):  # decay once at every multiple of step_size, counted by a loop
        value = 2.0
        for s in range(1, t + 1):
            if s % step_size == 0:
                value *= gamma
        return value
    assert_matches(S.step_decay(2.0, step_size, gamma), oracle, scale=2.0)


def test_multistep_with_repeated_milestone():
    milestones = [30, 80, 80, 200]

    def oracle(t):
        return 1.5 * 0.5 ** sum(1 for m in milestones if m <= t)
    assert_matches(S.multistep(1.5, milestones, 0.5), oracle, scale=1.5)
    assert S.multistep(1.0, milestones, 0.5)(80) == 0.5 ** 3  # listed twice: decays twice


def test_exponential():
    assert_matches(S.exponential(0.1, 0.97), lambda t: 0.1 * math.exp(t * math.log(0.97)), scale=0.1)


@pytest.mark.parametrize("power, end", [(1.0, 0.0), (0.5, 0.0), (2.0, 0.01)])
def test_polynomial(power, end):
    total = 150

    def oracle(t):
        return end + (1.0 - end) * ((total - min(t, total)) / total) ** power
    assert_matches(S.polynomial(1.0, total, power, end), oracle)
    assert S.polynomial(1.0, total, power, end)(total + 50) == pytest.approx(end, abs=1e-15)


def test_linear_is_np_interp():
    f = S.linear(0.05, 1.0, 40)
    assert_matches(f, lambda t: np.interp(t, [0, 40], [0.05, 1.0]))


@pytest.mark.parametrize("min_value, exponent", [(0.0, 1.0), (0.01, 1.0), (0.0, 2.0)])
def test_cosine_clamped_and_periodic(min_value, exponent):
    T = 100

    def half_cosine(t):  # SGDR eq. (5) with T_cur = t
        return min_value + (1 - min_value) * (0.5 + 0.5 * np.cos(np.pi * t / T)) ** exponent
    clamped = S.cosine(1.0, T, min_value, exponent)
    periodic = S.cosine(1.0, T, min_value, exponent, periodic=True)
    assert_matches(clamped, lambda t: half_cosine(min(t, T)))
    assert_matches(periodic, half_cosine)
    # past T the two differ: clamped holds the minimum, periodic mirrors the decay (period 2T)
    for k in (1, 17, 60):
        assert clamped(T + k) == pytest.approx(min_value, abs=1e-15)
        assert periodic(T + k) == pytest.approx(periodic(T - k), abs=1e-12)
        assert periodic(T + k) > min_value + 1e-9


def _cycle_table(T_0, T_mult, n_cycles):
    """Start step and length of each SGDR cycle, enumerated."""
    starts, lengths, start, length = [], [], 0, T_0
    for _ in range(n_cycles):
        starts.append(start)
        lengths.append(length)
        start += length
        length *= T_mult
    return starts, lengths


@pytest.mark.parametrize("T_0, T_mult", [(10, 1), (7, 2), (1, 3), (1, 10), (2, 3)])
def test_sgdr_position_matches_enumerated_cycles(T_0, T_mult):
    starts, lengths = _cycle_table(T_0, T_mult, 120_000 // T_0 if T_mult == 1 else 40)
    for epoch in list(range(0, 300)) + [121, 111, 111111, 242] + [0.5, 3.25, 120.75]:
        i = max(k for k, s in enumerate(starts) if s <= epoch)
        T_cur, T_i = S.sgdr_position(epoch, T_0, T_mult)
        assert T_i == lengths[i]
        assert T_cur == pytest.approx(epoch - starts[i], abs=1e-12)


def test_cosine_warm_restarts_restarts_at_cycle_starts():
    starts, lengths = _cycle_table(5, 2, 10)
    f = S.cosine_warm_restarts(1.0, 5, 2, 0.1)

    def oracle(t):
        i = max(k for k, s in enumerate(starts) if s <= t)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (t - starts[i]) / lengths[i]))
    assert_matches(f, oracle)
    assert all(f(s) == 1.0 for s in starts if s < 400)


def _clr_oracle(base, peak, step_size, scale):
    """bckenstler/CLR (the paper's reference code): x = |t/s - 2c + 1|, lr = base + (max-base)(1-x)+."""
    def oracle(t):
        cycle = math.floor(1 + t / (2 * step_size))
        x = abs(t / step_size - 2 * cycle + 1)
        return base + (peak - base) * max(0.0, 1 - x) * scale(cycle, t)
    return oracle


@pytest.mark.parametrize("mode, scale", [
    ("triangular", lambda c, t: 1.0),
    ("triangular2", lambda c, t: 1 / 2 ** (c - 1)),
    ("exp_range", lambda c, t: 0.995 ** t),
])
def test_cyclic_matches_clr_reference(mode, scale):
    f = S.cyclic(0.001, 0.006, 25, mode=mode, gamma=0.995)
    assert_matches(f, _clr_oracle(0.001, 0.006, 25, scale), scale=0.006)


def test_cyclic_asymmetric_is_piecewise_linear():
    up, down = 10, 30
    f = S.cyclic(0.1, 1.0, up, down)
    # one cycle as interpolation through (0, base), (up, max), (up+down, base), repeated
    assert_matches(f, lambda t: np.interp(t % (up + down), [0, up, up + down], [0.1, 1.0, 0.1]))
    momentum = S.cyclic(0.95, 0.85, up, down)  # inverse cycling: max momentum at the lr minimum
    assert momentum(0) == 0.95 and momentum(up) == pytest.approx(0.85, abs=1e-15)


def test_cyclic_custom_scale_fn_by_iterations():
    f = S.cyclic(0.0, 1.0, 5, scale_fn=lambda t: 1 / (1 + t), scale_mode="iterations")
    assert_matches(f, _clr_oracle(0.0, 1.0, 5, lambda c, t: 1 / (1 + t)))


def _one_cycle_oracle(total, pct, knots, anneal):
    """Phase boundaries as in fastai/torch (p*T - 1, [2p*T - 2,] T - 1), anneal on each."""
    ends = [pct * total - 1, 2 * pct * total - 2, total - 1] if len(knots) == 4 else [pct * total - 1, total - 1]
    starts = [0.0] + ends[:-1]

    def oracle(t):
        i = next((k for k, e in enumerate(ends) if t <= e), len(ends) - 1)
        frac = (t - starts[i]) / (ends[i] - starts[i])
        a, b = knots[i], knots[i + 1]
        w = frac if anneal == "linear" else (1 - math.cos(math.pi * frac)) / 2
        return a + (b - a) * w
    return oracle


@pytest.mark.parametrize("anneal", ["cos", "linear"])
@pytest.mark.parametrize("three_phase", [False, True])
def test_one_cycle(anneal, three_phase):
    total, pct, peak = 300, 0.25, 0.5
    f = S.one_cycle(peak, total, pct, anneal, div_factor=10.0, final_div_factor=100.0, three_phase=three_phase)
    init, final = peak / 10, peak / 10 / 100
    knots = [init, peak, init, final] if three_phase else [init, peak, final]
    assert_matches(f, _one_cycle_oracle(total, pct, knots, anneal), steps=range(total), scale=peak)
    assert f(0) == pytest.approx(init, rel=1e-15) and f(total - 1) == pytest.approx(final, rel=1e-12)
    assert f(total) == f(total - 1)  # held after the last update (torch extrapolates)
    m = S.one_cycle_momentum(total, 0.8, 0.9, pct, anneal, three_phase)
    mknots = [0.9, 0.8, 0.9, 0.9] if three_phase else [0.9, 0.8, 0.9]
    assert_matches(m, _one_cycle_oracle(total, pct, mknots, anneal), steps=range(total))
    with pytest.raises(ValueError, match="total_steps=300"):
        f(total + 1)


# -- the Hugging Face family, transcribed from transformers/optimization.py ------------------------

def _hf_warmup(t, W):
    return float(t) / float(max(1, W))


def test_warmup_constant():
    W = 20
    assert_matches(S.warmup_constant(1.0, W), lambda t: _hf_warmup(t, W) if t < W else 1.0)


def test_warmup_linear_decay():
    W, T = 30, 300

    def hf(t):
        return _hf_warmup(t, W) if t < W else max(0.0, float(T - t) / float(max(1, T - W)))
    assert_matches(S.warmup_linear_decay(1.0, W, T), hf)


def test_warmup_cosine_decay_with_min():
    W, T, m = 30, 300, 0.1

    def hf(t):  # get_cosine_with_min_lr_schedule_with_warmup, num_cycles=0.5
        if t < W:
            return _hf_warmup(t, W)
        progress = float(t - W) / float(max(1, T - W))
        factor = 0.5 * (1.0 + math.cos(math.pi * 0.5 * 2.0 * progress))
        return factor * (1 - m) + m
    assert_matches(S.warmup_cosine_decay(1.0, W, T, min_value=m), hf)


@pytest.mark.parametrize("W, timescale", [(25, None), (25, 100), (0, None)])
def test_inverse_sqrt(W, timescale):
    def hf(t):
        ts = timescale if timescale is not None else (W or 10_000)
        if t < W:
            return _hf_warmup(t, W)
        return 1.0 / math.sqrt((t + ts - W) / ts)
    assert_matches(S.inverse_sqrt(1.0, W, timescale), hf)


def test_noam_matches_annotated_transformer():
    def rate(step, model_size, factor, warmup):  # The Annotated Transformer
        if step == 0:
            step = 1
        return factor * (model_size ** (-0.5) * min(step ** (-0.5), step * warmup ** (-1.5)))
    assert_matches(S.noam(512, 40, 2.0), lambda t: rate(t, 512, 2.0, 40), scale=0.1)
    peak = S.noam(512, 40, 2.0)(40)
    assert peak == max(S.noam(512, 40, 2.0)(t) for t in STEPS)


@pytest.mark.parametrize("cooldown, shape", [
    ("linear", lambda p: 1 - p),
    ("cosine", lambda p: 0.5 * (1 + math.cos(math.pi * p))),
    ("1-sqrt", lambda p: 1 - math.sqrt(p)),
    ("1-square", lambda p: 1 - p ** 2),
])
def test_warmup_stable_decay(cooldown, shape):
    W, Sd, D, m = 20, 200, 100, 0.05

    def oracle(t):
        if t < W:
            return t / W
        if t < W + Sd:
            return 1.0
        if t < W + Sd + D:
            return m + (1 - m) * shape((t - W - Sd) / D)
        return m
    assert_matches(S.warmup_stable_decay(1.0, W, Sd, D, cooldown, m), oracle)


def test_join_restarts_each_piece():
    f = S.join([S.linear(0.0, 1.0, 10), S.exponential(1.0, 0.9), S.constant(0.2)], [10, 50])
    assert_matches(f, lambda t: t / 10 if t < 10 else (0.9 ** (t - 10) if t < 50 else 0.2))


# -- bad input ---------------------------------------------------------------------------------

BAD = [
    (S.step_decay, (1.0, 0), ValueError, "step_size"),
    (S.step_decay, (1.0, 2.5), TypeError, "step_size"),
    (S.step_decay, (1.0, True), TypeError, "step_size"),
    (S.multistep, (1.0, [30, 10]), ValueError, "milestones"),
    (S.multistep, (1.0, "30"), TypeError, "milestones"),
    (S.exponential, (1.0, float("nan")), ValueError, "gamma"),
    (S.exponential, (1.0, 0.0), ValueError, "gamma"),
    (S.polynomial, (1.0, 0), ValueError, "total_steps"),
    (S.linear, (0.1, 1.0, -3), ValueError, "total_steps"),
    (S.cosine, (1.0, 0), ValueError, "decay_steps"),
    (S.cosine, (1.0, 10, 0.0, 1.0, 1), TypeError, "periodic"),
    (S.cosine_warm_restarts, (1.0, 0), ValueError, "T_0"),
    (S.cosine_warm_restarts, (1.0, 10, 0), ValueError, "T_mult"),
    (S.cyclic, (0.1, 1.0, 0), ValueError, "step_size_up"),
    (S.cyclic, (0.1, 1.0, 10, None, "square"), ValueError, "mode"),
    (S.cyclic, (0.1, 1.0, 10, None, "triangular", 1.0, None, "epochs"), ValueError, "scale_mode"),
    (S.cyclic, (0.1, 1.0, 10, None, "exp_range", 1.0, abs), ValueError, "mode"),
    (S.one_cycle, (1.0, 100, 0.0), ValueError, "pct_start"),
    (S.one_cycle, (1.0, 100, 1.0), ValueError, "pct_start"),
    (S.one_cycle, (1.0, 0), ValueError, "total_steps"),
    (S.one_cycle, (1.0, 100, 0.3, "cosine"), ValueError, "anneal_strategy"),
    (S.one_cycle, (1.0, 10, 0.1), ValueError, "zero length"),
    (S.warmup_linear_decay, (1.0, 100, 100), ValueError, "total_steps"),
    (S.warmup_stable_decay, (1.0, 10, 10, 10, "sqrt"), ValueError, "cooldown"),
    (S.noam, (512, 0), ValueError, "warmup_steps"),
    (S.join, ([S.constant(), S.constant()], [5, 6]), ValueError, "boundaries"),
    (S.join, ([S.constant(), S.constant(), S.constant()], [6, 5]), ValueError, "boundaries"),
    (S.join, ([S.constant(), 3.0], [5]), TypeError, "schedules"),
]


@pytest.mark.parametrize("factory, args, error, name", BAD, ids=lambda x: getattr(x, "__name__", None))
def test_bad_arguments_name_the_argument(factory, args, error, name):
    with pytest.raises(error, match=name):
        factory(*args)


@pytest.mark.parametrize("step, error", [(-1, ValueError), (float("nan"), ValueError), ("3", TypeError)])
def test_bad_step(step, error):
    with pytest.raises(error, match="step"):
        S.cosine(1.0, 10)(step)
