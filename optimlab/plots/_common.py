"""Shared pieces of the plotting modules: a styled figure and optimizer runs on 2-D problems."""

from __future__ import annotations

import functools

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from optimlab import Parameter

STYLE = {"font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8,
         "axes.spines.top": False, "axes.spines.right": False}


def styled(plot):
    """Decorator: draw ``plot`` under the book's rc settings."""
    @functools.wraps(plot)
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context(STYLE):
            return plot(*args, **kwargs)
    return wrapper


def new_figure(ncols=1, nrows=1, width=6.4, height=3.0, **subplot_kw):
    """A ``Figure`` (no pyplot, so no global state) and its 2-D array of axes."""
    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.subplots(nrows, ncols, squeeze=False, **subplot_kw)


def run_optimizer(grad_fn, theta0, make_optimizer, steps: int) -> np.ndarray:
    """Iterates ``θ_0 … θ_steps`` of an optimlab optimizer on ``grad_fn``, shape ``(steps+1, d)``.

    ``make_optimizer(params)`` builds the optimizer, e.g. ``lambda ps: SGD(ps, lr=0.1)``.
    """
    param = Parameter(np.array(theta0, dtype=np.float64))
    optimizer = make_optimizer([param])
    path = [param.data.copy()]
    for _ in range(steps):
        param.grad = grad_fn(param.data)
        optimizer.step()
        path.append(param.data.copy())
    return np.array(path)


def contour(ax, f, xlim, ylim, levels=20, n=201):
    """Filled-line contours of ``f(x, y)`` (vectorised) on a grid over the given limits."""
    x, y = np.meshgrid(np.linspace(*xlim, n), np.linspace(*ylim, n))
    ax.contour(x, y, f(x, y), levels=levels, colors="0.75", linewidths=0.6)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_xlabel(r"$\theta_1$")
    ax.set_ylabel(r"$\theta_2$")
