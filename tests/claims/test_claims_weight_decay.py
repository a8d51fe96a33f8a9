"""Claims 4 and 32 (weight decay): the evidence criteria and the verdicts."""

from optimlab.claims import CAVEAT, CLAIMS, HOLDS, weight_decay


def test_claim_4_l2_equals_decay_for_plain_sgd_only():
    e = weight_decay.l2_versus_decay_by_optimizer()
    assert e["sgd_gap"] <= 1e-12  # θ − η(g + λθ) vs (1 − ηλ)θ − ηg: rounding only
    assert e["momentum_gap"] > 1e-3 and e["adam_gap"] > 1e-3
    assert max(e["own_option_gaps"].values()) <= 1e-12  # SGD/Adam weight_decay is L2, AdamW's is decoupled
    assert CLAIMS[4].verdict().status == HOLDS


def test_claim_32_torch_adamw_decay_is_scaled_by_lr_the_papers_is_not():
    e = weight_decay.adamw_decay_scales_with_lr()
    for ratio in e["rate_over_lr_decay"].values():
        assert abs(ratio - 1) <= 1e-10  # decay per step is exactly −log(1 − ηλ)
    assert e["torch_max_diff"] <= 1e-14
    assert 10 < e["torch_rate_ratio"] < 10.01  # −log(1 − 10⁻³)/−log(1 − 10⁻⁴) ≈ 10.0045
    assert e["paper_rate_ratio"] == 1
    assert CLAIMS[32].verdict().status == CAVEAT
