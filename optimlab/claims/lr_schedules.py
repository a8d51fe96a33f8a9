r"""Experiment claims about learning-rate schedules: warmup for transformers (21), cosine vs linear
decay (22) and Schedule-Free AdamW vs a tuned cosine (31).

Peak learning rates are tuned by the protocol of ``optimlab.claims.tuning``; the schedules are the
pure functions of ``optimlab.schedules``, passed to the optimizer as its ``lr``.
"""

from __future__ import annotations

import numpy as np

from optimlab.claims.registry import CAVEAT, HOLDS, NOT_HERE, Verdict, claim, verdict_if
from optimlab.claims.speed import CHARLM_ADAM_GRID, CHARLM_EVAL_EVERY
from optimlab.claims.tuning import LR_GRIDS, leading, lr_sweep, paired_gap, seed_runs

WARMUP_STEPS = 50
EARLY_WINDOW = 100


def largest_rise(batch_losses, window: int = 10, steps: int = EARLY_WINDOW) -> float:
    """Instability measure: the largest excess of the ``window``-step moving average of the mini-batch
    loss over its running minimum, within the first ``steps`` steps (0 for a loss that only falls)."""
    smooth = np.convolve(np.asarray(batch_losses[:steps]), np.ones(window) / window, mode="valid")
    return float(np.max(smooth - np.minimum.accumulate(smooth)))


def _warmup_runs(lr: float, warmup: int) -> dict:
    schedule = {"schedule": "warmup", "warmup": warmup} if warmup else {}
    runs = seed_runs("charlm", "adam", lr, eval_every=CHARLM_EVAL_EVERY, **schedule)
    return {"rise": float(np.mean([largest_rise(r.batch_loss) for r in runs])),
            "final": float(np.mean([r.final_test_loss for r in runs]))}


@claim(21, "Warmup prevents the early instability of transformers trained with Adam at a high learning rate",
       kind="X", topic="schedules",
       criterion=f"Adam on a char transformer at its tuned lr and at 10× it, with and without a {WARMUP_STEPS}-step "
                 "linear warmup: instability = the largest rise of the 10-step average mini-batch loss above its "
                 f"running minimum in the first {EARLY_WINDOW} steps. 'Prevents' = at 10× the lr, warmup brings the "
                 "rise to within 0.05 nats of the tuned run's and the final held-out loss to within 2% of it",
       scale="tiny char transformer (1 layer, width 32, context 16, 200 steps of 16 windows), float64, seeds 0–2",
       judge=lambda e: verdict_if(
           e["high_warmup_rise"] < e["high_rise"] and e["high_warmup_final"] < e["high_final"],
           verdict_if(e["high_warmup_rise"] <= e["tuned_rise"] + 0.05
                      and e["high_warmup_final"] <= 1.02 * e["tuned_final"], Verdict(HOLDS),
                      Verdict(CAVEAT, "warmup reduces the damage of a 10× lr (early rise {:.3g} → {:.3g} nats, final "
                                      "{:.4g} → {:.4g}) but does not prevent it: the tuned lr without warmup reaches "
                                      "{:.4g} (with warmup {:.4g})".format(
                                          e["high_rise"], e["high_warmup_rise"], e["high_final"],
                                          e["high_warmup_final"], e["tuned_final"], e["tuned_warmup_final"]))),
           Verdict(NOT_HERE, "warmup does not reduce the early rise or the final loss at 10× the tuned lr")))
def warmup_transformer() -> dict:
    tuned = lr_sweep("charlm", "adam", CHARLM_ADAM_GRID, eval_every=CHARLM_EVAL_EVERY).best
    evidence = {"tuned_lr": tuned, "high_lr": float(f"{10 * tuned:.3g}")}
    for label, lr in (("tuned", tuned), ("high", evidence["high_lr"])):
        for suffix, warmup in (("", 0), ("_warmup", WARMUP_STEPS)):
            result = _warmup_runs(lr, warmup)
            evidence[f"{label}{suffix}_rise"], evidence[f"{label}{suffix}_final"] = result["rise"], result["final"]
    return leading(evidence, "high_final", "high_warmup_final", "tuned_final")


@claim(22, "Cosine decay works slightly better than linear decay", kind="X", topic="schedules",
       criterion="Adam with cosine and with linear decay to 0 over the run, each peak lr tuned (7-point grid): "
                 "cosine's final held-out loss is lower on both tasks by more than the paired seed standard deviation",
       scale="digits MLP (300 steps of batch 64) and breast-cancer logistic regression (200 steps of 32), float64, "
             "seeds 0–2",
       judge=lambda e: verdict_if(
           all(e[f"{t}_gap"] < -e[f"{t}_gap_std"] for t in ("digits", "cancer")), Verdict(HOLDS),
           Verdict(NOT_HERE, "indistinguishable at this scale: cosine − linear = {:+.2g} ± {:.2g} (digits), "
                             "{:+.2g} ± {:.2g} (breast cancer)".format(e["digits_gap"], e["digits_gap_std"],
                                                                       e["cancer_gap"], e["cancer_gap_std"]))))
def cosine_versus_linear() -> dict:
    evidence = {}
    for task in ("digits", "cancer"):
        best = {name: lr_sweep(task, "adam", LR_GRIDS["adam"], schedule=name) for name in ("cosine", "linear")}
        gap, std = paired_gap(task, ("adam", best["cosine"].best, {"schedule": "cosine"}),
                           ("adam", best["linear"].best, {"schedule": "linear"}))
        evidence.update({f"{task}_cosine_lr": best["cosine"].best, f"{task}_linear_lr": best["linear"].best,
                         f"{task}_cosine_loss": best["cosine"].best_score, f"{task}_linear_loss": best["linear"].best_score,
                         f"{task}_gap": gap, f"{task}_gap_std": std,
                         f"{task}_at_edge": best["cosine"].at_edge or best["linear"].at_edge})
    return leading(evidence, "digits_gap", "digits_gap_std", "cancer_gap")


SHORT_HORIZON = 100


@claim(31, "Schedule-Free AdamW matches a tuned cosine schedule without knowing the run length", kind="X",
       topic="schedules",
       criterion=f"at horizons T = {SHORT_HORIZON} and 300: Adam + cosine to 0 at T with its peak lr tuned for that T, "
                 "vs one Schedule-Free AdamW run (lr tuned at T = 300, no warmup) read at step T: 'matches' = mean "
                 "held-out loss within 5% at both horizons",
       scale="digits MLP (batch 64), float64, seeds 0–2",
       judge=lambda e: verdict_if(
           e["ratio_300"] <= 1.05,
           verdict_if(e[f"ratio_{SHORT_HORIZON}"] <= 1.05, Verdict(HOLDS),
                      Verdict(CAVEAT, "at the horizon its lr was tuned for (×{:.3f} the cosine's loss) but not at "
                                      "T = {} read from the same run (×{:.3f}); retuned for T = {} it is ×{:.3f}".format(
                                          e["ratio_300"], SHORT_HORIZON, e[f"ratio_{SHORT_HORIZON}"],
                                          SHORT_HORIZON, e[f"retuned_ratio_{SHORT_HORIZON}"]))),
           Verdict(NOT_HERE, "Schedule-Free is > 5% behind the tuned cosine at T = 300")))
def schedule_free_versus_cosine() -> dict:
    free = lr_sweep("digits", "schedule_free_adamw", LR_GRIDS["schedule_free_adamw"])
    free_runs = seed_runs("digits", "schedule_free_adamw", free.best)
    checkpoint = free_runs[0].steps.index(SHORT_HORIZON)
    evidence = {"schedule_free_lr": free.best, "at_edge": free.at_edge}
    for horizon, free_loss in ((300, free.best_score),
                               (SHORT_HORIZON, float(np.mean([r.test_loss[checkpoint] for r in free_runs])))):
        cosine = lr_sweep("digits", "adam", LR_GRIDS["adam"], schedule="cosine", steps=horizon)
        evidence.update({f"cosine_lr_{horizon}": cosine.best, f"cosine_loss_{horizon}": cosine.best_score,
                         f"schedule_free_loss_{horizon}": free_loss, f"ratio_{horizon}": free_loss / cosine.best_score})
        evidence["at_edge"] = evidence["at_edge"] or cosine.at_edge
    retuned = lr_sweep("digits", "schedule_free_adamw", LR_GRIDS["schedule_free_adamw"], steps=SHORT_HORIZON)
    evidence[f"retuned_ratio_{SHORT_HORIZON}"] = retuned.best_score / evidence[f"cosine_loss_{SHORT_HORIZON}"]
    return leading(evidence, "ratio_300", "ratio_100", "retuned_ratio_100")
