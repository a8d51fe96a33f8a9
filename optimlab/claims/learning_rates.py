r"""Experiment claims about learning rates: SGD vs Adam (16), Lion vs AdamW (17) and Lookahead's
sensitivity to the inner learning rate (38).

Every learning rate is tuned by the protocol of ``optimlab.claims.tuning`` (half-decade grids, seeds
0–2, best mean final held-out loss), so a "ratio of tuned learning rates" is known to a factor √10.
"""

from __future__ import annotations

import math

import numpy as np

from optimlab.claims.registry import CAVEAT, HOLDS, NOT_HERE, Verdict, claim, verdict_if
from optimlab.claims.tuning import LR_GRIDS, leading, log_grid, lr_decay_sweep, lr_sweep

TASKS = ("digits", "cancer")
SCALE = ("digits MLP (64–128–10, 300 steps of batch 64) and breast-cancer logistic regression (200 steps of "
         "batch 32), float64, seeds 0–2; half-decade grids (ratios known to ×√10)")


def _ratio(numerator, denominator) -> float:
    return float(f"{numerator / denominator:.3g}")


def _in_range(value: float, low: float, high: float) -> bool:
    """``low ≤ value ≤ high`` up to the 3-digit rounding of grid values."""
    return low * 0.99 <= value <= high * 1.01


@claim(16, "SGD needs a learning rate 10–100× larger than Adam's", kind="X", topic="learning rates",
       criterion="the tuned lr of plain SGD over the tuned lr of Adam lies in [10, 100] on both tasks; the same "
                 "ratio for SGD with torch's momentum 0.9 is reported beside it",
       scale=SCALE,
       judge=lambda e: verdict_if(
           all(_in_range(e[f"{t}_sgd_over_adam"], 10, 100) for t in TASKS) and not e["at_edge"],
           verdict_if(all(_in_range(e[f"{t}_heavy_ball_over_adam"], 10, 100) for t in TASKS), Verdict(HOLDS),
                      Verdict(CAVEAT, "for plain SGD (×{:.3g} on digits, ×{:.3g} on breast cancer); torch's momentum "
                                      "0.9 multiplies the step by 1/(1 − β) = 10, and with it the ratio is ×{:.3g} and "
                                      "×{:.3g}".format(e["digits_sgd_over_adam"], e["cancer_sgd_over_adam"],
                                                       e["digits_heavy_ball_over_adam"],
                                                       e["cancer_heavy_ball_over_adam"]))),
           Verdict(NOT_HERE, "the tuned ratio falls outside 10–100 (or a tuned lr sits at a grid edge)")))
def sgd_versus_adam_lr() -> dict:
    evidence, edges = {}, []
    for task in TASKS:
        sweeps = {name: lr_sweep(task, name, LR_GRIDS[name]) for name in ("sgd", "heavy_ball", "adam")}
        for name, sweep in sweeps.items():
            evidence[f"{task}_{name}_lr"] = sweep.best
            edges.append(sweep.at_edge)
        evidence[f"{task}_sgd_over_adam"] = _ratio(sweeps["sgd"].best, sweeps["adam"].best)
        evidence[f"{task}_heavy_ball_over_adam"] = _ratio(sweeps["heavy_ball"].best, sweeps["adam"].best)
    evidence["at_edge"] = any(edges)
    return leading(evidence, "digits_sgd_over_adam", "cancer_sgd_over_adam", "digits_heavy_ball_over_adam")


# Joint (lr, weight decay) grids: 5 learning rates around each optimizer's tuned lr, the same 7 decays
ADAMW_LRS = log_grid(3.16e-4, 5)
LION_LRS = log_grid(3.16e-5, 5)
DECOUPLED_DECAYS = (0.0,) + log_grid(0.0316, 6)


@claim(17, "Lion needs a learning rate 3–10× smaller and weight decay 3–10× larger than AdamW", kind="X",
       topic="learning rates",
       criterion="learning rate: tuned lr of AdamW (= Adam at decay 0) over Lion's in [3, 10] on both tasks; "
                 "weight decay: on the digits MLP, joint (lr, λ) grids (5 lrs × λ ∈ {0, 0.0316 … 10}) for both, "
                 "tuned λ of Lion over AdamW's in [3, 10]",
       scale=SCALE + "; decay grids on the digits MLP only",
       judge=lambda e: verdict_if(
           all(_in_range(e[f"{t}_adamw_over_lion_lr"], 3, 10) for t in TASKS) and not e["at_edge"],
           verdict_if(e["lion_decay"] > 0 and e["adamw_decay"] > 0,
                      verdict_if(_in_range(e["lion_over_adamw_decay"], 3, 10),
                                 Verdict(HOLDS, "at the top of the range: lr ×{:.3g} (digits), ×{:.3g} (breast cancer) "
                                                "smaller, decay ×{:.3g} larger (jointly tuned: AdamW lr {:.3g}, λ {:.3g}; "
                                                "Lion lr {:.3g}, λ {:.3g}), so that ηλ is the same".format(
                                                    e["digits_adamw_over_lion_lr"], e["cancer_adamw_over_lion_lr"],
                                                    e["lion_over_adamw_decay"], e["adamw_joint_lr"], e["adamw_decay"],
                                                    e["lion_joint_lr"], e["lion_decay"])),
                                 Verdict(CAVEAT, "the learning-rate part holds; the tuned decays are Lion {:.3g}, AdamW "
                                                 "{:.3g}: ×{:.3g}".format(e["lion_decay"], e["adamw_decay"],
                                                                           e["lion_over_adamw_decay"]))),
                      Verdict(CAVEAT, "the learning-rate part holds (×{:.3g}, ×{:.3g}); no decay helps the held-out "
                                      "loss at this scale (tuned λ: Lion {:.3g}, AdamW {:.3g}), so the decay ratio is "
                                      "not measured".format(e["digits_adamw_over_lion_lr"], e["cancer_adamw_over_lion_lr"],
                                                            e["lion_decay"], e["adamw_decay"]))),
           Verdict(NOT_HERE, "the tuned lr ratio falls outside 3–10 (or a tuned lr sits at a grid edge)")))
def lion_versus_adamw() -> dict:
    evidence, edges = {}, []
    for task in TASKS:
        adam, lion = lr_sweep(task, "adam", LR_GRIDS["adam"]), lr_sweep(task, "lion", LR_GRIDS["lion"])
        evidence[f"{task}_adamw_over_lion_lr"] = _ratio(adam.best, lion.best)
        edges += [adam.at_edge, lion.at_edge]
    adamw = lr_decay_sweep("digits", "adamw", ADAMW_LRS, DECOUPLED_DECAYS)
    lion = lr_decay_sweep("digits", "lion", LION_LRS, DECOUPLED_DECAYS)
    (adamw_lr, evidence["adamw_decay"]), (lion_lr, evidence["lion_decay"]) = adamw.best, lion.best
    evidence["adamw_joint_lr"], evidence["lion_joint_lr"] = adamw_lr, lion_lr
    edges += [adamw_lr in (ADAMW_LRS[0], ADAMW_LRS[-1]), lion_lr in (LION_LRS[0], LION_LRS[-1]),
              evidence["lion_decay"] == DECOUPLED_DECAYS[-1], evidence["adamw_decay"] == DECOUPLED_DECAYS[-1]]
    evidence["lion_over_adamw_decay"] = (_ratio(evidence["lion_decay"], evidence["adamw_decay"])
                                         if evidence["adamw_decay"] else float("nan"))
    evidence["adamw_decay_scores"] = _decay_profile(adamw, adamw_lr)
    evidence["lion_decay_scores"] = _decay_profile(lion, lion_lr)
    evidence["at_edge"] = any(edges)
    return leading(evidence, "digits_adamw_over_lion_lr", "cancer_adamw_over_lion_lr", "lion_over_adamw_decay")


def _decay_profile(sweep, lr) -> list[float]:
    """Mean held-out loss along the decay grid at the tuned ``lr`` of a joint sweep."""
    return [round(score, 4) for (grid_lr, _), score in zip(sweep.grid, sweep.scores) if grid_lr == lr]


def good_lr_range(sweep, factor: float = 2.0) -> tuple[float, float]:
    """The lr interval around the optimum where the mean held-out loss is within ``factor`` × the best,
    with log loss interpolated linearly in log lr between grid points (clipped to the grid)."""
    log_lr, log_ratio = np.log10(sweep.grid), np.log(np.asarray(sweep.scores) / sweep.best_score)
    best, limit = int(np.argmin(sweep.scores)), math.log(factor)

    def crossing(direction):
        i = best
        while 0 <= i + direction < len(log_lr) and log_ratio[i + direction] <= limit:
            i += direction
        if not 0 <= i + direction < len(log_lr):
            return 10 ** log_lr[i]
        j = i + direction
        fraction = (limit - log_ratio[i]) / (log_ratio[j] - log_ratio[i])
        return 10 ** (log_lr[i] + fraction * (log_lr[j] - log_lr[i]))

    return crossing(-1), crossing(+1)


@claim(38, "Lookahead makes training less sensitive to the inner optimizer's learning rate", kind="X",
       topic="learning rates",
       criterion="on one 8-point lr grid (10⁻⁴ … 0.316) for Adam and Lookahead(Adam, k = 5, α = 0.5): the width in "
                 "decades of the lr interval whose mean held-out loss is within 2× of each one's best (log loss "
                 "interpolated in log lr); 'less sensitive' = wider by at least the grid's resolution, half a decade",
       scale="digits MLP (300 steps of batch 64), float64, seeds 0–2",
       judge=lambda e: verdict_if(
           e["lookahead_width"] >= e["adam_width"] + 0.5 and not (e["adam_at_edge"] or e["lookahead_at_edge"]),
           Verdict(HOLDS),
           Verdict(NOT_HERE if e["lookahead_width"] <= e["adam_width"] else CAVEAT,
                   "the interval within 2× of the best loss is {:.2f} decades wide with Lookahead ({:.3g} … {:.3g}) vs "
                   "{:.2f} without ({:.3g} … {:.3g}), less than the grid's half-decade resolution apart: Lookahead "
                   "moves the good range to larger lrs (its optimum ×{:.3g}) rather than widening it".format(
                       e["lookahead_width"], e["lookahead_low"], e["lookahead_high"], e["adam_width"], e["adam_low"],
                       e["adam_high"], e["lookahead_lr"] / e["adam_lr"]))))
def lookahead_sensitivity() -> dict:
    evidence = {}
    for name, optimizer in (("adam", "adam"), ("lookahead", "lookahead_adam")):
        sweep = lr_sweep("digits", optimizer, LR_GRIDS[optimizer])
        low, high = good_lr_range(sweep)
        evidence.update({f"{name}_lr": sweep.best, f"{name}_low": float(low), f"{name}_high": float(high),
                         f"{name}_width": math.log10(high / low), f"{name}_at_edge": sweep.at_edge,
                         f"{name}_scores": [round(score, 4) for score in sweep.scores]})
    return leading(evidence, "adam_width", "lookahead_width", "lookahead_lr")
