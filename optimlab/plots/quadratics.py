r"""Figures of chapter 1: gradient descent on quadratics :math:`f(\theta) = \tfrac12 \theta^\top A \theta`.

With :math:`A = \mathrm{diag}(\mu, L)` gradient descent multiplies the error along each eigenvector
by :math:`1 - \eta\lambda_i` per step: it converges iff :math:`0 < \eta < 2/L`, with the best rate
:math:`(\kappa - 1)/(\kappa + 1)` at :math:`\eta = 2/(\mu + L)`.
"""

from __future__ import annotations

import numpy as np

from optimlab.optim import SGD
from optimlab.plots._common import contour, new_figure, styled
from optimlab.problems import Quadratic, Saddle, run_optimizer

MU, L = 1.0, 10.0
A = np.diag([MU, L])
THETA0 = (-9.0, 2.0)


def diagonal_quadratic(*eigenvalues):
    """:math:`\\tfrac12\\theta^\\top \\mathrm{diag}(\\lambda)\\,\\theta`, minimum at the origin."""
    return Quadratic(np.diag(eigenvalues), np.zeros(len(eigenvalues)))


def gd_path(lr, steps, matrix=A, theta0=THETA0):
    """Iterates of optimlab's SGD (no momentum) on :math:`\\tfrac12\\theta^\\top A\\theta`."""
    problem = Quadratic(matrix, np.zeros(len(matrix)))
    return run_optimizer(problem, SGD, steps, start=theta0, lr=lr).points


def steps_to_tolerance(errors, tol):
    """The first step at which ``errors[t] <= tol * errors[0]`` (``None`` if never)."""
    hits = np.flatnonzero(np.asarray(errors) <= tol * errors[0])
    return int(hits[0]) if hits.size else None


@styled
def gd_trajectories():
    """Four step sizes on a κ = 10 quadratic: slow, 1/L, zig-zag near 2/L, divergence past it."""
    fig, axes = new_figure(4, 1, width=8.0, height=2.4, sharey=True)
    cases = [(0.5 / L, r"$\eta = 0.5/L$"), (1.0 / L, r"$\eta = 1/L$"),
             (1.9 / L, r"$\eta = 1.9/L$"), (2.05 / L, r"$\eta = 2.05/L$ (diverges)")]
    for ax, (lr, title) in zip(axes.flat, cases):
        contour(ax, diagonal_quadratic(MU, L), (-10, 10), (-4, 4), levels=np.geomspace(0.05, 150, 14))
        path = gd_path(lr, 30)
        ax.plot(path[:, 0], path[:, 1], "o-", ms=2.5, lw=1, color="C0")
        ax.plot(0, 0, "k*", ms=7)
        ax.set_title(title)
    for ax in axes.flat[1:]:
        ax.set_ylabel("")
    return fig


@styled
def gd_error_curves():
    """Distance to the minimum per step against the predicted rate max_i |1 − ηλ_i|^t."""
    fig, axes = new_figure(1, 1, width=5.5, height=3.2)
    ax = axes[0, 0]
    steps = 60
    t = np.arange(steps + 1)
    for i, (lr, label) in enumerate([(0.5 / L, "0.5/L"), (1 / L, "1/L"), (2 / (MU + L), "2/(μ+L)"),
                                     (1.9 / L, "1.9/L"), (2.02 / L, "2.02/L")]):
        errors = np.linalg.norm(gd_path(lr, steps), axis=1)
        rate = np.max(np.abs(1 - lr * np.array([MU, L])))
        ax.semilogy(t, errors, color=f"C{i}", label=rf"$\eta = {label}$, rate {rate:.3f}")
        ax.semilogy(t, errors[0] * rate**t, color=f"C{i}", ls=":", lw=1)
    ax.set_xlabel("step $t$")
    ax.set_ylabel(r"$\|\theta_t - \theta^\star\|$")
    ax.set_title(r"GD on $\kappa = 10$: measured (solid), $\max_i|1-\eta\lambda_i|^t$ (dotted)")
    ax.legend(frameon=False)
    return fig


@styled
def gd_condition_number():
    """Steps to shrink the error 10⁶-fold grow linearly with κ (η = 1/L and η = 2/(μ+L))."""
    fig, axes = new_figure(1, 1, width=5.0, height=3.2)
    ax = axes[0, 0]
    kappas = np.array([2, 5, 10, 20, 50, 100, 200, 500, 1000])
    tol = 1e-6
    for i, (name, lr_of) in enumerate([("1/L", lambda k: 1.0 / k), ("2/(μ+L)", lambda k: 2.0 / (1 + k))]):
        measured = []
        for k in kappas:
            matrix = np.diag([1.0, float(k)])
            errors = np.linalg.norm(gd_path(lr_of(k), 20 * int(k) + 50, matrix, (1.0, 1.0)), axis=1)
            measured.append(steps_to_tolerance(errors, tol))
        rate = np.array([max(abs(1 - lr_of(k)), abs(1 - lr_of(k) * k)) for k in kappas])
        ax.loglog(kappas, measured, "o", color=f"C{i}", label=rf"measured, $\eta = {name}$")
        ax.loglog(kappas, np.log(tol) / np.log(rate), "-", color=f"C{i}", lw=1,
                  label=r"$\ln 10^{-6} / \ln\,\mathrm{rate}$")
    ax.set_xlabel(r"condition number $\kappa = L/\mu$")
    ax.set_ylabel(r"steps to $10^{-6}\,\|\theta_0 - \theta^\star\|$")
    ax.legend(frameon=False)
    return fig


def saddle_path(y0, lr=0.1, steps=200, x0=1.5):
    """GD iterates on ``problems.Saddle`` (½x² − ½y² + ¼y⁴) from ``(x0, y0)``."""
    return run_optimizer(Saddle(), SGD, steps, start=(x0, y0), lr=lr).points


@styled
def gd_saddle():
    """GD near a saddle: exactly on the stable manifold it stops there; a tiny offset escapes."""
    fig, axes = new_figure(2, 1, width=7.0, height=2.8)
    ax = axes[0, 0]
    contour(ax, Saddle(), (-1.7, 1.7), (-1.5, 1.5), levels=np.linspace(-0.25, 1.5, 15))
    steps = 200
    starts = [(0.0, "C3", r"$y_0 = 0$"), (1e-6, "C0", r"$y_0 = 10^{-6}$"), (-1e-3, "C2", r"$y_0 = -10^{-3}$")]
    for y0, color, label in starts:
        path = saddle_path(y0, steps=steps)
        ax.plot(path[:, 0], path[:, 1], "o-", ms=1.5, lw=0.8, color=color, label=label)
        values = [Saddle().value(point) for point in path]
        axes[0, 1].plot(np.arange(steps + 1), values, color=color, label=label)
    ax.plot([0, 0, 0], [0, 1, -1], "k*", ms=6)
    ax.set_title(r"$f = \frac{1}{2}x^2 - \frac{1}{2}y^2 + \frac{1}{4}y^4$, $\eta = 0.1$")
    ax.legend(frameon=False, loc="upper left")
    axes[0, 1].set_xlabel("step $t$")
    axes[0, 1].set_ylabel(r"$f(\theta_t)$")
    axes[0, 1].set_title("a plateau, then escape")
    return fig
