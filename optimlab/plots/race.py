"""The figure of ``optimlab race``: paths on the contour lines, and the gap to the minimum per step."""

from __future__ import annotations

import numpy as np

from optimlab.plots._common import contour, new_figure, styled
from optimlab.race import FUNCTIONS, STARTS

# (x limits, y limits, contour levels) per function
VIEWS = {
    "rosenbrock": ((-2.0, 2.0), (-1.0, 3.0), np.geomspace(0.05, 2000, 16)),
    "beale": ((-1.0, 4.5), (-1.5, 2.0), np.geomspace(0.05, 500, 16)),
    "saddle": ((-1.2, 1.2), (-1.5, 1.5), np.linspace(-0.25, 1.0, 16)),
    "quadratic": ((-10.0, 10.0), (-4.0, 4.0), np.geomspace(0.05, 150, 14)),
}
FLOOR = 1e-16  # f − f* is shown down to this (exact convergence would be log(0))


@styled
def race_figure(function: str, trajectories: dict):
    """Left: each trajectory on the contour plot of ``function``; right: f(θ_t) − f* (log scale)."""
    problem = FUNCTIONS[function]()
    xlim, ylim, levels = VIEWS[function]
    fig, axes = new_figure(2, 1, width=8.5, height=3.4)
    paths, gaps = axes[0, 0], axes[0, 1]
    contour(paths, problem, xlim, ylim, levels=levels)
    paths.plot(*problem.minimizer, "k*", ms=8)
    for i, (label, trajectory) in enumerate(trajectories.items()):
        points = trajectory.points
        paths.plot(points[:, 0], points[:, 1], "-", lw=1, color=f"C{i}", label=label)
        paths.plot(*points[0], "ko", ms=3)
        gap = np.maximum(trajectory.values - problem.min_value, FLOOR)
        gaps.semilogy(np.where(np.isfinite(gap), gap, np.nan), color=f"C{i}", lw=1.2, label=label)
    start = problem.start if function not in STARTS else STARTS[function]
    paths.set_title(f"{function}: paths from ({start[0]:g}, {start[1]:g})")
    paths.legend(frameon=False, fontsize=7, loc="best")
    gaps.set_xlabel("step $t$")
    gaps.set_ylabel(r"$f(\theta_t) - f^\star$")
    gaps.set_title("gap to the minimum")
    return fig

