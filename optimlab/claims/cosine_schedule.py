r"""Claim 36: the cosine schedule ends at :math:`\eta_{min}` at :math:`T`, while torch's
``CosineAnnealingLR`` keeps following the cosine after ``T_max`` and climbs back.

:math:`\eta_t = \eta_{min} + \tfrac12(\eta_0 - \eta_{min})(1 + \cos(\pi\min(t, T)/T))` (Loshchilov &
Hutter, "SGDR", 2017, within one cycle); torch's class uses :math:`t` itself, so its lr has period
:math:`2T`. Evidence: ``optimlab.schedules.cosine`` and ``CosineAnnealingLR``, and torch's class.
"""

from __future__ import annotations

import numpy as np
import torch

from optimlab.claims.registry import HOLDS, NOT_HERE, Verdict, claim, verdict_if
from optimlab.optim import SGD
from optimlab.parameter import Parameter
from optimlab.schedules import CosineAnnealingLR, cosine


def scheduler_lrs(steps: int, *, lr: float, T_max: int, eta_min: float) -> tuple[np.ndarray, np.ndarray]:
    """The lr before each of ``steps`` steps under optimlab's and torch's ``CosineAnnealingLR``."""
    optimizer = SGD([Parameter(np.zeros(1))], lr=lr)
    ours = CosineAnnealingLR(optimizer, T_max, eta_min)
    weight = torch.zeros(1, requires_grad=True)
    torch_optimizer = torch.optim.SGD([weight], lr=lr)
    theirs = torch.optim.lr_scheduler.CosineAnnealingLR(torch_optimizer, T_max, eta_min)
    lrs = []
    for _ in range(steps):
        lrs.append((optimizer.param_groups[0]["lr"], torch_optimizer.param_groups[0]["lr"]))
        optimizer.step()
        torch_optimizer.step()
        ours.step()
        theirs.step()
    return tuple(np.array(column) for column in zip(*lrs))


@claim(36, "The cosine schedule reaches lr_min at T; torch's CosineAnnealingLR rises again after T_max", kind="E",
       topic="schedules",
       criterion="cosine(η₀, T, η_min)(T) = η_min exactly and stays there to 3T; CosineAnnealingLR (ours and torch's, "
                 "equal to 10⁻¹²) is η_min at T_max to 10⁻¹², rises after it, and is back at η₀ at 2T_max (10⁻¹²)",
       scale="η₀ = 0.1, η_min = 10⁻³, T = 100, 300 steps",
       judge=lambda e: verdict_if(e["pure_at_T_minus_min"] == 0 and e["pure_after_T_max_dev"] == 0
                                  and e["ours_vs_torch_max_diff"] <= 1e-12 and e["class_at_T_minus_min"] <= 1e-12
                                  and e["class_rises_after_T"] and abs(e["class_at_2T"] - 0.1) <= 1e-12,
                                  Verdict(HOLDS, "torch's class has period 2T_max (both its recursion and its closed "
                                                 "form); to hold η_min use a schedule with min(t, T), as "
                                                 "ScheduleLR(opt, cosine(...)) does"),
                                  Verdict(NOT_HERE, "the schedules do not end or continue as claimed")))
def cosine_end_versus_torch() -> dict:
    lr, eta_min, T = 0.1, 1e-3, 100
    pure = np.array([cosine(lr, T, eta_min)(t) for t in range(3 * T + 1)])
    ours, theirs = scheduler_lrs(3 * T + 1, lr=lr, T_max=T, eta_min=eta_min)
    return {
        "pure_at_T_minus_min": float(pure[T] - eta_min),
        "pure_after_T_max_dev": float(np.max(np.abs(pure[T:] - eta_min))),
        "ours_vs_torch_max_diff": float(np.max(np.abs(ours - theirs))),
        "class_at_T_minus_min": float(abs(ours[T] - eta_min)),
        "class_rises_after_T": bool(np.all(np.diff(ours[T:2 * T + 1]) > 0)),
        "class_at_2T": float(ours[2 * T]),
        "torch_at_2T": float(theirs[2 * T]),
    }
