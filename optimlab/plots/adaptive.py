r"""Figures of chapter 4: per-coordinate step sizes of AdaGrad, RMSprop and Adadelta.

Each method divides the gradient by a root mean square of past gradients, so coordinate :math:`i`
moves by :math:`\eta_{t,i}\,g_{t,i}` with its own effective step size :math:`\eta_{t,i}`:
:math:`\eta/(\sqrt{s_t}+\epsilon)` for AdaGrad (:math:`s_t` the sum of squares, so it only shrinks),
:math:`\eta/(\sqrt{v_t}+\epsilon)` for RMSprop (:math:`v_t` an exponential average, so it settles) and
:math:`\eta\sqrt{u_{t-1}+\epsilon}/\sqrt{v_t+\epsilon}` for Adadelta (which starts at about
:math:`\sqrt\epsilon` and grows).
"""

from __future__ import annotations

import numpy as np

from optimlab import Parameter
from optimlab.optim import SGD, Adadelta, Adagrad, RMSprop
from optimlab.plots._common import contour, new_figure, styled
from optimlab.plots.quadratics import diagonal_quadratic
from optimlab.problems import run_optimizer

# (class, hyperparameters) of the chapter's runs; Adadelta at torch's default lr = 1 (the paper's method).
METHODS = {
    "AdaGrad": (Adagrad, {"lr": 0.5}),
    "RMSprop": (RMSprop, {"lr": 0.05}),
    "Adadelta": (Adadelta, {"lr": 1.0}),
}
CURVATURES = (1.0, 100.0)  # a badly scaled quadratic: f = ½(θ₁² + 100 θ₂²)
START = (-4.0, 0.5)


def effective_step_sizes(optimizer_cls, grads, **hyper) -> np.ndarray:
    """η_{t,i} = |θ_{t−1,i} − θ_{t,i}| / |g_{t,i}| for a gradient sequence (steps × coordinates), each
    step read from θ = 0 so that no cancellation blurs it."""
    param = Parameter(np.zeros(grads.shape[1]))
    optimizer = optimizer_cls([param], **hyper)
    sizes = []
    for g in grads:
        param.data[:] = 0.0
        param.grad = g
        optimizer.step()
        sizes.append(np.abs(param.data) / np.abs(g))
    return np.array(sizes)


def paths(steps: int = 100) -> dict:
    """Iterates of gradient descent (η = 1.9/L) and the three adaptive methods on the scaled quadratic."""
    problem = diagonal_quadratic(*CURVATURES)
    runs = {"GD": (SGD, {"lr": 1.9 / max(CURVATURES)}), **METHODS}
    return {name: run_optimizer(problem, cls, steps, start=START, **hyper) for name, (cls, hyper) in runs.items()}


@styled
def adaptive_step_sizes():
    """Median effective step size against t under stationary N(0, 1) gradients."""
    steps = 2000
    grads = np.random.default_rng(0).standard_normal((steps, 500))
    fig, axes = new_figure(1, 1, width=5.6, height=3.4)
    ax = axes[0, 0]
    t = np.arange(1, steps + 1)
    for i, (name, (cls, hyper)) in enumerate(METHODS.items()):
        sizes = np.median(effective_step_sizes(cls, grads, **hyper), axis=1)
        ax.loglog(t, sizes / hyper["lr"], color=f"C{i + 1}", label=f"{name} (η = {hyper['lr']:g})")
    ax.loglog(t, 1 / np.sqrt(t), "k:", lw=1, label=r"$1/\sqrt{t}$")
    ax.set_xlabel("step $t$")
    ax.set_ylabel(r"effective step size / $\eta$ (median)")
    ax.set_title(r"gradients $\mathcal{N}(0, 1)$ in every coordinate")
    ax.legend(frameon=False, fontsize=7)
    return fig


@styled
def adaptive_trajectories():
    """Gradient descent and the adaptive methods on f = ½(θ₁² + 100θ₂²): paths and f(θ_t)."""
    runs = paths()
    fig, axes = new_figure(2, 1, width=8.0, height=3.0)
    contour(axes[0, 0], diagonal_quadratic(*CURVATURES), (-4.5, 1.0), (-0.6, 0.6),
            levels=np.geomspace(1e-3, 40, 14))
    for i, (name, trajectory) in enumerate(runs.items()):
        points = trajectory.points
        axes[0, 0].plot(points[:40, 0], points[:40, 1], "o-", ms=2, lw=0.8, color=f"C{i}", label=name)
        axes[0, 1].semilogy(trajectory.values, color=f"C{i}", label=name)
    axes[0, 0].set_title(r"first 40 steps, $f = \frac{1}{2}(\theta_1^2 + 100\,\theta_2^2)$")
    axes[0, 0].legend(frameon=False, loc="lower right", fontsize=7)
    axes[0, 1].set_xlabel("step $t$")
    axes[0, 1].set_ylabel(r"$f(\theta_t)$")
    axes[0, 1].legend(frameon=False)
    return fig
