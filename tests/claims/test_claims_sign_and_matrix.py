"""Claims 18 (Lion), 33 (Newton–Schulz) and 34 (Adafactor): the evidence criteria and the verdicts."""

import numpy as np

from optimlab.claims import CAVEAT, CLAIMS, sign_and_matrix


def test_claim_18_lion_moves_every_coordinate_by_lr_except_zeros_and_decay():
    e = sign_and_matrix.lion_uniform_magnitude()
    assert e["sign_part_max_error"] <= 1e-12  # |θ| ≤ 20η: differencing costs ≈ 2⁻⁵² relative
    assert e["zero_gradient_max_step"] == 0
    assert e["decay_min"] < 0.9 and e["decay_max"] > 1.1  # 1 ± λ|θ| with |θ| up to ≈ 3.5
    assert CLAIMS[18].verdict().status == CAVEAT


def test_claim_33_newton_schulz_lands_near_one_except_small_singular_values():
    e = sign_and_matrix.newton_schulz_singular_values()
    assert e["scalar_vs_matrix_max_error"] <= 1e-10  # X₅ = U p⁵(Σ/‖G‖_F) Vᵀ in float64
    assert 0.6 <= e["map_min_above_1e-2"] and e["map_max_above_1e-2"] <= 1.2
    assert 0.6 <= e["tall_sv_min"] and e["tall_sv_max"] <= 1.2  # bfloat16 changes them by < 0.01
    assert e["polar_rel_error"] > 0.01  # not the exact polar factor
    assert e["square_sv_min"] < 0.6 and 0 < e["square_fraction_below_0.6"] < 0.05
    assert np.isclose(e["max_gain"], 3.4445**5)
    assert CLAIMS[33].verdict().status == CAVEAT


def test_claim_34_adafactor_keeps_n_plus_m_and_is_exact_for_rank_one():
    e = sign_and_matrix.adafactor_factored_moment()
    assert e["adafactor_floats"] == [n + m for n, m in e["shapes"]]
    assert e["adam_floats"] == [2 * n * m for n, m in e["shapes"]]
    assert e["rank_one_spread"] <= 1e-12 and e["rank_one_repeated_spread"] <= 1e-12
    assert e["full_rank_spread"] > 1 and e["rank_one_varying_spread"] > 1
    assert CLAIMS[34].verdict().status == CAVEAT
