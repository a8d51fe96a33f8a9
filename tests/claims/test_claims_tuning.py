"""The experiment claims' machinery: grids, the no-bias-correction schedule, the Reddi et al. online
problem, the instability measure and the trust-ratio probe, each against a hand computation."""

import math

import numpy as np
import pytest

from optimlab.claims.batch_size import epoch_steps, layer_step_ratios
from optimlab.claims.lr_schedules import largest_rise
from optimlab.claims.speed import uncorrected_step_factor
from optimlab.claims.tuning import Sweep, leading, log_grid, lr_schedule, run
from optimlab.optim import Adam, LAMB
from optimlab.parameter import Parameter


def test_log_grid_is_half_decades_snapped_to_powers_of_root_ten():
    assert log_grid(1e-4, 3) == (1e-4, 3.16e-4, 1e-3)
    assert log_grid(3.16e-4, 3) == log_grid(3.2e-4, 3) == (3.16e-4, 1e-3, 3.16e-3)


def test_leading_puts_the_key_numbers_first_and_keeps_everything():
    assert list(leading({"a": 1, "b": 2, "c": 3}, "c", "b").items()) == [("c", 3), ("b", 2), ("a", 1)]


def test_sweep_best_and_edge():
    sweep = Sweep((1, 2, 3), (0.5, 0.2, math.inf))
    assert sweep.best == 2 and sweep.best_score == 0.2 and not sweep.at_edge
    assert Sweep((1, 2, 3), (0.1, 0.2, 0.3)).at_edge


def test_unknown_schedule_is_rejected_by_name():
    with pytest.raises(ValueError, match="schedule must be one of .*'cosin'"):
        lr_schedule("cosin", 0.1, 10)


def _uncorrected_adam(grads, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """Kingma & Ba's Algorithm 1 without the two bias corrections, written out here."""
    theta, m, v, path = np.zeros_like(grads[0]), np.zeros_like(grads[0]), np.zeros_like(grads[0]), []
    for g in grads:
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        theta = theta - lr * m / (np.sqrt(v) + eps)
        path.append(theta)
    return np.array(path)


def test_no_bias_correction_schedule_turns_adam_into_uncorrected_adam_up_to_eps():
    rng = np.random.default_rng(0)
    signs = np.array([1, -1, 1, -1, 1, -1, 1, -1])
    grads = signs * rng.uniform(1, 2, size=(50, 8)) * 10.0 ** np.arange(8)  # |g| ≥ 1, one sign per coordinate
    param = Parameter(np.zeros(8))
    optimizer = Adam([param], lr=lr_schedule("no_bias_correction", 1e-2, 50), eps=1e-8)
    path = []
    for g in grads:
        param.grad = g
        optimizer.step()
        path.append(param.data.copy())
    expected = _uncorrected_adam(grads, 1e-2)
    # the schedule moves ε to ε√(1 − β₂ᵗ): each step changes by < ε/(√(1 − β₂)·min|g|) ≈ 3·10⁻⁷ relative, and
    # every step of a coordinate has the same sign, so the path's relative error stays below that
    assert np.allclose(path, expected, rtol=1e-6, atol=0)
    assert not np.allclose(path, expected, rtol=1e-12, atol=0)  # the ε shift is there
    assert uncorrected_step_factor(1) == pytest.approx(0.1 / math.sqrt(0.001), rel=1e-15)


def test_largest_rise_of_a_monotone_curve_is_zero_and_of_a_spike_is_its_height():
    assert largest_rise(np.linspace(5, 1, 100)) == 0.0
    spike = np.ones(100)
    spike[40:50] = 3.0  # a 10-step plateau 2 above the floor: the 10-step average rises by exactly 2
    assert largest_rise(spike) == pytest.approx(2.0, abs=1e-12)


def test_epoch_steps_make_fourteen_passes_over_the_1348_training_images():
    assert epoch_steps(64) == round(14 * 1348 / 64) == 295
    assert epoch_steps(1024) == 18


def test_layer_step_ratios_of_lamb_equal_the_lr():
    ratios = layer_step_ratios(LAMB, 3, lr=0.05)
    assert ratios.shape == (3, 4)  # two weights and two biases
    assert np.allclose(ratios, 0.05, rtol=1e-12, atol=0)


def test_a_diverging_run_scores_infinity_and_stops():
    result = run("digits", "sgd", 100.0, 0)  # lr 100 on the MLP: the loss turns NaN within 100 steps
    assert result.diverged and result.final_test_loss == math.inf and result.final_test_accuracy == 0.0
    assert len(result.batch_loss) < 300 and not math.isfinite(result.batch_loss[-1])  # stopped at that checkpoint
