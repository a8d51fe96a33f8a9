"""Claims 10 and 11 (AdaGrad and RMSprop step sizes): the evidence criteria and the verdicts."""

import math

from optimlab.claims import CAVEAT, CLAIMS, adaptive


def test_claim_10_adagrad_step_size_only_shrinks_but_need_not_reach_zero():
    e = adaptive.adagrad_versus_rmsprop_step_size()
    assert e["adagrad_max_rise"] <= 1e-12  # the sum of squares never decreases; one rounding at most
    assert e["adagrad_stationary_final_over_first"] < 0.05  # ≈ |g₁|/√(Σg²) ~ 1/√4000
    assert e["adagrad_shrinking_late_ratio"] < 1
    assert e["adagrad_summable_late_ratio"] > 0.99  # Σ 1/t² converges: the step size freezes
    assert 0.9 < e["rmsprop_stationary_final_over_lr"] < 1.1  # η/√E[g²] with E[g²] = 1
    assert 50 < e["rmsprop_shrinking_rise"] < 200  # gradients 100× smaller → √v 100× smaller
    assert CLAIMS[10].verdict().status == CAVEAT


def test_claim_11_rmsprop_first_step_is_ten_times_too_large():
    e = adaptive.rmsprop_first_steps()
    assert 0.99 <= e["first_step_min"] and e["first_step_max"] <= 1  # |Δθ₁| = η/√(1 − α) up to ε
    assert math.isclose(e["first_step_max"], 1, rel_tol=1e-6)
    assert e["steady_step_over_lr"] < 1.5 and e["adam_first_step_over_lr"] <= 1
    assert e["near_start_rmsprop_peak"] > 10 > e["near_start_adam_peak"]
    assert e["far_start_rmsprop_after_5"] < e["far_start_adam_after_5"]
    assert CLAIMS[11].verdict().status == CAVEAT
