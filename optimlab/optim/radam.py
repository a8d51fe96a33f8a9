r"""RAdam: Adam whose adaptive step is switched on, and rectified, once its variance is tractable
(torch's ``RAdam``).

.. math::
    g_t &\leftarrow \pm\nabla f(\theta_{t-1}) \quad(+\lambda\theta_{t-1}\ \text{for L2 decay}) \\
    \theta_{t-1} &\leftarrow (1-\eta\lambda)\,\theta_{t-1} \quad(\text{decoupled decay}) \\
    m_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2,
    \qquad \hat m_t = \frac{m_t}{1-\beta_1^t} \\
    \rho_\infty &= \frac{2}{1-\beta_2} - 1, \qquad
    \rho_t = \rho_\infty - \frac{2t\beta_2^t}{1-\beta_2^t} \\
    r_t &= \sqrt{\frac{(\rho_t-4)(\rho_t-2)\rho_\infty}{(\rho_\infty-4)(\rho_\infty-2)\rho_t}} \\
    \theta_t &= \theta_{t-1} - \eta\,\hat m_t\, r_t\, \frac{\sqrt{1-\beta_2^t}}{\sqrt{v_t} + \epsilon}
    \quad(\rho_t > 5), \qquad \theta_t = \theta_{t-1} - \eta\,\hat m_t \quad(\rho_t \le 5)

with learning rate :math:`\eta`, decay rates :math:`\beta_1, \beta_2` and weight decay :math:`\lambda`.
:math:`\rho_t` is the length of the simple moving average that has the same centre of mass as the
bias-corrected exponential average of :math:`t` squared gradients
(:math:`\rho_t = 1 + 2\,\mathbb E[\text{age}]`); while it is short, the variance of
:math:`1/\sqrt{\hat v_t}` is unbounded and the step is plain momentum SGD; :math:`r_t` scales that
variance down to its limit afterwards. Conventions as torch: the adaptive step switches on when
:math:`\rho_t > 5` (the paper's Algorithm 2 says :math:`\rho_t > 4`, where :math:`r_t` is already
defined but tiny); ε is added to :math:`\sqrt{v_t}` before bias correction (the paper has no ε); the
decoupled decay (``decoupled_weight_decay=True``, "RAdamW") is scaled by the learning rate, as
AdamW's. Reference: Liu et al. (2020), "On the variance of the adaptive learning rate and beyond",
Algorithm 2.
"""

from __future__ import annotations

import math

from optimlab.backend import get_array_module
from optimlab.kernels import ElementwiseKernel, use_fused
from optimlab.optim.base import Optimizer
from optimlab.optim.hyperparams import betas, boolean, learning_rate, nonnegative
from optimlab.optim.nadam import ADAM_MOMENTS_BODY, adam_moments

RHO_THRESHOLD = 5.0


def radam_init(param) -> dict:
    """``step`` 0 and zero moments (torch's keys)."""
    xp = get_array_module(param)
    return {"step": 0, "exp_avg": xp.zeros_like(param), "exp_avg_sq": xp.zeros_like(param)}


def radam_rho(step, beta2) -> float:
    """:math:`\\rho_t = \\rho_\\infty - 2t\\beta_2^t/(1-\\beta_2^t)`, the length of the approximated SMA."""
    rho_inf = 2 / (1 - beta2) - 1  # ρ∞ = 2/(1 − β₂) − 1
    return rho_inf - 2 * step * beta2**step / (1 - beta2**step)


def radam_rectification(step, beta2) -> float | None:
    """:math:`r_t` where :math:`\\rho_t > 5`; ``None`` where the adaptive step is off."""
    rho_inf, rho_t = 2 / (1 - beta2) - 1, radam_rho(step, beta2)
    if rho_t <= RHO_THRESHOLD:
        return None
    return ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5  # rₜ


def radam_update(param, grad, state, *, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
                 decoupled_weight_decay=False, maximize=False) -> None:
    """The NumPy/CuPy reference: one RAdam step on ``param`` and ``state`` in place."""
    xp = get_array_module(param)
    state["step"] += 1
    t = state["step"]
    adam_moments(param, grad, state, lr=lr, beta1=beta1, beta2=beta2, weight_decay=weight_decay,
                 decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
    bias_corrected_exp_avg = state["exp_avg"] / (1 - beta1**t)  # m̂ = m/(1 − β₁ᵗ)
    rect = radam_rectification(t, beta2)
    if rect is None:
        param -= bias_corrected_exp_avg * lr  # θ ← θ − η m̂
    else:
        adaptive_lr = math.sqrt(1 - beta2**t) / (xp.sqrt(state["exp_avg_sq"]) + eps)  # √(1 − β₂ᵗ)/(√v + ε)
        param -= bias_corrected_exp_avg * lr * adaptive_lr * rect  # θ ← θ − η m̂ rₜ √(1 − β₂ᵗ)/(√v + ε)


RADAM_KERNEL = ElementwiseKernel(
    name="radam",
    inputs=("g",),
    outputs=("p", "exp_avg", "exp_avg_sq"),
    scalars=("lr", "beta1", "beta2", "eps", "weight_decay", "bias_correction1", "bias_correction2_sqrt", "rect"),
    flags=("MAXIMIZE", "DECOUPLED", "RECTIFIED"),
    body=ADAM_MOMENTS_BODY + """
C bias_corrected_exp_avg = m / (C)bias_correction1;
#if RECTIFIED
C adaptive_lr = (C)bias_correction2_sqrt / (sqrt(v) + (C)eps);
p = (T)(param - bias_corrected_exp_avg * (C)lr * adaptive_lr * (C)rect);
#else
p = (T)(param - bias_corrected_exp_avg * (C)lr);
#endif
""",
)


def radam_fused(param, grad, state, *, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
                decoupled_weight_decay=False, maximize=False) -> None:
    """The same step through the fused kernel; bias corrections and :math:`r_t` are folded on the host."""
    state["step"] += 1
    t = state["step"]
    rect = radam_rectification(t, beta2)
    RADAM_KERNEL(
        flags=dict(MAXIMIZE=maximize, DECOUPLED=decoupled_weight_decay, RECTIFIED=rect is not None),
        g=grad, p=param, exp_avg=state["exp_avg"], exp_avg_sq=state["exp_avg_sq"],
        lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay, bias_correction1=1 - beta1**t,
        bias_correction2_sqrt=math.sqrt(1 - beta2**t), rect=0.0 if rect is None else rect,
    )


def radam(param, grad, state, **hyper) -> None:
    """One RAdam step: the fused kernel for GPU arrays (see ``kernels.use_fused``), else the reference."""
    (radam_fused if use_fused(param) else radam_update)(param, grad, state, **hyper)


class RAdam(Optimizer):
    """``torch.optim.RAdam`` with the same arguments, defaults and update (see the module docstring)."""

    hyperparameters = {
        "lr": learning_rate,
        "betas": betas,
        "eps": nonnegative,
        "weight_decay": nonnegative,
        "decoupled_weight_decay": boolean,
        "maximize": boolean,
    }
    elementwise = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 decoupled_weight_decay=False, *, maximize=False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay, maximize=maximize))

    def _init_state(self, param, group):
        return radam_init(param.data)

    def _update(self, param, grad, state, group):
        beta1, beta2 = group["betas"]
        radam(param.data, grad, state, lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"],
              weight_decay=group["weight_decay"], decoupled_weight_decay=group["decoupled_weight_decay"],
              maximize=group["maximize"])
