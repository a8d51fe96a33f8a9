r"""Adam, AdamW and AMSGrad (torch's ``Adam``/``AdamW``).

.. math::
    g_t &\leftarrow \pm\nabla f(\theta_{t-1}) \quad(+\lambda\theta_{t-1}\ \text{for L2 decay}) \\
    \theta_{t-1} &\leftarrow (1-\eta\lambda)\,\theta_{t-1} \quad(\text{decoupled decay, AdamW}) \\
    m_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2 \\
    \hat v_t &= \max(\hat v_{t-1}, v_t)\ \text{(AMSGrad)}, \text{ else } v_t \\
    \theta_t &= \theta_{t-1} - \frac{\eta}{1-\beta_1^t}\,
               \frac{m_t}{\sqrt{\hat v_t}/\sqrt{1-\beta_2^t} + \epsilon}

Bias correction divides the zero-initialised averages by :math:`1-\beta^t`, the total weight their
geometric sums have after :math:`t` steps. Conventions as torch by default: ε is added *after* the
square root and after bias correction of :math:`\sqrt{v}`; the decoupled decay is scaled by the
learning rate (Loshchilov & Hutter's paper scales it by the schedule multiplier only); AMSGrad keeps
the maximum of the *uncorrected* :math:`v_t`. Two named arguments give optax's conventions
(``optimlab.optim.variants``):

* ``eps_root`` (optax's ``scale_by_adam(eps_root=...)``): the denominator is
  :math:`\sqrt{v_t/(1-\beta_2^t) + \epsilon_{root}} + \epsilon`, ε inside the root as well;
* ``amsgrad_max="corrected"`` (optax's ``amsgrad``, as Reddi et al.'s algorithm with bias
  correction): the maximum is taken *after* bias correction,
  :math:`\hat v_t = \max(\hat v_{t-1}, v_t/(1-\beta_2^t))`, and ``max_exp_avg_sq`` holds corrected
  values; ``"raw"`` (default, torch) takes it of the raw :math:`v_t`. The two differ whenever
  :math:`v_t` falls, since :math:`1-\beta_2^t` grows with :math:`t`.

References: Kingma & Ba (2015), Loshchilov & Hutter (2019), Reddi et al. (2018).
"""

from __future__ import annotations

import math

from optimlab.backend import get_array_module
from optimlab.kernels import ElementwiseKernel, use_fused
from optimlab.optim.base import Optimizer
from optimlab.optim.flat import scratch
from optimlab.optim.hyperparams import betas, boolean, choice, learning_rate, nonnegative

AMSGRAD_MAXIMA = ("raw", "corrected")


def adam_init(param, *, amsgrad=False) -> dict:
    """``step`` 0 and zero moments (plus ``max_exp_avg_sq`` for AMSGrad), torch's key names."""
    xp = get_array_module(param)
    state = {"step": 0, "exp_avg": xp.zeros_like(param), "exp_avg_sq": xp.zeros_like(param)}
    if amsgrad:
        state["max_exp_avg_sq"] = xp.zeros_like(param)
    return state


def adam_update(param, grad, state, *, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
                amsgrad=False, maximize=False, decoupled_weight_decay=False, grad_scale=1.0, eps_root=0.0,
                amsgrad_max="raw") -> None:
    """The NumPy/CuPy reference: one Adam step on ``param`` and ``state`` in place, with the gradient
    taken as ``grad_scale · grad`` (a clip coefficient). Every temporary is a ``scratch`` array
    (``out=``), so a flat buffer's step allocates nothing after the first."""
    xp = get_array_module(param)
    state["step"] += 1
    t = state["step"]
    work = scratch(state, "work", param)
    g = grad
    if maximize or grad_scale != 1:
        sign_scale = -grad_scale if maximize else grad_scale
        g = xp.multiply(sign_scale, grad, out=scratch(state, "grad", param))  # g ← ±c∇f
    if weight_decay != 0:
        if decoupled_weight_decay:
            param *= 1 - lr * weight_decay  # θ ← (1 − ηλ)θ
        else:
            decay = xp.multiply(weight_decay, param, out=work)
            g = xp.add(g, decay, out=scratch(state, "grad", param))  # g ← g + λθ
    exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
    exp_avg += xp.multiply(1 - beta1, xp.subtract(g, exp_avg, out=work), out=work)  # m = β₁m + (1 − β₁)g
    exp_avg_sq *= beta2  # v = β₂v + (1 − β₂)g²
    exp_avg_sq += xp.multiply(xp.multiply(1 - beta2, g, out=work), g, out=work)
    bias_correction1 = 1 - beta1**t
    bias_correction2 = 1 - beta2**t
    second_moment = exp_avg_sq
    if amsgrad and amsgrad_max == "raw":
        xp.maximum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])  # v̂ = max(v̂, v)
        second_moment = state["max_exp_avg_sq"]
    if eps_root == 0 and not (amsgrad and amsgrad_max == "corrected"):
        denom = xp.sqrt(second_moment, out=work)  # √(v/(1 − β₂ᵗ)) + ε
        denom /= math.sqrt(bias_correction2)
    else:
        denom = xp.divide(second_moment, bias_correction2, out=work)  # v/(1 − β₂ᵗ)
        if amsgrad and amsgrad_max == "corrected":
            denom = xp.maximum(state["max_exp_avg_sq"], denom, out=state["max_exp_avg_sq"])  # v̂ = max(v̂, v/(1 − β₂ᵗ))
        denom = xp.sqrt(xp.add(denom, eps_root, out=work), out=work)  # √(v̂ + ε_root)
    denom += eps
    ratio = xp.divide(exp_avg, denom, out=work)
    param -= xp.multiply(lr / bias_correction1, ratio, out=work)  # θ ← θ − η/(1 − β₁ᵗ) · m/denom


ADAM_KERNEL = ElementwiseKernel(
    name="adam",
    inputs=("g",),
    outputs=("p", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
    scalars=("lr", "beta1", "beta2", "eps", "weight_decay", "step_size", "bias_correction2_sqrt", "grad_scale",
             "bias_correction2", "eps_root"),
    flags=("MAXIMIZE", "DECOUPLED", "AMSGRAD", "CORRECTED_MAX", "EPS_ROOT"),
    requires=(("max_exp_avg_sq", "AMSGRAD"),),
    body="""
#if MAXIMIZE
C grad = -(C)grad_scale * (C)g;
#else
C grad = (C)grad_scale * (C)g;
#endif
C param = (C)p;
if (weight_decay != 0) {
#if DECOUPLED
    param *= (C)(1 - lr * weight_decay);
#else
    grad += (C)weight_decay * param;
#endif
}
C m = (C)exp_avg + (C)(1 - beta1) * (grad - (C)exp_avg);
C v = (C)beta2 * (C)exp_avg_sq + (C)(1 - beta2) * grad * grad;
exp_avg = (T)m;
exp_avg_sq = (T)v;
#if AMSGRAD && !CORRECTED_MAX
v = optimlab_max((C)max_exp_avg_sq, v);
max_exp_avg_sq = (T)v;
#endif
#if (AMSGRAD && CORRECTED_MAX) || EPS_ROOT
C v_hat = v / (C)bias_correction2;
#if AMSGRAD && CORRECTED_MAX
v_hat = optimlab_max((C)max_exp_avg_sq, v_hat);
max_exp_avg_sq = (T)v_hat;
#endif
C denom = sqrt(v_hat + (C)eps_root) + (C)eps;
#else
C denom = sqrt(v) / (C)bias_correction2_sqrt + (C)eps;
#endif
p = (T)(param - (C)step_size * (m / denom));
""",
)


def adam_kernel_scalars(t, *, lr, beta1, beta2, eps, weight_decay, grad_scale=1.0, eps_root=0.0) -> dict:
    """``ADAM_KERNEL``'s scalars at step ``t`` (counted from 1), the bias corrections folded on the
    host: step size η/(1 − β₁ᵗ), √(1 − β₂ᵗ) and 1 − β₂ᵗ."""
    return dict(lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay, grad_scale=grad_scale,
                eps_root=eps_root, step_size=lr / (1 - beta1**t), bias_correction2_sqrt=math.sqrt(1 - beta2**t),
                bias_correction2=1 - beta2**t)


def adam_fused(param, grad, state, *, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
               amsgrad=False, maximize=False, decoupled_weight_decay=False, grad_scale=1.0, eps_root=0.0,
               amsgrad_max="raw") -> None:
    """The same step through the fused kernel; the bias corrections (and the gradient scale) are
    folded on the host."""
    state["step"] += 1
    ADAM_KERNEL(
        flags=dict(MAXIMIZE=maximize, DECOUPLED=decoupled_weight_decay, AMSGRAD=amsgrad,
                   CORRECTED_MAX=amsgrad_max == "corrected", EPS_ROOT=eps_root != 0),
        g=grad, p=param, exp_avg=state["exp_avg"], exp_avg_sq=state["exp_avg_sq"],
        max_exp_avg_sq=state.get("max_exp_avg_sq"),
        **adam_kernel_scalars(state["step"], lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay,
                              grad_scale=grad_scale, eps_root=eps_root),
    )


def adam(param, grad, state, **hyper) -> None:
    """One Adam step: the fused kernel for GPU arrays (see ``kernels.use_fused``), else the reference."""
    (adam_fused if use_fused(param) else adam_update)(param, grad, state, **hyper)


def adamw(param, grad, state, **hyper) -> None:
    """One AdamW step: Adam with decoupled, lr-scaled weight decay."""
    adam(param, grad, state, decoupled_weight_decay=True, **hyper)


class Adam(Optimizer):
    """``torch.optim.Adam`` with the same arguments, defaults and update, plus optax's ``eps_root``
    and ``amsgrad_max`` conventions (see the module docstring)."""

    hyperparameters = {
        "lr": learning_rate,
        "betas": betas,
        "eps": nonnegative,
        "weight_decay": nonnegative,
        "amsgrad": boolean,
        "maximize": boolean,
        "decoupled_weight_decay": boolean,
        "eps_root": nonnegative,
        "amsgrad_max": choice(*AMSGRAD_MAXIMA),
    }
    elementwise = True
    scales_gradients = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, *,
                 maximize=False, decoupled_weight_decay=False, eps_root=0.0, amsgrad_max="raw"):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize, decoupled_weight_decay=decoupled_weight_decay,
                                      eps_root=eps_root, amsgrad_max=amsgrad_max))

    def _check_group(self, group):
        if group.get("amsgrad_max", "raw") != "raw" and not group.get("amsgrad", False):
            raise ValueError(f"Invalid amsgrad_max: {group['amsgrad_max']!r} (it chooses where AMSGrad takes "
                             "its maximum: set amsgrad=True too)")

    def _init_state(self, param, group):
        return adam_init(param.data, amsgrad=group["amsgrad"])

    def _update(self, param, grad, state, group):
        if group["amsgrad"] and "max_exp_avg_sq" not in state:
            state["max_exp_avg_sq"] = get_array_module(param.data).zeros_like(param.data)
        beta1, beta2 = group["betas"]
        adam(param.data, grad, state, lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"],
             weight_decay=group["weight_decay"], amsgrad=group["amsgrad"], maximize=group["maximize"],
             decoupled_weight_decay=group["decoupled_weight_decay"], grad_scale=group["grad_scale"],
             eps_root=group["eps_root"], amsgrad_max=group["amsgrad_max"])


class AdamW(Adam):
    """``torch.optim.AdamW``: Adam with decoupled weight decay, default ``weight_decay=1e-2``."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, eps_root=0.0, amsgrad_max="raw"):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         maximize=maximize, decoupled_weight_decay=True, eps_root=eps_root, amsgrad_max=amsgrad_max)
