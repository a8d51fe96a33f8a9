"""Claims 5–8 (momentum): the evidence criteria asserted on the computed numbers, and the verdicts."""

from optimlab.claims import CAVEAT, CLAIMS, HOLDS, momentum


def test_claim_5_momentum_amplifies_a_consistent_gradient_by_one_over_one_minus_beta():
    e = momentum.momentum_amplification()
    assert e["max_partial_sum_rel_error"] <= 1e-12
    assert e["beta_0.9_final_rel_error"] <= 1e-12 and e["beta_0.99_final_rel_error"] <= 1e-12
    assert 60 < e["beta_0.99_at_100"] < 70  # 100·(1 − 0.99¹⁰⁰) ≈ 63.4: far from 100 early on
    assert CLAIMS[5].verdict().status == CAVEAT


def test_claim_6_torch_momentum_is_the_averaging_form_with_rescaled_lr():
    e = momentum.momentum_forms()
    assert e["max_abs_diff"] <= 1e-12
    assert e["dampening_max_abs_diff"] > 1e-6  # torch's dampening=β differs by its undamped first buffer
    assert CLAIMS[6].verdict().status == CAVEAT


def test_claim_7_nesterov_is_the_lookahead_form_after_a_change_of_variables():
    e = momentum.nesterov_change_of_variables()
    assert e["change_of_variables_max_diff"] <= 1e-12
    assert e["without_change_max_diff"] > 1e-3
    assert CLAIMS[7].verdict().status == HOLDS


def test_claim_8_heavy_ball_stable_iff_eta_lambda_below_2_one_plus_beta():
    e = momentum.heavy_ball_stability()
    assert e["max_radius_inside"] < 1 < e["min_radius_outside"]
    assert abs(e["radius_at_bound"] - 1) <= 1e-9
    assert e["final_error_inside"] < 1e-10 * e["start_error"]
    assert e["final_error_outside"] > 1e10 * e["start_error"]
    assert CLAIMS[8].verdict().status == HOLDS
