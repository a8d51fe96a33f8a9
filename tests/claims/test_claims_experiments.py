"""Experiment claims (kind X): 2, 9, 14, 16, 17, 21, 22, 23, 28, 29, 30, 31, 37, 38. Each test asserts the
claim's criterion on the computed evidence and the verdict it gives, so that a change in the evidence
(a new optimizer bug, a new default, a new BLAS) fails here.

Every run is float64 under one BLAS thread and cached per process (``optimlab.claims.tuning``), so
claims that share a sweep share its runs; all fourteen together take about 2.5 min of one core
(measured with ``time.process_time``). Margins: comparisons are asserted where the measured gap is
several times the seed-to-seed spread, or as a tie where the verdict says there is none.
"""

import math

import pytest

from optimlab.claims import CAVEAT, CLAIMS, HOLDS, NOT_HERE
from optimlab.claims import batch_size, generalisation, learning_rates, lr_schedules, speed


def test_claim_2_without_bias_correction_early_steps_are_larger_not_smaller():
    e = speed.bias_correction_speed()
    assert e["factor_t1"] == pytest.approx((1 - 0.9) / math.sqrt(1 - 0.999), rel=1e-15)  # 3.1623
    assert e["factor_min"] > 1  # over t = 1 … 10⁴ the uncorrected step is never the smaller one
    assert 6 < e["factor_max"] < 7 and 10 <= e["factor_argmax"] <= 14
    assert e["early_uncorrected_tuned"] < 0.8 * e["early_corrected_tuned"]  # measured 0.52 vs 0.77
    assert e["early_uncorrected_common_lr"] < 0.5 * e["early_corrected_common_lr"]  # 0.52 vs 1.55 at lr 10⁻³
    assert e["final_uncorrected"] == pytest.approx(e["final_corrected"], rel=0.1)  # both tuned: ≈ 0.10
    assert not e["at_edge"]
    assert CLAIMS[2].verdict().status == NOT_HERE


def test_claim_9_nesterov_faster_only_on_the_noiseless_quadratic():
    e = speed.nesterov_versus_heavy_ball()
    assert e["quadratic_nesterov_steps"] < 0.8 * e["quadratic_heavy_ball_steps"]  # 133 vs 198
    for task in ("digits", "cancer"):
        assert e[f"{task}_gap"] >= -e[f"{task}_gap_std"]  # Nesterov not ahead beyond the seed spread
        assert abs(e[f"{task}_relative_gap"]) < 0.02  # and the tuned runs within 2% of each other
        assert e[f"{task}_above_tuned_nesterov"] < e[f"{task}_above_tuned_heavy_ball"]  # it tolerates a larger lr
    assert e["faster_count"] == 1
    assert CLAIMS[9].verdict().status == CAVEAT


def test_claim_14_amsgrad_converges_where_adam_fails():
    e = speed.amsgrad_counterexample()
    assert e["adam_min_x"] >= 0.99 and e["adam_min_regret"] >= 0.6  # limit 2(C − 2)/3 = 2/3 at x = +1
    assert e["amsgrad_max_x"] <= -0.95 and e["amsgrad_max_regret"] <= 0.1
    assert e["amsgrad_regret_decreases"]  # for each α, R_T/T < R_{T/10}/(T/10)
    assert e["adam_final_x"] == [1.0, 1.0, 1.0]  # pinned at the worst point by the projection
    assert CLAIMS[14].verdict().status == HOLDS


def test_claim_16_sgd_lr_ten_to_a_hundred_times_adams_only_without_momentum():
    e = learning_rates.sgd_versus_adam_lr()
    assert e["digits_sgd_over_adam"] == 100 and e["cancer_sgd_over_adam"] == 31.6
    assert e["digits_heavy_ball_over_adam"] == 10 and e["cancer_heavy_ball_over_adam"] == 3.16
    assert not e["at_edge"]
    assert CLAIMS[16].verdict().status == CAVEAT


def test_claim_17_lion_lr_ten_times_smaller_and_decay_ten_times_larger():
    e = learning_rates.lion_versus_adamw()
    assert e["digits_adamw_over_lion_lr"] == e["cancer_adamw_over_lion_lr"] == 10
    assert (e["adamw_joint_lr"], e["adamw_decay"]) == (0.01, 0.316)
    assert (e["lion_joint_lr"], e["lion_decay"]) == (0.001, 3.16)
    assert e["lion_over_adamw_decay"] == 10
    # decay helps both: the tuned λ beats λ = 0 at the same lr by > 10% (AdamW) and > 40% (Lion)
    assert min(e["adamw_decay_scores"]) < 0.9 * e["adamw_decay_scores"][0]
    assert min(e["lion_decay_scores"]) < 0.6 * e["lion_decay_scores"][0]
    assert not e["at_edge"]
    assert CLAIMS[17].verdict().status == HOLDS


def test_claim_21_warmup_reduces_but_does_not_prevent_high_lr_damage():
    e = lr_schedules.warmup_transformer()
    assert e["high_lr"] == pytest.approx(10 * e["tuned_lr"], rel=1e-2)
    assert e["high_warmup_rise"] < e["high_rise"]
    assert e["high_warmup_final"] < e["high_final"] - 0.1  # 2.52 vs 2.66 nats
    assert e["high_warmup_final"] > 1.05 * e["tuned_final"]  # still far from the tuned run (2.34)
    assert abs(e["tuned_warmup_final"] - e["tuned_final"]) < 0.05  # at the tuned lr warmup changes little
    assert CLAIMS[21].verdict().status == CAVEAT


def test_claim_22_cosine_and_linear_decay_are_indistinguishable_here():
    e = lr_schedules.cosine_versus_linear()
    for task in ("digits", "cancer"):
        assert abs(e[f"{task}_gap"]) < 2 * e[f"{task}_gap_std"]
        assert abs(e[f"{task}_gap"]) < 0.02 * e[f"{task}_linear_loss"]
        assert not e[f"{task}_at_edge"]
    assert CLAIMS[22].verdict().status == NOT_HERE


def test_claim_23_linear_scaling_holds_up_to_the_full_data_set_with_momentum():
    e = batch_size.linear_scaling_rule()
    assert [e[f"lr_{b}"] for b in batch_size.BATCH_SIZES] == [0.0125, 0.05, 0.2, 0.4]
    assert e["holds_between"] == 3 and e["breaks_down_at"] is None
    assert e["loss_1024"] > 1.3 * e["loss_32"]  # fixed epochs: the largest batch still loses
    assert not e["at_edge"]
    assert CLAIMS[23].verdict().status == CAVEAT


def test_claim_28_adamw_and_adam_l2_tie_on_fresh_seeds():
    e = generalisation.adamw_versus_l2()
    assert e["adamw_decay"] > 0 and e["l2_decay"] > 0  # both tuned grids pick some decay
    assert abs(e["gap_loss"]) < e["gap_loss_std"]  # fresh seeds: 0.0870 vs 0.0902, spread 0.0057
    assert abs(e["gap_accuracy"]) < e["gap_accuracy_std"]
    assert e["l2_tuning_loss"] < e["adamw_tuning_loss"]  # on the tuning seeds L2 even came out ahead
    assert not e["at_edge"]
    assert CLAIMS[28].verdict().status == NOT_HERE


def test_claim_29_adam_generalises_at_least_as_well_as_sgd_momentum_on_digits():
    e = generalisation.sgd_versus_adam_generalisation()
    assert e["gap_loss"] > e["gap_loss_std"]  # SGD's held-out loss is higher: 0.098 vs 0.090
    assert e["gap_accuracy"] <= 0
    assert not e["at_edge"]
    assert CLAIMS[29].verdict().status == NOT_HERE


def test_claim_30_sophia_is_not_faster_than_adamw_on_the_tiny_char_model():
    e = speed.sophia_versus_adamw()
    assert e["sophia_final"] > e["adamw_final"] + 0.05  # 2.47 vs 2.34 nats: never catches up in 200 steps
    assert e["speedup"] == 0.0
    assert not e["at_edge"]
    assert CLAIMS[30].verdict().status == NOT_HERE


def test_claim_31_schedule_free_matches_cosine_only_at_the_horizon_its_lr_was_tuned_for():
    e = lr_schedules.schedule_free_versus_cosine()
    assert e["ratio_300"] <= 1.05  # 1.007
    assert e["ratio_100"] > 1.3  # the 300-step run read at step 100: ×1.68
    assert e["retuned_ratio_100"] <= 1.05  # with its lr tuned for 100 steps it matches again (×0.89)
    assert e["cosine_lr_100"] > e["cosine_lr_300"]  # the shorter cosine wants a larger peak lr
    assert not e["at_edge"]
    assert CLAIMS[31].verdict().status == CAVEAT


def test_claim_37_trust_ratio_exact_and_large_batch_mixed():
    e = batch_size.trust_ratio_large_batch()
    assert e["lamb_ratio_error"] <= 1e-12 and e["lars_ratio_error"] <= 1e-12  # ≈ 4·10⁻¹⁵ measured
    assert e["lars_gap"] < 0  # at batch 1024 LARS is ahead of SGD with momentum (by about one seed spread)
    assert e["lamb_gap"] > e["lamb_gap_std"]  # and LAMB behind Adam
    assert not e["at_edge"]
    assert CLAIMS[37].verdict().status == CAVEAT


def test_claim_38_lookahead_shifts_the_good_lr_range_rather_than_widening_it():
    e = learning_rates.lookahead_sensitivity()
    assert abs(e["lookahead_width"] - e["adam_width"]) < 0.25  # 1.23 vs 1.24 decades
    assert e["lookahead_low"] > e["adam_low"] and e["lookahead_high"] > e["adam_high"]
    assert e["lookahead_lr"] > e["adam_lr"]
    assert not (e["adam_at_edge"] or e["lookahead_at_edge"])
    assert CLAIMS[38].verdict().status == NOT_HERE


def test_every_experiment_claim_is_registered_once_with_its_kind():
    mine = (2, 9, 14, 16, 17, 21, 22, 23, 28, 29, 30, 31, 37, 38)
    assert all(CLAIMS[n].kind == ("E/X" if n == 37 else "X") and not CLAIMS[n].slow for n in mine)
