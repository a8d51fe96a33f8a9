r"""Figures of chapter 3: heavy-ball and Nesterov momentum on quadratics.

Along an eigenvector of :math:`A` with eigenvalue :math:`\lambda`, write :math:`h = \eta\lambda`. The
error of heavy ball (torch's ``SGD(momentum=β)``) obeys
:math:`e_t = (1 + \beta - h)\,e_{t-1} - \beta\,e_{t-2}` and Nesterov's (``nesterov=True``)
:math:`e_t = (1 + \beta)(1 - h)\,e_{t-1} - \beta(1 - h)\,e_{t-2}`: each is a 2×2 linear map whose
spectral radius is the convergence rate. Heavy ball is stable iff :math:`0 < h < 2(1+\beta)`,
Nesterov iff :math:`0 < h < 2(1+\beta)/(1+2\beta)`.
"""

from __future__ import annotations

import numpy as np

from optimlab.optim import SGD
from optimlab.plots._common import contour, new_figure, styled
from optimlab.plots.quadratics import diagonal_quadratic, steps_to_tolerance
from optimlab.problems import Quadratic, run_optimizer


def iteration_matrix(h, beta, nesterov=False):
    """The map ``(e_{t-1}, e_{t-2}) -> (e_t, e_{t-1})``, broadcast over arrays ``h`` and ``beta``."""
    h, beta = np.broadcast_arrays(np.asarray(h, float), np.asarray(beta, float))
    if nesterov:
        first, second = (1 + beta) * (1 - h), -beta * (1 - h)
    else:
        first, second = 1 + beta - h, -beta
    matrix = np.zeros(h.shape + (2, 2))
    matrix[..., 0, 0], matrix[..., 0, 1], matrix[..., 1, 0] = first, second, 1.0
    return matrix


def spectral_radius(h, beta, nesterov=False):
    """The largest eigenvalue modulus of ``iteration_matrix``: the asymptotic rate per step."""
    return np.abs(np.linalg.eigvals(iteration_matrix(h, beta, nesterov))).max(axis=-1)


def stability_bound(beta, nesterov=False):
    """The largest stable ``h = ηλ``: 2(1+β) for heavy ball, 2(1+β)/(1+2β) for Nesterov."""
    beta = np.asarray(beta, float)
    return 2 * (1 + beta) / (1 + 2 * beta) if nesterov else 2 * (1 + beta)


def tuned(kappa, L=1.0):
    """Textbook settings for condition number κ: {method: (lr, momentum, nesterov)}.

    Gradient descent: η = 2/(μ+L). Heavy ball (Polyak): η = 4/(√L+√μ)², β = ((√κ−1)/(√κ+1))².
    Nesterov: η = 1/L, β = (√κ−1)/(√κ+1).
    """
    mu, root = L / kappa, np.sqrt(kappa)
    return {
        "GD": (2 / (mu + L), 0.0, False),
        "heavy ball": (4 / (np.sqrt(L) + np.sqrt(mu)) ** 2, ((root - 1) / (root + 1)) ** 2, False),
        "Nesterov": (1 / L, (root - 1) / (root + 1), True),
    }


def sgd_path(matrix, theta0, lr, momentum, nesterov, steps):
    """Iterates of optimlab's SGD on :math:`\\tfrac12\\theta^\\top A\\theta`."""
    problem = Quadratic(matrix, np.zeros(len(matrix)))
    return run_optimizer(problem, SGD, steps, start=theta0, lr=lr, momentum=momentum, nesterov=nesterov).points


@styled
def momentum_trajectories():
    """GD, heavy ball and Nesterov (each tuned) on a κ = 25 quadratic: paths and errors."""
    kappa, steps, theta0 = 25.0, 60, (-9.0, 1.5)
    matrix = np.diag([1.0, kappa])
    fig, axes = new_figure(2, 1, width=8.0, height=3.0)
    contour(axes[0, 0], diagonal_quadratic(1.0, kappa), (-10, 10), (-2.5, 2.5),
            levels=np.geomspace(0.05, 150, 14))
    for i, (name, (lr, beta, nesterov)) in enumerate(tuned(kappa, L=kappa).items()):
        path = sgd_path(matrix, theta0, lr, beta, nesterov, steps)
        label = rf"{name}: $\eta={lr:.3f}$, $\beta={beta:.3f}$"
        axes[0, 0].plot(path[:15, 0], path[:15, 1], "o-", ms=2.5, lw=1, color=f"C{i}", label=label)
        axes[0, 1].semilogy(np.linalg.norm(path, axis=1), color=f"C{i}", label=name)
    axes[0, 0].set_title(r"first 15 steps, $\kappa = 25$")
    axes[0, 0].legend(frameon=False, loc="lower right", fontsize=7)
    axes[0, 1].set_xlabel("step $t$")
    axes[0, 1].set_ylabel(r"$\|\theta_t - \theta^\star\|$")
    axes[0, 1].legend(frameon=False)
    return fig


@styled
def momentum_stability():
    """Spectral radius over (h = ηλ, β) for heavy ball and Nesterov, with the stability boundaries."""
    h, beta = np.meshgrid(np.linspace(0, 4.2, 421), np.linspace(0, 0.99, 100))
    fig, axes = new_figure(2, 1, width=8.0, height=3.0, sharey=True)
    for ax, nesterov, name in [(axes[0, 0], False, "heavy ball"), (axes[0, 1], True, "Nesterov")]:
        rho = spectral_radius(h, beta, nesterov)
        image = ax.pcolormesh(h, beta, np.minimum(rho, 1.2), cmap="viridis", vmin=0, vmax=1.2,
                              shading="auto", rasterized=True)
        ax.contour(h, beta, rho, levels=[1.0], colors="w", linewidths=1.2)
        bound = r"$2(1+\beta)/(1+2\beta)$" if nesterov else r"$2(1+\beta)$"
        ax.plot(stability_bound(beta[:, 0], nesterov), beta[:, 0], "r--", lw=1, label=f"h = {bound}")
        ax.set_title(f"{name}: spectral radius")
        ax.set_xlabel(r"$h = \eta\lambda$")
        ax.legend(frameon=False, loc="lower right", labelcolor="w")
    axes[0, 0].set_ylabel(r"momentum $\beta$")
    fig.colorbar(image, ax=axes[0, 1], label=r"$\rho$ (clipped at 1.2)")
    return fig


@styled
def momentum_rates():
    """Steps to shrink the error 10⁶-fold vs κ: ~κ for GD, ~√κ with momentum."""
    kappas = np.array([4, 10, 30, 100, 300, 1000])
    fig, axes = new_figure(1, 1, width=5.0, height=3.2)
    ax = axes[0, 0]
    results = {name: [] for name in tuned(2.0)}
    for kappa in kappas:
        matrix = np.diag([1.0 / kappa, 1.0])
        for name, (lr, beta, nesterov) in tuned(kappa).items():
            path = sgd_path(matrix, (1.0, 1.0), lr, beta, nesterov, 10 * int(kappa) + 100)
            results[name].append(steps_to_tolerance(np.linalg.norm(path, axis=1), 1e-6))
    for i, (name, steps) in enumerate(results.items()):
        ax.loglog(kappas, steps, "o-", color=f"C{i}", label=name)
    ax.loglog(kappas, 7 * kappas, "k:", lw=1, label=r"$\propto \kappa$")
    ax.loglog(kappas, 7 * np.sqrt(kappas), "k--", lw=1, label=r"$\propto \sqrt{\kappa}$")
    ax.set_xlabel(r"condition number $\kappa$")
    ax.set_ylabel(r"steps to $10^{-6}\,\|\theta_0 - \theta^\star\|$")
    ax.legend(frameon=False)
    return fig
