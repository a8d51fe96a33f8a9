r"""Claims about weight decay: L2 vs decoupled decay for SGD, momentum and Adam (4), and torch's
lr-scaled decay in AdamW vs the paper's (32).

L2 regularisation adds :math:`\tfrac{\lambda}{2}\|\theta\|^2` to the loss, so the optimizer sees
:math:`g + \lambda\theta`; decoupled decay shrinks the weights, :math:`\theta \leftarrow (1-\eta\lambda)\theta`,
and steps on :math:`g` alone (Loshchilov & Hutter, 2019). Runs use ``optimlab.optim`` classes (each
checked against torch elsewhere) on a float64 quadratic; claim 32 is also run in ``torch.optim.AdamW``.
"""

from __future__ import annotations

import numpy as np
import torch

from optimlab.claims.registry import CAVEAT, HOLDS, NOT_HERE, Verdict, claim, verdict_if
from optimlab.optim import SGD, Adam, AdamW
from optimlab.parameter import Parameter
from optimlab.problems import Quadratic, run_optimizer

DECAY_HOW = ("l2", "decoupled")


class _ZeroGradient:
    """f(θ) = 0 in ``dim`` dimensions, starting at θ = 1: only weight decay moves θ."""

    def __init__(self, dim: int):
        self.dim, self.start = dim, np.ones(dim)

    def value(self, x):
        return 0.0

    def grad(self, x):
        return np.zeros(self.dim)


def decay_path(problem, optimizer_cls, steps: int, *, how: str, decay_per_step: float, weight_decay: float = 0.0,
               start=None, **hyper) -> np.ndarray:
    r"""Iterates of ``optimizer_cls`` (created with ``weight_decay=0``) with decay done by hand.

    ``how="l2"``: the gradient is :math:`\nabla f + \lambda\theta` (``weight_decay`` = λ);
    ``how="decoupled"``: :math:`\theta \leftarrow (1 - \text{decay\_per\_step})\,\theta`, then the step on
    :math:`\nabla f` (gradient taken before the decay, as torch's AdamW does). ``start``: as ``run_optimizer``."""
    if how not in DECAY_HOW:
        raise ValueError(f"how must be one of {DECAY_HOW}, got {how!r}")
    param = Parameter(np.array(problem.start if start is None else start, dtype=np.float64))
    optimizer = optimizer_cls([param], **hyper)
    points = [param.data.copy()]
    for _ in range(steps):
        grad = problem.grad(param.data)
        if how == "l2":
            grad = grad + weight_decay * param.data  # ∇(f + λ‖θ‖²/2)
        else:
            param.data *= 1 - decay_per_step  # θ ← (1 − ηλ)θ
        param.grad = grad
        optimizer.step()
        points.append(param.data.copy())
    return np.stack(points)


def _l2_and_decoupled(optimizer_cls, *, lr, weight_decay, steps, **hyper) -> tuple[np.ndarray, np.ndarray]:
    problem = Quadratic.ill_conditioned(20, 100.0, seed=0)
    start = np.ones(problem.dim)  # away from 0, so that decay matters
    l2 = decay_path(problem, optimizer_cls, steps, how="l2", decay_per_step=0.0, weight_decay=weight_decay,
                    start=start, lr=lr, **hyper)
    decoupled = decay_path(problem, optimizer_cls, steps, how="decoupled", decay_per_step=lr * weight_decay,
                           start=start, lr=lr, **hyper)
    return l2, decoupled


def _own_option_gap(optimizer_cls, reference: np.ndarray, *, lr, weight_decay, steps, **hyper) -> float:
    """max |Δθ| between the optimizer's own ``weight_decay`` option and a hand-made path."""
    problem = Quadratic.ill_conditioned(20, 100.0, seed=0)
    own = run_optimizer(problem, optimizer_cls, steps, start=np.ones(problem.dim), lr=lr, weight_decay=weight_decay,
                        **hyper).points
    return float(np.max(np.abs(own - reference)))


@claim(4, "For plain SGD, L2 regularisation and weight decay are the same thing; with momentum or adaptive methods "
          "they are not", kind="E", topic="weight decay",
       criterion="plain SGD: L2 path vs decoupled path max |Δθ| ≤ 10⁻¹² over 300 steps; SGD(momentum = 0.9) and "
                 "Adam: the two paths differ by > 10⁻³; each class's own weight_decay option reproduces the hand-made "
                 "path it claims to be (SGD, Adam: L2; AdamW: decoupled) to 10⁻¹²",
       scale="20-dimensional quadratic (κ = 100) from θ = 1, λ = 0.01, η = 0.1 (SGD) / 0.01 (Adam), float64",
       judge=lambda e: verdict_if(e["sgd_gap"] <= 1e-12 and e["momentum_gap"] > 1e-3 and e["adam_gap"] > 1e-3
                                  and max(e["own_option_gaps"].values()) <= 1e-12,
                                  Verdict(HOLDS, "identical for plain SGD (to rounding) in torch's convention, where "
                                                 "the decay is scaled by η; with momentum the paths differ by up to "
                                                 f"{e['momentum_gap']:.2g} apart, with Adam {e['adam_gap']:.2g}"),
                                  Verdict(NOT_HERE, "the L2 and decoupled paths do not separate as claimed")))
def l2_versus_decay_by_optimizer() -> dict:
    weight_decay, steps = 0.01, 300
    evidence, own = {}, {}
    for name, cls, hyper in (("sgd", SGD, {"lr": 0.1}), ("momentum", SGD, {"lr": 0.1, "momentum": 0.9}),
                             ("adam", Adam, {"lr": 0.01})):
        l2, decoupled = _l2_and_decoupled(cls, weight_decay=weight_decay, steps=steps, **hyper)
        evidence[f"{name}_gap"] = float(np.max(np.abs(l2 - decoupled)))
        own[name] = _own_option_gap(cls, l2, weight_decay=weight_decay, steps=steps, **hyper)
        if name == "adam":
            own["adamw"] = _own_option_gap(AdamW, decoupled, weight_decay=weight_decay, steps=steps, **hyper)
    evidence["own_option_gaps"] = own
    return evidence


@claim(32, "torch's weight decay in AdamW is multiplied by the learning rate, so changing lr changes the effective "
           "decay; the paper's version is not", kind="E", topic="weight decay",
       criterion="on a weight with zero gradient, AdamW's per-step decay rate −log(θ_T/θ_0)/T equals −log(1 − ηλ) "
                 "to 10⁻¹⁰ for η = 10⁻³ and 10⁻², torch.optim.AdamW gives the same θ_T (≤ 10⁻¹⁴); the paper's rule "
                 "(θ ← θ − η_t λθ, η_t the schedule multiplier) gives the same rate at both η",
       scale="8 weights, 1000 steps, λ = 0.1 (torch) and 10⁻⁴ (paper, η_t = 1), float64",
       judge=lambda e: verdict_if(max(abs(r - 1) for r in e["rate_over_lr_decay"].values()) <= 1e-10
                                  and e["torch_max_diff"] <= 1e-14 and e["paper_rate_ratio"] == 1,
                                  Verdict(CAVEAT, f"10× the lr gives {e['torch_rate_ratio']:.4f}× the decay in torch; "
                                                  "the paper's decay ignores the base lr α but still follows the "
                                                  "schedule multiplier η_t, so a schedule changes it in both"),
                                  Verdict(NOT_HERE, "the measured decay is not ηλ per step")))
def adamw_decay_scales_with_lr() -> dict:
    problem, steps, weight_decay, paper_decay = _ZeroGradient(8), 1000, 0.1, 1e-4
    evidence = {"rate_over_lr_decay": {}, "torch_max_diff": 0.0}
    rates, paper_rates = {}, {}
    for lr in (1e-3, 1e-2):
        ours = run_optimizer(problem, AdamW, steps, lr=lr, weight_decay=weight_decay).points
        theirs = run_optimizer(problem, torch.optim.AdamW, steps, lr=lr, weight_decay=weight_decay).points
        evidence["torch_max_diff"] = max(evidence["torch_max_diff"], float(np.max(np.abs(ours - theirs))))
        rates[lr] = float(-np.log(ours[-1, 0] / ours[0, 0]) / steps)
        evidence["rate_over_lr_decay"][lr] = float(rates[lr] / -np.log1p(-lr * weight_decay))
        paper = decay_path(problem, Adam, steps, how="decoupled", decay_per_step=paper_decay, lr=lr)
        paper_rates[lr] = float(-np.log(paper[-1, 0] / paper[0, 0]) / steps)
    evidence["torch_rates"] = rates
    evidence["torch_rate_ratio"] = rates[1e-2] / rates[1e-3]
    evidence["paper_rate_ratio"] = paper_rates[1e-2] / paper_rates[1e-3]
    return evidence
