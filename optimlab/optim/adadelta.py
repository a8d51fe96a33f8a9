r"""Adadelta: steps whose units match the parameters', from two running averages (torch's ``Adadelta``).

.. math::
    g_t &\leftarrow \pm\nabla f(\theta_{t-1}) + \lambda\theta_{t-1} \\
    v_t &= \rho v_{t-1} + (1-\rho) g_t^2 \\
    \Delta_t &= \frac{\sqrt{u_{t-1} + \epsilon}}{\sqrt{v_t + \epsilon}}\, g_t \\
    u_t &= \rho u_{t-1} + (1-\rho) \Delta_t^2 \\
    \theta_t &= \theta_{t-1} - \eta\, \Delta_t

with decay :math:`\rho`, learning rate :math:`\eta` and weight decay :math:`\lambda` (an L2 term added
to the gradient); :math:`v` is torch's ``square_avg`` and :math:`u` its ``acc_delta``. The ratio of
the two root-mean-squares gives :math:`\Delta_t` the units of :math:`\theta`. Conventions as torch: ε
inside both square roots. Zeiler's paper has no learning rate; torch's ``lr`` scales
:math:`\Delta_t` (default 1, the paper's method). Reference: Zeiler (2012), "ADADELTA: an adaptive
learning rate method", Algorithm 1.
"""

from __future__ import annotations

from optimlab.backend import get_array_module
from optimlab.kernels import GRAD_PROLOGUE, ElementwiseKernel, use_fused
from optimlab.optim.base import Optimizer
from optimlab.optim.hyperparams import boolean, learning_rate, nonnegative, unit_closed


def adadelta_init(param) -> dict:
    """``step`` 0 and zero running averages ``square_avg`` and ``acc_delta`` (torch's keys)."""
    xp = get_array_module(param)
    return {"step": 0, "square_avg": xp.zeros_like(param), "acc_delta": xp.zeros_like(param)}


def adadelta_update(param, grad, state, *, lr, rho=0.9, eps=1e-6, weight_decay=0.0, maximize=False) -> None:
    """The NumPy/CuPy reference: one Adadelta step on ``param`` and ``state`` in place."""
    xp = get_array_module(param)
    state["step"] += 1
    g = -grad if maximize else grad
    if weight_decay != 0:
        g = g + weight_decay * param  # g ← g + λθ
    square_avg, acc_delta = state["square_avg"], state["acc_delta"]
    square_avg *= rho  # v = ρv + (1 − ρ)g²
    square_avg += (1 - rho) * g * g
    std = xp.sqrt(square_avg + eps)  # √(v + ε)
    delta = xp.sqrt(acc_delta + eps) / std * g  # Δ = √(u + ε)/√(v + ε) · g
    acc_delta *= rho  # u = ρu + (1 − ρ)Δ²
    acc_delta += (1 - rho) * delta * delta
    param -= lr * delta  # θ ← θ − ηΔ


ADADELTA_KERNEL = ElementwiseKernel(
    name="adadelta",
    inputs=("g",),
    outputs=("p", "square_avg", "acc_delta"),
    scalars=("lr", "rho", "eps", "weight_decay"),
    flags=("MAXIMIZE",),
    body=GRAD_PROLOGUE + """\
C v = (C)rho * (C)square_avg + (C)(1 - rho) * grad * grad;
square_avg = (T)v;
C std = sqrt(v + (C)eps);
C delta = sqrt((C)acc_delta + (C)eps) / std * grad;
acc_delta = (T)((C)rho * (C)acc_delta + (C)(1 - rho) * delta * delta);
p = (T)((C)p - (C)lr * delta);
""",
)


def adadelta_fused(param, grad, state, *, lr, rho=0.9, eps=1e-6, weight_decay=0.0, maximize=False) -> None:
    """The same step through the fused kernel."""
    state["step"] += 1
    ADADELTA_KERNEL(
        flags=dict(MAXIMIZE=maximize), g=grad, p=param, square_avg=state["square_avg"],
        acc_delta=state["acc_delta"], lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
    )


def adadelta(param, grad, state, **hyper) -> None:
    """One Adadelta step: the fused kernel for GPU arrays (see ``kernels.use_fused``), else the reference."""
    (adadelta_fused if use_fused(param) else adadelta_update)(param, grad, state, **hyper)


class Adadelta(Optimizer):
    """``torch.optim.Adadelta`` with the same arguments, defaults and update (see the module docstring)."""

    hyperparameters = {
        "lr": learning_rate,
        "rho": unit_closed,
        "eps": nonnegative,
        "weight_decay": nonnegative,
        "maximize": boolean,
    }
    elementwise = True

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, *, maximize=False):
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize))

    def _init_state(self, param, group):
        return adadelta_init(param.data)

    def _update(self, param, grad, state, group):
        adadelta(param.data, grad, state, lr=group["lr"], rho=group["rho"], eps=group["eps"],
                 weight_decay=group["weight_decay"], maximize=group["maximize"])
