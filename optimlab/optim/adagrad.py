r"""Adagrad: per-coordinate step sizes from the running sum of squared gradients (torch's ``Adagrad``).

.. math::
    g_t &\leftarrow \pm\nabla f(\theta_{t-1}) + \lambda\theta_{t-1} \\
    \tilde\eta_t &= \frac{\eta}{1 + (t-1)\,\gamma} \\
    s_t &= s_{t-1} + g_t^2, \qquad s_0 = s_\text{init} \\
    \theta_t &= \theta_{t-1} - \tilde\eta_t\, \frac{g_t}{\sqrt{s_t} + \epsilon}

with learning rate :math:`\eta`, learning-rate decay :math:`\gamma` (``lr_decay``), weight decay
:math:`\lambda` (an L2 term added to the gradient) and initial accumulator :math:`s_\text{init}`
(``initial_accumulator_value``). Since :math:`s_t` only grows and :math:`\tilde\eta_t` only
shrinks, each coordinate's step size :math:`\tilde\eta_t/(\sqrt{s_t}+\epsilon)` never increases.
Conventions as torch: ε is added after the square root. Differences from torch: the state is created
on the first step (torch fills it in the constructor), from the group's own
``initial_accumulator_value`` (torch uses the constructor's value for every group). Reference: Duchi,
Hazan & Singer (2011), "Adaptive subgradient methods for online learning and stochastic optimization".
"""

from __future__ import annotations

from optimlab.backend import get_array_module
from optimlab.kernels import GRAD_PROLOGUE, ElementwiseKernel, use_fused
from optimlab.optim.base import Optimizer
from optimlab.optim.hyperparams import boolean, learning_rate, nonnegative


def adagrad_init(param, *, initial_accumulator_value=0.0) -> dict:
    """``step`` 0 and the sum of squares filled with ``initial_accumulator_value`` (torch's keys)."""
    return {"step": 0, "sum": get_array_module(param).full_like(param, initial_accumulator_value)}


def adagrad_update(param, grad, state, *, lr, lr_decay=0.0, weight_decay=0.0, eps=1e-10, maximize=False) -> None:
    """The NumPy/CuPy reference: one Adagrad step on ``param`` and ``state`` in place."""
    xp = get_array_module(param)
    state["step"] += 1
    t = state["step"]
    g = -grad if maximize else grad
    if weight_decay != 0:
        g = g + weight_decay * param  # g ← g + λθ
    clr = lr / (1 + (t - 1) * lr_decay)  # η̃ = η / (1 + (t − 1)γ)
    state["sum"] += g * g  # s ← s + g²
    std = xp.sqrt(state["sum"]) + eps  # √s + ε
    param -= clr * (g / std)  # θ ← θ − η̃ g/(√s + ε)


ADAGRAD_KERNEL = ElementwiseKernel(
    name="adagrad",
    inputs=("g",),
    outputs=("p", "sum"),
    scalars=("clr", "eps", "weight_decay"),
    flags=("MAXIMIZE",),
    body=GRAD_PROLOGUE + """\
C s = (C)sum + grad * grad;
sum = (T)s;
C std = sqrt(s) + (C)eps;
p = (T)((C)p - (C)clr * (grad / std));
""",
)


def adagrad_fused(param, grad, state, *, lr, lr_decay=0.0, weight_decay=0.0, eps=1e-10, maximize=False) -> None:
    """The same step through the fused kernel; the decayed learning rate is folded on the host."""
    state["step"] += 1
    ADAGRAD_KERNEL(
        flags=dict(MAXIMIZE=maximize), g=grad, p=param, sum=state["sum"],
        clr=lr / (1 + (state["step"] - 1) * lr_decay), eps=eps, weight_decay=weight_decay,
    )


def adagrad(param, grad, state, **hyper) -> None:
    """One Adagrad step: the fused kernel for GPU arrays (see ``kernels.use_fused``), else the reference."""
    (adagrad_fused if use_fused(param) else adagrad_update)(param, grad, state, **hyper)


class Adagrad(Optimizer):
    """``torch.optim.Adagrad`` with the same arguments, defaults and update (see the module docstring)."""

    hyperparameters = {
        "lr": learning_rate,
        "lr_decay": nonnegative,
        "weight_decay": nonnegative,
        "initial_accumulator_value": nonnegative,
        "eps": nonnegative,
        "maximize": boolean,
    }
    elementwise = True

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10,
                 *, maximize=False):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps,
                                      maximize=maximize))

    def _init_state(self, param, group):
        return adagrad_init(param.data, initial_accumulator_value=group["initial_accumulator_value"])

    def _update(self, param, grad, state, group):
        adagrad(param.data, grad, state, lr=group["lr"], lr_decay=group["lr_decay"],
                weight_decay=group["weight_decay"], eps=group["eps"], maximize=group["maximize"])
