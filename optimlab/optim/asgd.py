r"""Averaged stochastic gradient descent (torch's ``ASGD``).

.. math::
    g_t &\leftarrow \pm\nabla f(\theta_{t-1}) + \omega\,\theta_{t-1} \\
    \theta_t &= (1 - \lambda\eta_t)\,\theta_{t-1} - \eta_t\, g_t \\
    \bar\theta_t &= \bar\theta_{t-1} + \mu_t(\theta_t - \bar\theta_{t-1}) \\
    \eta_{t+1} &= \frac{\eta_0}{(1 + \lambda\eta_0 t)^{\alpha}}, \qquad
    \mu_{t+1} = \frac{1}{\max(1,\ t - t_0)}

with learning rate :math:`\eta_0`, decay term :math:`\lambda` (``lambd``), power :math:`\alpha`,
averaging start :math:`t_0`, weight decay :math:`\omega` (an L2 term added to the gradient), and
:math:`\eta_1 = \eta_0`, :math:`\mu_1 = 1`. While :math:`\mu_t = 1` the average is a copy of
:math:`\theta_t`; from step :math:`t_0 + 1` on it is the running mean of the iterates since then.
The average :math:`\bar\theta` (state ``ax``) is what Polyak–Juditsky averaging returns; as in torch it
is only recorded, never written into the parameters. Conventions as torch: the step size follows
Bottou's :math:`\eta_0/(1+\lambda\eta_0 t)^\alpha` schedule, ``eta`` and ``mu`` are per-parameter
state scalars (Python floats here, 0-d tensors in torch), and the schedule uses the group's ``lr`` at
the time of each step. References: Polyak & Juditsky (1992), "Acceleration of stochastic approximation
by averaging"; Bottou (2012), "Stochastic gradient descent tricks".
"""

from __future__ import annotations

from optimlab.backend import get_array_module
from optimlab.kernels import GRAD_PROLOGUE, ElementwiseKernel, use_fused
from optimlab.optim.base import Optimizer
from optimlab.optim.hyperparams import boolean, learning_rate, nonnegative


def asgd_init(param, *, lr) -> dict:
    """``step`` 0, ``eta`` = lr, ``mu`` = 1 and a zero average ``ax`` (torch's keys)."""
    return {"step": 0, "eta": lr, "mu": 1.0, "ax": get_array_module(param).zeros_like(param)}


def _next_eta_mu(state, *, lr, lambd, alpha, t0) -> None:
    """The step size and averaging weight of the next step (host scalars)."""
    t = state["step"]
    state["eta"] = lr / (1 + lambd * lr * t) ** alpha  # η_{t+1} = η₀/(1 + λη₀t)^α
    state["mu"] = 1 / max(1, t - t0)  # μ_{t+1} = 1/max(1, t − t₀)


def asgd_update(param, grad, state, *, lr, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0.0,
                maximize=False) -> None:
    """The NumPy/CuPy reference: one ASGD step on ``param`` and ``state`` in place."""
    state["step"] += 1
    eta, mu = state["eta"], state["mu"]
    g = -grad if maximize else grad
    if weight_decay != 0:
        g = g + weight_decay * param  # g ← g + ωθ
    param *= 1 - lambd * eta  # θ ← (1 − λη)θ
    param -= eta * g  # θ ← θ − ηg
    ax = state["ax"]
    if mu != 1:
        ax += (param - ax) * mu  # θ̄ ← θ̄ + μ(θ − θ̄)
    else:
        ax[...] = param  # θ̄ ← θ
    _next_eta_mu(state, lr=lr, lambd=lambd, alpha=alpha, t0=t0)


ASGD_KERNEL = ElementwiseKernel(
    name="asgd",
    inputs=("g",),
    outputs=("p", "ax"),
    scalars=("eta", "mu", "lambd", "weight_decay"),
    flags=("MAXIMIZE", "AVERAGING"),
    body=GRAD_PROLOGUE + """\
C param = (C)p * (C)(1 - lambd * eta) - (C)eta * grad;
p = (T)param;
#if AVERAGING
ax = (T)((C)ax + (param - (C)ax) * (C)mu);
#else
ax = (T)param;
#endif
""",
)


def asgd_fused(param, grad, state, *, lr, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0.0,
               maximize=False) -> None:
    """The same step through the fused kernel; ``eta`` and ``mu`` stay host scalars."""
    state["step"] += 1
    ASGD_KERNEL(
        flags=dict(MAXIMIZE=maximize, AVERAGING=state["mu"] != 1),
        g=grad, p=param, ax=state["ax"],
        eta=state["eta"], mu=state["mu"], lambd=lambd, weight_decay=weight_decay,
    )
    _next_eta_mu(state, lr=lr, lambd=lambd, alpha=alpha, t0=t0)


def asgd(param, grad, state, **hyper) -> None:
    """One ASGD step: the fused kernel for GPU arrays (see ``kernels.use_fused``), else the reference."""
    (asgd_fused if use_fused(param) else asgd_update)(param, grad, state, **hyper)


class ASGD(Optimizer):
    """``torch.optim.ASGD`` with the same arguments, defaults and update (see the module docstring)."""

    hyperparameters = {
        "lr": learning_rate,
        "lambd": nonnegative,
        "alpha": nonnegative,
        "t0": nonnegative,
        "weight_decay": nonnegative,
        "maximize": boolean,
    }
    elementwise = True

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0.0, *, maximize=False):
        super().__init__(params, dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                                      maximize=maximize))

    def _init_state(self, param, group):
        return asgd_init(param.data, lr=group["lr"])

    def _update(self, param, grad, state, group):
        asgd(param.data, grad, state, lr=group["lr"], lambd=group["lambd"], alpha=group["alpha"], t0=group["t0"],
             weight_decay=group["weight_decay"], maximize=group["maximize"])
