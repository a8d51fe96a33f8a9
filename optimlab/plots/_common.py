"""Shared pieces of the plotting modules: the book's style, a figure, contour lines of a problem."""

from __future__ import annotations

import functools

import matplotlib
import numpy as np
from matplotlib.figure import Figure

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


def contour(ax, problem, xlim, ylim, levels=20, n=161):
    """Contour lines of a 2-D ``problem.value`` on a grid over the given limits."""
    x, y = np.meshgrid(np.linspace(*xlim, n), np.linspace(*ylim, n))
    values = np.array([problem.value(np.array(p)) for p in zip(x.ravel(), y.ravel())]).reshape(x.shape)
    ax.contour(x, y, values, levels=levels, colors="0.75", linewidths=0.6)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_xlabel(r"$\theta_1$")
    ax.set_ylabel(r"$\theta_2$")
