r"""Figures of chapter 13: Newton's method, L-BFGS and Sophia on curved problems.

Newton's step solves the local quadratic model exactly, :math:`\theta \leftarrow \theta - H^{-1}\nabla f`;
L-BFGS replaces :math:`H^{-1}` by an estimate built from the last few gradient differences; Sophia
keeps only a diagonal estimate :math:`h` and clips each coordinate's Newton-like step
:math:`m/(\rho B h)` to at most 1 (times :math:`\eta`), so that small or negative curvature cannot
produce a huge step.
"""

from __future__ import annotations

import numpy as np

from optimlab import Parameter
from optimlab.optim import LBFGS, SGD
from optimlab.optim.sophia import sophia_init, sophia_update
from optimlab.plots._common import contour, new_figure, styled
from optimlab.problems import Rosenbrock, run_optimizer


def rosenbrock_hessian(problem: Rosenbrock, point) -> np.ndarray:
    """∇²f of f = (a − x)² + b(y − x²)²: [[2 − 4b(y − x²) + 8bx², −4bx], [−4bx, 2b]]."""
    x, y = point
    b = problem.b
    return np.array([[2 - 4 * b * (y - x * x) + 8 * b * x * x, -4 * b * x], [-4 * b * x, 2 * b]])


def newton_path(grad, hessian, start, steps: int) -> np.ndarray:
    """Iterates of the pure Newton method θ ← θ − H(θ)⁻¹∇f(θ) (no line search)."""
    points = [np.array(start, dtype=float)]
    for _ in range(steps):
        theta = points[-1]
        points.append(theta - np.linalg.solve(hessian(theta), grad(theta)))
    return np.array(points)


def lbfgs_path(problem, start, iterations: int, optimizer_cls=LBFGS, **hyper) -> np.ndarray:
    """Iterates of ``LBFGS``, one iteration per ``step`` call (its history persists); ``max_eval`` is
    raised from torch's default ``max_iter · 5/4`` = 1, which would stop every line search at once.
    ``optimizer_cls`` is optimlab's ``LBFGS`` or ``torch.optim.LBFGS`` (on a float64 tensor)."""
    import sys

    torch = sys.modules.get("torch")
    is_torch = torch is not None and issubclass(optimizer_cls, torch.optim.Optimizer)
    if is_torch:
        param = torch.tensor(np.array(start, dtype=float), requires_grad=True)
        data = param.data.numpy()  # a view: the host copy follows the tensor
    else:
        param = Parameter(np.array(start, dtype=float))
        data = param.data
    optimizer = optimizer_cls([param], max_iter=1, max_eval=25, **hyper)

    def closure():
        grad = problem.grad(data)
        param.grad = torch.from_numpy(grad) if is_torch else grad
        return problem.value(data)

    points = [data.copy()]
    for _ in range(iterations):
        optimizer.step(closure)
        points.append(data.copy())
    return np.array(points)


def rosenbrock_paths() -> dict:
    """Gradient descent, L-BFGS (strong Wolfe) and Newton from the classic start (−1.2, 1)."""
    problem = Rosenbrock()
    return {
        "GD (η = 10⁻³)": run_optimizer(problem, SGD, 5000, lr=1e-3).points,
        "L-BFGS": lbfgs_path(problem, problem.start, 40, line_search_fn="strong_wolfe", tolerance_grad=0.0,
                             tolerance_change=0.0),
        "Newton": newton_path(problem.grad, lambda p: rosenbrock_hessian(problem, p), problem.start, 8),
    }


def sophia_step(grad, curvature, *, lr=1.0, rho=1.0, bs=1) -> np.ndarray:
    """One SophiaG step from θ = 0 with m = (1 − β₁)g at β₁ = 0 (so m = g) and Hessian estimate ``curvature``."""
    param = np.zeros_like(np.asarray(curvature, float))
    state = sophia_init(param)
    state["hessian"][...] = curvature
    sophia_update(param, np.broadcast_to(grad, param.shape).copy(), state, lr=lr, beta1=0.0, rho=rho,
                  weight_decay=0.0, bs=bs)
    return param


@styled
def curvature_rosenbrock(paths=None):
    """Paths on the Rosenbrock valley and f(θ_k) − f* against iterations (``paths``: a
    ``rosenbrock_paths()`` result, computed when not given)."""
    problem, paths = Rosenbrock(), paths or rosenbrock_paths()
    fig, axes = new_figure(2, 1, width=8.0, height=3.0)
    contour(axes[0, 0], problem, (-1.6, 1.6), (-0.6, 1.6), levels=np.geomspace(0.05, 500, 14))
    for i, (name, points) in enumerate(paths.items()):
        style = "-" if len(points) > 100 else ".-"  # markers only where the iterations can be told apart
        axes[0, 0].plot(points[:, 0], points[:, 1], style, ms=3, lw=0.8, color=f"C{i}", label=name)
        values = np.array([problem.value(p) for p in points])
        axes[0, 1].semilogy(np.arange(len(values)), np.maximum(values, 1e-30), style, ms=3, lw=0.8, color=f"C{i}",
                            label=name)
    axes[0, 0].plot(*problem.minimizer, "k*", ms=8)
    axes[0, 0].set_title("Rosenbrock, from (−1.2, 1)")
    axes[0, 0].legend(frameon=False, loc="lower right", fontsize=7)
    axes[0, 1].set_xscale("symlog", linthresh=10)
    axes[0, 1].set_xlabel("iteration (symlog scale)")
    axes[0, 1].set_ylabel(r"$f(\theta_k) - f^\star$")
    axes[0, 1].set_ylim(1e-30, 1e2)
    axes[0, 1].legend(frameon=False, loc="lower left")
    return fig


@styled
def sophia_clipping():
    """One coordinate's step against the curvature estimate h: Newton's g/h vs Sophia's clipped step."""
    curvature = np.geomspace(1e-3, 1e2, 200)
    grad, lr, rho = 1.0, 0.1, 1.0
    fig, axes = new_figure(1, 1, width=5.6, height=3.4)
    ax = axes[0, 0]
    ax.loglog(curvature, lr * grad / curvature, "k:", lw=1, label=r"Newton-like $\eta\, g / (\rho B h)$")
    ax.loglog(curvature, np.abs(sophia_step(grad, curvature, lr=lr, rho=rho)), color="C1", label="SophiaG (measured)")
    ax.axhline(lr, color="C0", ls="--", lw=1, label=r"clip: $\eta$ (sign step)")
    ax.set_xlabel(r"Hessian estimate $h$ ($\rho B = 1$)")
    ax.set_ylabel(r"$|\Delta\theta|$ for $g = 1$")
    ax.set_title(rf"one SophiaG step, $\eta = {lr:g}$, $\beta_1 = 0$")
    ax.legend(frameon=False)
    return fig
