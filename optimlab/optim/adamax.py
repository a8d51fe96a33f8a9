r"""Adamax: Adam with the infinity norm in place of the root mean square (torch's ``Adamax``).

.. math::
    g_t &\leftarrow \pm\nabla f(\theta_{t-1}) + \lambda\theta_{t-1} \\
    m_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t \\
    u_t &= \max(\beta_2 u_{t-1},\ |g_t| + \epsilon) \\
    \theta_t &= \theta_{t-1} - \frac{\eta}{1-\beta_1^t}\, \frac{m_t}{u_t}

with learning rate :math:`\eta`, decay rates :math:`\beta_1, \beta_2` and weight decay :math:`\lambda`
(an L2 term added to the gradient); :math:`u` is torch's ``exp_inf``. :math:`u_t` is the limit
:math:`p\to\infty` of :math:`(\beta_2^p v + (1-\beta_2^p)|g|^p)^{1/p}` and needs no bias correction.
Conventions as torch: ε is added to :math:`|g_t|` inside the maximum (the paper has no ε and divides
by :math:`u_t` directly). Reference: Kingma & Ba (2015), "Adam: a method for stochastic
optimization", Section 7.1, Algorithm 2.
"""

from __future__ import annotations

from optimlab.backend import get_array_module
from optimlab.kernels import GRAD_PROLOGUE, ElementwiseKernel, use_fused
from optimlab.optim.base import Optimizer
from optimlab.optim.hyperparams import betas, boolean, learning_rate, nonnegative


def adamax_init(param) -> dict:
    """``step`` 0, zero ``exp_avg`` and zero ``exp_inf`` (torch's keys)."""
    xp = get_array_module(param)
    return {"step": 0, "exp_avg": xp.zeros_like(param), "exp_inf": xp.zeros_like(param)}


def adamax_update(param, grad, state, *, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
                  maximize=False) -> None:
    """The NumPy/CuPy reference: one Adamax step on ``param`` and ``state`` in place."""
    xp = get_array_module(param)
    state["step"] += 1
    g = -grad if maximize else grad
    if weight_decay != 0:
        g = g + weight_decay * param  # g ← g + λθ
    exp_avg, exp_inf = state["exp_avg"], state["exp_inf"]
    exp_avg += (1 - beta1) * (g - exp_avg)  # m = β₁m + (1 − β₁)g
    exp_inf *= beta2  # u = max(β₂u, |g| + ε)
    xp.maximum(exp_inf, xp.abs(g) + eps, out=exp_inf)
    param -= (lr / (1 - beta1 ** state["step"])) * (exp_avg / exp_inf)  # θ ← θ − η/(1 − β₁ᵗ) · m/u


ADAMAX_KERNEL = ElementwiseKernel(
    name="adamax",
    inputs=("g",),
    outputs=("p", "exp_avg", "exp_inf"),
    scalars=("beta1", "beta2", "eps", "weight_decay", "step_size"),
    flags=("MAXIMIZE",),
    body=GRAD_PROLOGUE + """\
C m = (C)exp_avg + (C)(1 - beta1) * (grad - (C)exp_avg);
C u = optimlab_max((C)beta2 * (C)exp_inf, fabs(grad) + (C)eps);
exp_avg = (T)m;
exp_inf = (T)u;
p = (T)((C)p - (C)step_size * (m / u));
""",
)


def adamax_fused(param, grad, state, *, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
                 maximize=False) -> None:
    """The same step through the fused kernel; the bias-corrected step size is folded on the host."""
    state["step"] += 1
    ADAMAX_KERNEL(
        flags=dict(MAXIMIZE=maximize), g=grad, p=param, exp_avg=state["exp_avg"], exp_inf=state["exp_inf"],
        beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay,
        step_size=lr / (1 - beta1 ** state["step"]),
    )


def adamax(param, grad, state, **hyper) -> None:
    """One Adamax step: the fused kernel for GPU arrays (see ``kernels.use_fused``), else the reference."""
    (adamax_fused if use_fused(param) else adamax_update)(param, grad, state, **hyper)


class Adamax(Optimizer):
    """``torch.optim.Adamax`` with the same arguments, defaults and update (see the module docstring)."""

    hyperparameters = {
        "lr": learning_rate,
        "betas": betas,
        "eps": nonnegative,
        "weight_decay": nonnegative,
        "maximize": boolean,
    }
    elementwise = True

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, *, maximize=False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize))

    def _init_state(self, param, group):
        return adamax_init(param.data)

    def _update(self, param, grad, state, group):
        beta1, beta2 = group["betas"]
        adamax(param.data, grad, state, lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"],
               weight_decay=group["weight_decay"], maximize=group["maximize"])
