"""Claims 24–27 (accumulation, fp16 underflow, ε in fp16, clip after unscale): evidence and verdicts."""

import numpy as np

from optimlab.claims import CAVEAT, CLAIMS, HOLDS, numerics


def test_claim_24_accumulating_k_micro_batches_over_k_is_the_full_batch_gradient():
    e = numerics.accumulation_is_full_batch()
    assert max(e["equal_split_rel_error"].values()) <= 1e-14  # float64 summation order only
    assert max(e["sum_over_k_rel_error"].values()) <= 1e-14  # without /k: exactly k× the gradient
    assert e["torch_rel_error"] <= 1e-14  # torch autograd on the same weights and batch
    assert e["unequal_split_rel_error"] > 1e-3
    assert CLAIMS[24].verdict().status == HOLDS


def test_claim_25_fp16_underflow_below_half_the_smallest_subnormal_and_loss_scaling():
    e = numerics.fp16_underflow_and_loss_scaling()
    assert e["tie_to_zero"] and e["grid_largest_to_zero"] <= 2.0**-25 < e["grid_smallest_nonzero"]
    assert e["grid_smallest_nonzero"] < 1.001 * 2.0**-25  # the grid's spacing: 10^(6/20000) − 1 ≈ 0.07%
    assert 0.1 < e["subnormal_max_rel_error"] < 0.3  # half a subnormal gap 2⁻²⁵ over ≈ 10⁻⁷
    assert e["output_grad_zero_fraction"] > 0.5 and e["unscaled_rel_error"] > 0.1
    assert e["output_grad_zero_fraction_scaled"] < 0.01 and e["scaled_rel_error"] < 0.01
    assert CLAIMS[25].verdict().status == CAVEAT


def test_claim_26_fp16_eps_underflows_and_1e_6_only_hides_the_problem():
    e = numerics.fp16_adam_epsilon()
    assert e["eps_1e-8_in_fp16"] == 0 and e["eps_1e-6_in_fp16"] > 0
    assert e["torch_agrees"] and e["nonfinite_1e-8"] > 0 and e["nonfinite_1e-6"] == 0
    assert e["max_step_over_lr_1e-6"] == e["max_step_over_lr_1e-6_torch"] > 100  # η·m̂/ε with v = 0
    assert e["max_step_over_lr_fp32"] <= 1
    assert CLAIMS[26].verdict().status == CAVEAT


def test_claim_27_clipping_before_unscaling_clips_at_max_norm_over_the_scale():
    e = numerics.clip_after_unscale()
    np.testing.assert_allclose(e["unscale_then_clip"], [0.5, 1.0], rtol=1e-6)  # float32 arithmetic
    np.testing.assert_allclose(e["unscale_then_clip"], e["torch"], rtol=1e-6)
    np.testing.assert_allclose(e["clip_then_unscale"], 2.0**-16, rtol=1e-6)
    assert CLAIMS[27].verdict().status == HOLDS
