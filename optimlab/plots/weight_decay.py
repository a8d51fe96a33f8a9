r"""Figures of chapter 6: L2 regularisation vs decoupled weight decay.

With L2 in the loss, Adam divides the decay term :math:`\lambda\theta` by :math:`\sqrt{\hat v}`, so a
weight whose gradients have scale :math:`s` shrinks by about :math:`\eta\lambda/s` per step; AdamW
multiplies every weight by :math:`1-\eta\lambda`. torch's AdamW scales the decay by the learning rate
:math:`\eta`; Loshchilov & Hutter's version applies :math:`\lambda` alone (times the schedule
multiplier), which torch reproduces with ``weight_decay = λ/η``.
"""

from __future__ import annotations

import numpy as np

from optimlab.claims.adam_family import oscillating_decay_rates
from optimlab.optim import AdamW
from optimlab.plots._common import new_figure, styled
from optimlab.problems import DigitsMLP

DECAY_SETTING = {"lr": 1e-3, "weight_decay": 1e-2, "steps": 3000}
COUPLING_LRS = (3e-4, 1e-3, 3e-3, 1e-2)
COUPLING_SETTING = {"torch_weight_decay": 1.0, "paper_weight_decay": 1e-3, "steps": 200, "hidden": 32}


def decay_rates(scales, decoupled: bool) -> np.ndarray:
    """Measured per-step decay rate of each coordinate (gradient scale ``scales``) at ``DECAY_SETTING``."""
    return oscillating_decay_rates(decoupled, np.asarray(scales, float), **DECAY_SETTING)


def first_layer_norm(lr: float, weight_decay: float, seed: int = 0) -> float:
    """‖W₁‖ after ``COUPLING_SETTING['steps']`` AdamW steps on the digits MLP (float64, batch 64)."""
    task = DigitsMLP(seed=seed, hidden=COUPLING_SETTING["hidden"], dtype=np.float64)
    optimizer = AdamW(task.parameters(), lr=lr, weight_decay=weight_decay)
    for _ in range(COUPLING_SETTING["steps"]):
        optimizer.zero_grad()
        task.loss_and_grad(task.next_batch())
        optimizer.step()
    return float(np.linalg.norm(task.parameters()[0].data))


def decay_shrinkage(lrs=COUPLING_LRS) -> dict:
    """‖W₁‖ with decay / ‖W₁‖ without, per lr, for torch's λ (scaled by η) and the paper's (not)."""
    setting = COUPLING_SETTING
    bare = np.array([first_layer_norm(lr, 0.0) for lr in lrs])
    torch_style = np.array([first_layer_norm(lr, setting["torch_weight_decay"]) for lr in lrs])
    paper_style = np.array([first_layer_norm(lr, setting["paper_weight_decay"] / lr) for lr in lrs])
    return {"lrs": np.array(lrs), "torch": torch_style / bare, "paper": paper_style / bare}


@styled
def weight_decay_per_coordinate():
    """Per-step decay rate against gradient scale: Adam + L2 (≈ ηλ/s) vs AdamW (ηλ for all)."""
    lr, weight_decay = DECAY_SETTING["lr"], DECAY_SETTING["weight_decay"]
    scales = np.geomspace(1e-3, 1e2, 41)
    fig, axes = new_figure(1, 1, width=5.6, height=3.4)
    ax = axes[0, 0]
    ax.loglog(scales, decay_rates(scales, decoupled=False), "o", ms=3, color="C0", label="Adam + L2 (measured)")
    ax.loglog(scales, lr * weight_decay / scales, "--", lw=1, color="C0", label=r"$\eta\lambda / s$")
    ax.loglog(scales, decay_rates(scales, decoupled=True), "s", ms=3, color="C1", label="AdamW (measured)")
    ax.axhline(-np.log1p(-lr * weight_decay), ls="--", lw=1, color="C1", label=r"$-\log(1-\eta\lambda)$")
    ax.set_ylim(1e-8, 1e-2)
    ax.set_xlabel(r"gradient scale $s$ of the coordinate")
    ax.set_ylabel("decay rate per step")
    ax.set_title(rf"$\eta = {lr:g}$, $\lambda = {weight_decay:g}$, {DECAY_SETTING['steps']} steps")
    ax.legend(frameon=False, loc="lower left")
    return fig


@styled
def weight_decay_lr_coupling(shrinkage=None):
    """How much decay shrinks the first layer, against the learning rate, in both conventions
    (``shrinkage``: a ``decay_shrinkage()`` result, computed when not given)."""
    setting, shrinkage = COUPLING_SETTING, shrinkage or decay_shrinkage()
    steps, lrs = setting["steps"], shrinkage["lrs"]
    fig, axes = new_figure(1, 1, width=5.6, height=3.4)
    ax = axes[0, 0]
    ax.semilogx(lrs, shrinkage["torch"], "o-", color="C0",
                label=rf"torch AdamW, weight_decay = {setting['torch_weight_decay']:g}")
    ax.semilogx(lrs, shrinkage["paper"], "s-", color="C1",
                label=rf"paper, $\lambda$ = {setting['paper_weight_decay']:g} (weight_decay = $\lambda/\eta$)")
    ax.semilogx(lrs, (1 - lrs * setting["torch_weight_decay"]) ** steps, ":", color="C0", lw=1,
                label=r"decay alone, $(1-\eta\lambda)^T$")
    ax.semilogx(lrs, np.full(len(lrs), (1 - setting["paper_weight_decay"]) ** steps), ":", color="C1", lw=1,
                label=r"decay alone, $(1-\lambda)^T$")
    ax.set_xlabel(r"learning rate $\eta$")
    ax.set_ylabel(r"$\|W_1\|$ with decay / without")
    ax.set_title(f"digits MLP, {steps} AdamW steps")
    ax.set_ylim(0, 1.05)
    ax.legend(frameon=False, loc="lower left", fontsize=7)
    return fig
