r"""Figures of chapter 7: the shape of every schedule in :mod:`optimlab.schedules`, and warmup.

Each schedule is a pure function :math:`\eta_t = f(t)` of the number of completed steps :math:`t`
(the value the update :math:`t + 1` uses), so a figure is just :math:`f` on a grid of steps.
"""

from __future__ import annotations

import numpy as np

import optimlab.schedules as S
from optimlab.optim import Adam
from optimlab.claims.tuning import single_blas_thread
from optimlab.plots._common import new_figure, styled
from optimlab.problems import DigitsMLP

T = 100  # steps shown in every panel


def classic_schedules():
    """{panel title: {label: schedule}}: every classic schedule at peak 1 over ``T`` steps."""
    return {
        "step decay (StepLR)": {r"$s=30,\ \gamma=0.5$": S.step_decay(1.0, 30, 0.5)},
        "multistep (MultiStepLR)": {r"$m=(50, 80),\ \gamma=0.1$": S.multistep(1.0, [50, 80], 0.1)},
        "exponential (ExponentialLR)": {r"$\gamma=0.97$": S.exponential(1.0, 0.97)},
        "polynomial (PolynomialLR)": {"$p=1$": S.polynomial(1.0, 80, 1.0), "$p=2$": S.polynomial(1.0, 80, 2.0)},
        "cosine, $T=60$": {"held after $T$ (paper, optax)": S.cosine(1.0, 60),
                           "periodic (CosineAnnealingLR)": S.cosine(1.0, 60, periodic=True)},
        "SGDR (...WarmRestarts)": {r"$T_0=10,\ T_{mult}=2$": S.cosine_warm_restarts(1.0, 10, 2)},
        "cyclic (CyclicLR)": {"triangular": S.cyclic(0.1, 1.0, 10), "triangular2": S.cyclic(0.1, 1.0, 10, mode="triangular2")},
        "one-cycle (OneCycleLR)": {"lr": S.one_cycle(1.0, T), "momentum": S.one_cycle_momentum(T)},
    }


def warmup_schedules():
    """{panel title: {label: schedule}}: the warmup family with 10 warmup steps, peak 1."""
    noam_peak = S.noam(512, 10)(10)
    return {
        "warmup, then decay": {"constant": S.warmup_constant(1.0, 10),
                               "linear": S.warmup_linear_decay(1.0, 10, T),
                               "cosine": S.warmup_cosine_decay(1.0, 10, T)},
        "inverse square root": {r"$\tau = W$": S.inverse_sqrt(1.0, 10),
                                "Noam (scaled to peak 1)": lambda t: S.noam(512, 10)(t) / noam_peak},
        "warmup-stable-decay": {name: S.warmup_stable_decay(1.0, 10, 60, 30, cooldown=name)
                                for name in ("linear", "cosine", "1-sqrt", "1-square")},
    }


def _panels(axes, panels):
    steps = np.arange(T + 1)
    for ax, (title, curves) in zip(axes.flat, panels.items()):
        for label, schedule in curves.items():
            ax.plot(steps, [schedule(t) for t in steps], lw=1.3, label=label)
        ax.set_title(title)
        ax.set_xlabel("step $t$")
        ax.set_ylim(-0.05, 1.08)
        ax.legend(frameon=False, fontsize=6.5, loc="best")
    for ax in axes[:, 0]:
        ax.set_ylabel(r"$\eta_t / \eta_0$")


@styled
def schedule_shapes():
    """The classic schedules of :func:`classic_schedules`, one panel each."""
    fig, axes = new_figure(4, 2, width=9.0, height=4.6, sharey=True)
    _panels(axes, classic_schedules())
    return fig


def warmup_runs(lr=0.1, warmup_steps=50, steps=200, seeds=range(5)):
    """Test loss of Adam on the digits MLP after ``steps`` steps, without and with linear warmup.

    Returns ``{"no warmup": [...], "warmup": [...]}`` (one entry per seed) and the training-loss curves.
    """
    finals, curves = {"no warmup": [], "warmup": []}, {"no warmup": [], "warmup": []}
    with single_blas_thread():  # the same bits whatever the machine's core count
        for seed in seeds:
            for name, schedule in (("no warmup", lr), ("warmup", S.warmup_constant(lr, warmup_steps))):
                task = DigitsMLP(seed=seed, hidden=64)
                optimizer = Adam(task.parameters(), lr=schedule)
                losses = []
                for _ in range(steps):
                    optimizer.zero_grad()
                    losses.append(task.loss_and_grad())
                    optimizer.step()
                finals[name].append(task.evaluate()["loss"])
                curves[name].append(losses)
    return finals, {name: np.array(c) for name, c in curves.items()}


@styled
def schedule_warmup():
    """The warmup family (three panels) and Adam at lr 0.1 on the digits MLP with and without warmup."""
    fig, axes = new_figure(4, 1, width=9.5, height=2.6)
    _panels(axes[:, :3], warmup_schedules())
    ax = axes[0, 3]
    finals, curves = warmup_runs()
    for i, (name, losses) in enumerate(curves.items()):
        ax.semilogy(np.median(losses, axis=0), color=f"C{i}", lw=1.2,
                    label=f"{name}: test loss {np.median(finals[name]):.2f}")
    ax.set_title(r"Adam, $\eta = 0.1$, digits MLP")
    ax.set_xlabel("step $t$")
    ax.set_ylabel("training loss")
    ax.legend(frameon=False, fontsize=6.5)
    return fig
