"""Claim 36 (cosine end vs torch's CosineAnnealingLR): the evidence criteria and the verdict."""

from optimlab.claims import CLAIMS, HOLDS, cosine_schedule


def test_claim_36_cosine_holds_lr_min_and_torchs_class_climbs_back():
    e = cosine_schedule.cosine_end_versus_torch()
    assert e["pure_at_T_minus_min"] == 0 and e["pure_after_T_max_dev"] == 0  # cos(π) = −1 exactly
    assert e["ours_vs_torch_max_diff"] <= 1e-12
    assert e["class_at_T_minus_min"] <= 1e-12 and e["class_rises_after_T"]
    assert abs(e["class_at_2T"] - 0.1) <= 1e-12 and abs(e["torch_at_2T"] - 0.1) <= 1e-12
    assert CLAIMS[36].verdict().status == HOLDS
