r"""Figures of chapter 5: Adam's bias correction and the Reddi et al. counterexample.

Bias correction divides the zero-started averages by :math:`1-\beta^t`. Without it the step is
:math:`\eta\,m_t/\sqrt{v_t} = \eta\,\hat m_t/\sqrt{\hat v_t}\cdot(1-\beta_1^t)/\sqrt{1-\beta_2^t}`: with
the default betas, *larger* than the corrected step for the first thousands of steps.

Reddi, Kale & Kumar (2018), Theorem 1: on :math:`[-1, 1]` the online losses
:math:`f_t(x) = Cx` for :math:`t \bmod 3 = 1` and :math:`-x` otherwise (:math:`C > 2`) have their
best fixed point at :math:`x = -1`, yet Adam with :math:`\beta_1 = 0`, :math:`\beta_2 = 1/(1+C^2)` and
:math:`\eta_t = \alpha/\sqrt t` drifts to :math:`x = +1`: the rare large gradient is forgotten by
:math:`v` before it can keep the step small. AMSGrad's running maximum of :math:`v` remembers it.
"""

from __future__ import annotations

import numpy as np

from optimlab import Parameter
from optimlab.optim import Adam
from optimlab.plots._common import new_figure, styled

BETAS = (0.9, 0.999)
REDDI = {"C": 3.0, "alpha": 0.5, "steps": 3000}


def step_sizes(grads, *, correct_first=True, correct_second=True, beta1=BETAS[0], beta2=BETAS[1]) -> np.ndarray:
    """|θ_t − θ_{t−1}|/η for a gradient sequence ``grads`` (steps × coordinates), ε = 0, with either
    bias correction switched off (teaching variants; both on is Adam)."""
    m = v = np.zeros(grads.shape[1:])
    sizes = []
    for t, g in enumerate(grads, start=1):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_used = m / (1 - beta1**t) if correct_first else m
        v_used = v / (1 - beta2**t) if correct_second else v
        sizes.append(np.abs(m_used) / np.sqrt(v_used))
    return np.array(sizes)


def reddi_gradient(step: int, C: float = REDDI["C"]) -> float:
    """∇f_t on Reddi et al.'s sequence: C when t mod 3 = 1, else −1."""
    return C if step % 3 == 1 else -1.0


def reddi_run(amsgrad: bool, optimizer_cls=Adam, steps: int = REDDI["steps"], C: float = REDDI["C"],
              alpha: float = REDDI["alpha"]):
    """Iterates x_0 … x_T of (AMS)Adam with β₁ = 0, β₂ = 1/(1 + C²), η_t = α/√t, projected on [−1, 1].

    ``optimizer_cls`` is ``optimlab.optim.Adam`` or ``torch.optim.Adam`` (run in float64)."""
    import sys

    torch = sys.modules.get("torch")
    is_torch = torch is not None and issubclass(optimizer_cls, torch.optim.Optimizer)
    param = torch.zeros(1, dtype=torch.float64) if is_torch else Parameter(np.zeros(1))
    data = param.data
    optimizer = optimizer_cls([param], lr=alpha, betas=(0.0, 1 / (1 + C**2)), amsgrad=amsgrad)
    points = [0.0]
    for t in range(1, steps + 1):
        optimizer.param_groups[0]["lr"] = alpha / np.sqrt(t)
        grad = np.array([reddi_gradient(t, C)])
        param.grad = torch.from_numpy(grad) if is_torch else grad
        optimizer.step()
        if is_torch:  # projection on [−1, 1]
            data.clamp_(-1, 1)
        else:
            np.clip(data, -1, 1, out=data)
        points.append(float(data[0]))
    return np.array(points)


def average_regret(points, C: float = REDDI["C"]) -> np.ndarray:
    """R_t/t = (1/t) Σ_{s≤t} f_s(x_{s−1}) − f_s(−1), with f_s(x) = ∇f_s · x (linear losses)."""
    t = np.arange(1, len(points))
    grads = np.array([reddi_gradient(s, C) for s in t])
    return np.cumsum(grads * (points[:-1] + 1)) / t


@styled
def adam_bias_correction():
    """|step|/η over the first steps with and without bias correction, constant and noisy gradients."""
    steps = 300
    rng = np.random.default_rng(0)
    noisy = 0.3 + rng.standard_normal((steps, 2000))  # mean 0.3, standard deviation 1
    fig, axes = new_figure(2, 1, width=8.0, height=3.0, sharey=True)
    variants = [("Adam (both corrected)", True, True), ("no correction", False, False),
                ("only $m$ corrected", True, False), ("only $v$ corrected", False, True)]
    for ax, grads, title in [(axes[0, 0], np.ones((steps, 1)), "constant gradient $g = 1$"),
                             (axes[0, 1], noisy, r"noisy gradient, mean 0.3, std 1 (median)")]:
        for i, (label, first, second) in enumerate(variants):
            sizes = np.median(step_sizes(grads, correct_first=first, correct_second=second), axis=1)
            ax.loglog(np.arange(1, steps + 1), sizes, color=f"C{i}", label=label)
        ax.set_title(title)
        ax.set_xlabel("step $t$")
    axes[0, 0].set_ylabel(r"$|\theta_t - \theta_{t-1}| / \eta$")
    axes[0, 0].legend(frameon=False, fontsize=7)
    return fig


@styled
def adam_amsgrad_counterexample():
    """Reddi et al.'s online problem: Adam drifts to the worst point, AMSGrad to the best."""
    fig, axes = new_figure(2, 1, width=8.0, height=3.0)
    for i, (name, amsgrad) in enumerate([("Adam", False), ("AMSGrad", True)]):
        points = reddi_run(amsgrad)
        axes[0, 0].plot(points, color=f"C{i}", lw=0.8, label=name)
        axes[0, 1].semilogx(np.arange(1, len(points)), average_regret(points), color=f"C{i}", label=name)
    axes[0, 0].axhline(-1, color="k", ls=":", lw=1, label="optimum $x = -1$")
    axes[0, 0].set_xlabel("step $t$")
    axes[0, 0].set_ylabel("$x_t$")
    axes[0, 0].set_title(rf"$C = {REDDI['C']:g}$, $\beta_1 = 0$, $\beta_2 = 1/(1+C^2)$, $\eta_t = {REDDI['alpha']:g}/\sqrt{{t}}$")
    axes[0, 0].legend(frameon=False, loc="center right")
    axes[0, 1].axhline(0, color="k", ls=":", lw=1)
    axes[0, 1].set_xlabel("step $t$")
    axes[0, 1].set_ylabel("average regret $R_t / t$")
    axes[0, 1].legend(frameon=False)
    return fig
