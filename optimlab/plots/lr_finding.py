r"""Figures of chapter 8: the learning-rate range test, tuning sweeps, and a race on Rosenbrock.

The task is logistic regression on the breast-cancer data (``BreastCancerLogistic``), cheap enough to
sweep; the sweeps are ``optimlab.claims.tuning``'s protocol (same grid spacing, seeds and score for
every optimizer), so the book and the claims share one computation.
"""

from __future__ import annotations

import numpy as np

from optimlab.claims import tuning
from optimlab.optim import SGD, Adam
from optimlab.plots._common import new_figure, styled
from optimlab.plots.race import race_figure
from optimlab.problems import BreastCancerLogistic
from optimlab.race import DEFAULT_RACERS, parse_racer, run_race
from optimlab.training import lr_range_test, plot_lr_range_test

# name in the book: (optimizer factory for the range test, name in optimlab.claims.tuning)
CONTENDERS = {
    "SGD, momentum 0.9": (lambda params: SGD(params, lr=1.0, momentum=0.9), "heavy_ball"),
    "Adam": (lambda params: Adam(params, lr=1.0), "adam"),
}


def range_test(name, seed=0):
    """The range test (1e-5 to 10, 100 steps) of ``CONTENDERS[name]`` on the breast-cancer task."""
    task = BreastCancerLogistic(seed=seed, batch_size=32)
    optimizer = CONTENDERS[name][0](list(task.parameters()))
    return lr_range_test(optimizer, lambda: task.loss_and_grad(task.next_batch()), start_lr=1e-5, end_lr=10.0,
                         num_steps=100)


def sweep(name):
    """``tuning.lr_sweep`` on the breast-cancer task over ``tuning.LR_GRIDS`` (3 seeds)."""
    key = CONTENDERS[name][1]
    return tuning.lr_sweep("cancer", key, tuning.LR_GRIDS[key])


@styled
def lr_range_tests():
    """The range test of each contender, its suggestion and the learning rate the sweep selects."""
    fig, axes = new_figure(2, 1, width=8.0, height=3.0, sharey=True)
    for ax, name in zip(axes.flat, CONTENDERS):
        plot_lr_range_test(range_test(name), ax)
        ax.axvline(sweep(name).best, color="C2", ls=":", label=f"tuned by the sweep: {sweep(name).best:.3g}")
        ax.set_title(name)
        ax.legend(frameon=False, fontsize=7)
    axes[0, 1].set_ylabel("")
    return fig


@styled
def lr_sweeps():
    """Mean final test loss (3 seeds; the band spans the seeds) against the learning rate."""
    fig, axes = new_figure(1, 1, width=5.5, height=3.2)
    ax = axes[0, 0]
    for i, name in enumerate(CONTENDERS):
        result, key = sweep(name), CONTENDERS[name][1]
        per_seed = np.array([[run.final_test_loss for run in tuning.seed_runs("cancer", key, lr)] for lr in result.grid])
        ax.fill_between(result.grid, per_seed.min(axis=1), per_seed.max(axis=1), color=f"C{i}", alpha=0.2, lw=0)
        ax.loglog(result.grid, result.scores, "o-", color=f"C{i}", ms=3, label=f"{name} (best {result.best:.3g})")
    ax.set_xlabel(r"learning rate $\eta$")
    ax.set_ylabel("final test loss")
    ax.set_title("breast cancer, logistic regression, 200 steps")
    ax.legend(frameon=False, fontsize=7)
    return fig


def race_rosenbrock():
    """``optimlab race``'s default racers, 500 steps on Rosenbrock's valley."""
    racers = [parse_racer(name, "rosenbrock") for name in DEFAULT_RACERS]
    return race_figure("rosenbrock", run_race("rosenbrock", racers, 500))
