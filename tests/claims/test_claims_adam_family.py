"""Claims 1, 3, 12, 13, 15: the evidence criteria asserted on the computed numbers, and the verdicts."""

import math

import numpy as np

from optimlab.claims import CAVEAT, CLAIMS, HOLDS, adam_family

ULP = 2.0**-52


def test_claim_1_first_moment_is_a_tenth_and_bias_correction_restores_it():
    e = adam_family.bias_correction_first_step()
    assert e["m1_rel_error"] <= 2 * ULP
    assert e["corrected_rel_error"] <= 2 * ULP  # one rounding in m₁ = (1 − β₁)g, one in the division
    assert 0.8 < e["corrected_exact_fraction"] < 1  # bit-exact for most coordinates, not all
    assert e["first_step_over_lr_max"] <= 1  # the corrected first step is η·g/(|g| + ε) ≤ η
    assert CLAIMS[1].verdict().status == HOLDS


def test_claim_3_l2_decays_by_lambda_over_root_v_and_adamw_uniformly():
    e = adam_family.l2_versus_decoupled_decay()
    assert np.allclose(e["l2_rate_over_prediction"], 1, atol=0.01)
    assert e["l2_rates"][0] / e["l2_rates"][-1] > 500  # s from 10⁻² to 10: about 1000× less decay
    assert np.allclose(e["adamw_rate_over_uniform"], 1, atol=1e-4)
    assert CLAIMS[3].verdict().status == HOLDS


def test_claim_12_adam_with_beta1_zero_is_rmsprop_times_the_bias_correction():
    e = adam_family.adam_reduces_to_rmsprop()
    assert e["eps0_max_rel_error"] <= 1e-12
    assert e["eps_1e-8_max_rel_error"] > 1e-12  # ε's position shows once ε ≠ 0
    assert math.isclose(e["ratio_step1"], math.sqrt(1 - 0.99), rel_tol=1e-12)
    assert CLAIMS[12].verdict().status == CAVEAT


def test_claim_13_adam_is_scale_invariant_up_to_eps_and_clipping():
    e = adam_family.adam_scale_invariance()
    assert e["pow2_max_abs_diff"] == 0
    assert e["sum_vs_mean_rel_diff"] <= 1e-13
    assert e["tiny_scale_eps_rel_diff"] > 0.01
    assert e["sum_vs_mean_clipped_rel_diff"] > 0.01
    assert CLAIMS[13].verdict().status == HOLDS


def test_claim_15_radam_rectification_defined_past_4_and_torch_switches_past_5():
    e = adam_family.radam_switch()
    assert e["defined_from_step"] == 5 and 4 < e["rho_defined"] < 5
    assert e["torch_switch_step"] == 6
    assert e["negative_radicand_steps"] == e["steps_rho_between_2_and_4"] == [3, 4]
    assert CLAIMS[15].verdict().status == CAVEAT
