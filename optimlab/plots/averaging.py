r"""Figures of chapter 12: averaging instead of (or beside) a schedule, on a noisy quadratic.

Constant-learning-rate SGD on :math:`\tfrac12(\theta - \theta^\star)^\top A(\theta - \theta^\star)` with
gradient noise :math:`\sigma\xi` settles into a stationary cloud around :math:`\theta^\star` whose size
grows with :math:`\eta`; an average of the iterates (EMA, SWA, Schedule-Free's :math:`x`) or a decaying
schedule shrinks it.
"""

from __future__ import annotations

import functools

import numpy as np

import optimlab.schedules as S
from optimlab.optim import SGD, Lookahead, SGDScheduleFree
from optimlab.parameter import Parameter
from optimlab.plots._common import new_figure, styled
from optimlab.problems import Quadratic
from optimlab.training import EMA, SWA

LRS = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3)
STEPS, SEEDS, MOMENTUM = 1000, (0, 1, 2), 0.9
METHODS = ("SGD, constant lr", "SGD + cosine to T", "Schedule-Free SGD", "Lookahead(SGD)",
           "EMA of SGD (0.99)", "SWA of SGD (last half)")


def noisy_quadratic(seed):
    """10-D, κ = 100, gradient noise σ = 1 (seeded)."""
    return Quadratic.ill_conditioned(10, 100.0, noise_std=1.0, seed=seed)


def _run(method, lr, seed, steps):
    """f at the point each method evaluates, after every step: {name: curve} (SGD's run also yields EMA/SWA)."""
    problem, param = noisy_quadratic(seed), Parameter(np.zeros(10))
    if method == "Schedule-Free SGD":
        optimizer = SGDScheduleFree([param], lr=lr, momentum=MOMENTUM)
    elif method == "Lookahead(SGD)":
        optimizer = Lookahead(SGD([param], lr=lr, momentum=MOMENTUM), k=5, alpha=0.5)
    else:
        optimizer = SGD([param], lr=S.cosine(lr, steps) if method == "SGD + cosine to T" else lr, momentum=MOMENTUM)
    ema, swa = EMA([param], 0.99), SWA([param])
    curves = {name: [] for name in ((method,) if method != METHODS[0] else (METHODS[0], METHODS[4], METHODS[5]))}
    for t in range(steps):
        param.grad = problem.grad(param.data)
        optimizer.step()
        if method == "Schedule-Free SGD":
            optimizer.eval()  # evaluate at the average x, then back to y for the next gradient
            curves[method].append(problem.value(param.data))
            optimizer.train()
            continue
        curves[method].append(problem.value(param.data))
        if method == METHODS[0]:
            ema.update()
            curves[METHODS[4]].append(problem.value(ema.averaged[0]))
            if t >= steps // 2:
                swa.update()
            curves[METHODS[5]].append(problem.value(swa.averaged[0]) if t >= steps // 2 else np.nan)
    return curves


@functools.cache
def averaging_sweep(lrs=LRS, steps=STEPS, seeds=SEEDS):
    """Final f per method, learning rate and seed ({method: array (len(lrs), len(seeds))}), and the
    curves of seed ``seeds[0]`` at lr 0.1 ({method: array (steps,)}). Cached: notebook and figure share it."""
    finals = {name: np.zeros((len(lrs), len(seeds))) for name in METHODS}
    curves = {}
    for i, lr in enumerate(lrs):
        for j, seed in enumerate(seeds):
            for method in METHODS[:4]:
                for name, curve in _run(method, lr, seed, steps).items():
                    finals[name][i, j] = curve[-1]
                    if lr == 0.1 and j == 0:
                        curves[name] = np.array(curve)
    return finals, curves


@styled
def averaging_noisy_quadratic():
    """Left: f per step at lr 0.1 for each method; right: final f against the learning rate."""
    finals, curves = averaging_sweep()
    fig, axes = new_figure(2, 1, width=9.0, height=3.4)
    for i, name in enumerate(METHODS):
        axes[0, 0].semilogy(curves[name], color=f"C{i}", lw=1, label=name)
        axes[0, 1].loglog(LRS, finals[name].mean(axis=1), "o-", color=f"C{i}", ms=3, lw=1.2, label=name)
    axes[0, 0].set_title(r"$\eta = 0.1$, momentum 0.9, one seed")
    axes[0, 0].set_xlabel("step $t$")
    axes[0, 0].set_ylabel(r"$f(\theta) - f^\star$ at the evaluated point")
    axes[0, 1].set_title(f"after {STEPS} steps (mean of {len(SEEDS)} seeds)")
    axes[0, 1].set_xlabel(r"learning rate $\eta$")
    axes[0, 1].legend(frameon=False, fontsize=6.5)
    return fig
