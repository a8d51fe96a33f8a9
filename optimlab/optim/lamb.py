r"""Layer-wise trust ratios: LAMB (You et al., 2020) and LARS (You et al., 2017).

Both rescale each parameter tensor's step by a *trust ratio* :math:`\|\theta\| / \|u\|`, so every
layer moves by a fixed fraction of its own norm whatever the scale of its gradient. Where either
norm is 0 the ratio is 1 (optax's rule; torch-optimizer's too), so a zero-initialised tensor still
moves.

**LAMB** (Adam direction, then the trust ratio):

.. math::
    m_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2 \\
    r_t &= \frac{m_t / c_1}{\sqrt{v_t / c_2 + \epsilon_{root}} + \epsilon} + \lambda\theta_{t-1} \\
    \theta_t &= \theta_{t-1} - \eta\, s_t\, \frac{\phi(\|\theta_{t-1}\|)}{\|r_t\|}\, r_t

with :math:`\phi(z) = \min(z, \text{clamp\_value})` (or :math:`z` without a clamp). Libraries differ
by definition, so each difference is a named argument:

* ``bias_correction="moments"`` (default; optax's ``lamb`` and the paper's Algorithm 2):
  :math:`c_i = 1-\beta_i^t`, :math:`s_t = 1`; ``"none"`` (torch-optimizer's default,
  ``debias=False``): :math:`c_i = 1`, :math:`s_t = 1`; ``"step_size"`` (torch-optimizer's
  ``debias=True``): :math:`c_i = 1` and :math:`s_t = \sqrt{1-\beta_2^t}/(1-\beta_1^t)` multiplies
  the step *after* the trust ratio, so ε sits on the raw :math:`\sqrt{v}` and the decay term is
  scaled with the step.
* ``clamp_value``: ``None`` (default, optax: no clamp) or torch-optimizer's clamp of
  :math:`\|\theta\|` (its default is 10).
* ``eps_root``: optax's ε inside the square root (default 0).

In every convention the decay :math:`\lambda\theta` enters the direction :math:`r_t` *before* the
norms, as both libraries do. torch-optimizer's ``adam=True`` (trust ratio forced to 1) is not
offered. The state keeps torch-optimizer's diagnostics ``weight_norm``, ``adam_norm`` and
``trust_ratio`` of the last step beside the moments.

**LARS** (optax's ``lars``: decay, trust ratio, learning rate, then momentum):

.. math::
    u_t &= g_t + \lambda\theta_{t-1}, \qquad
    \tau_t = \frac{k\,\|\theta_{t-1}\|}{\|u_t\| + \epsilon} \\
    b_t &= \mu b_{t-1} + \eta\,\tau_t u_t \\
    \theta_t &= \theta_{t-1} - \begin{cases} \eta\,\tau_t u_t + \mu b_t & \text{nesterov} \\
                                               b_t & \text{otherwise} \end{cases}

with trust coefficient :math:`k`. The buffer accumulates *lr-scaled* steps (optax's ``trace`` after
``scale_by_learning_rate``, with the sign flipped: ours is subtracted), unlike torch's SGD buffer of
raw gradients; the two agree for a constant :math:`\eta`. A group with ``trust_ratio=False`` takes
plain momentum steps (optax's ``trust_ratio_mask``; exclude biases and norms this way).

The norms are reductions on the host; the elementwise parts run as kernels. References: You et al.,
"Large Batch Optimization for Deep Learning: Training BERT in 76 minutes" (ICLR 2020); You, Gitman &
Ginsburg, "Large Batch Training of Convolutional Networks" (2017).
"""

from __future__ import annotations

import math

from optimlab.backend import get_array_module
from optimlab.kernels import ElementwiseKernel, use_fused
from optimlab.optim.base import Optimizer
from optimlab.optim.hyperparams import betas, boolean, choice, learning_rate, nonnegative, optional, unit_closed

BIAS_CORRECTIONS = ("moments", "none", "step_size")


def trust_ratio(numerator_norm, update_norm, eps=0.0) -> float:
    """``numerator_norm / (update_norm + eps)``, or 1 where either norm is 0 (optax's rule)."""
    if numerator_norm == 0 or update_norm == 0:
        return 1.0
    return numerator_norm / (update_norm + eps)


def _norm(array) -> float:
    return float(get_array_module(array).linalg.norm(array.reshape(-1)))


def _lamb_scalars(t, *, beta1, beta2, bias_correction):
    """(c₁, c₂, s_t) of the module docstring for step ``t`` and the chosen convention."""
    if bias_correction == "moments":
        return 1 - beta1**t, 1 - beta2**t, 1.0
    if bias_correction == "step_size":
        return 1.0, 1.0, math.sqrt(1 - beta2**t) / (1 - beta1**t)
    return 1.0, 1.0, 1.0


def _lamb_apply(param, direction, state, *, lr, step_scale, clamp_value) -> None:
    """The host-side half of a LAMB step: both norms, the trust ratio, θ ← θ − η s_t ratio r."""
    weight_norm = _norm(param)
    if clamp_value is not None:
        weight_norm = min(weight_norm, clamp_value)  # φ(‖θ‖) = min(‖θ‖, clamp)
    adam_norm = _norm(direction)
    ratio = trust_ratio(weight_norm, adam_norm)  # φ(‖θ‖)/‖r‖, 1 if either is 0
    state.update(weight_norm=weight_norm, adam_norm=adam_norm, trust_ratio=ratio)
    param -= (lr * step_scale * ratio) * direction  # θ ← θ − η s_t ratio r


def lamb_init(param) -> dict:
    """``step`` 0, zero moments, and the last step's norms and trust ratio (torch-optimizer's keys)."""
    xp = get_array_module(param)
    return {"step": 0, "exp_avg": xp.zeros_like(param), "exp_avg_sq": xp.zeros_like(param),
            "weight_norm": 0.0, "adam_norm": 0.0, "trust_ratio": 1.0}


def lamb_update(param, grad, state, *, lr, beta1=0.9, beta2=0.999, eps=1e-6, eps_root=0.0, weight_decay=0.0,
                bias_correction="moments", clamp_value=None) -> None:
    """The NumPy/CuPy reference: one LAMB step on ``param`` and ``state`` in place."""
    xp = get_array_module(param)
    state["step"] += 1
    bias_correction1, bias_correction2, step_scale = _lamb_scalars(
        state["step"], beta1=beta1, beta2=beta2, bias_correction=bias_correction)
    exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
    exp_avg *= beta1  # m = β₁m + (1 − β₁)g
    exp_avg += (1 - beta1) * grad
    exp_avg_sq *= beta2  # v = β₂v + (1 − β₂)g²
    exp_avg_sq += (1 - beta2) * grad * grad
    denom = xp.sqrt(exp_avg_sq / bias_correction2 + eps_root) + eps  # √(v/c₂ + ε_root) + ε
    direction = (exp_avg / bias_correction1) / denom + weight_decay * param  # r = (m/c₁)/denom + λθ
    _lamb_apply(param, direction, state, lr=lr, step_scale=step_scale, clamp_value=clamp_value)


LAMB_KERNEL = ElementwiseKernel(
    name="lamb",
    inputs=("g", "p"),
    outputs=("exp_avg", "exp_avg_sq", "direction"),
    scalars=("beta1", "beta2", "eps", "eps_root", "weight_decay", "bias_correction1", "bias_correction2"),
    body="""
C grad = (C)g;
C m = (C)beta1 * (C)exp_avg + (C)(1 - beta1) * grad;
C v = (C)beta2 * (C)exp_avg_sq + (C)(1 - beta2) * grad * grad;
exp_avg = (T)m;
exp_avg_sq = (T)v;
C denom = sqrt(v / (C)bias_correction2 + (C)eps_root) + (C)eps;
direction = (T)((m / (C)bias_correction1) / denom + (C)weight_decay * (C)p);
""",
)


def lamb_fused(param, grad, state, *, lr, beta1=0.9, beta2=0.999, eps=1e-6, eps_root=0.0, weight_decay=0.0,
               bias_correction="moments", clamp_value=None) -> None:
    """The same step with the moments and the direction from the fused kernel (bias corrections
    folded on the host, 1 when the convention has none) and the norms on the host."""
    state["step"] += 1
    bias_correction1, bias_correction2, step_scale = _lamb_scalars(
        state["step"], beta1=beta1, beta2=beta2, bias_correction=bias_correction)
    direction = get_array_module(param).empty_like(param)
    LAMB_KERNEL(g=grad, p=param, exp_avg=state["exp_avg"], exp_avg_sq=state["exp_avg_sq"], direction=direction,
                beta1=beta1, beta2=beta2, eps=eps, eps_root=eps_root, weight_decay=weight_decay,
                bias_correction1=bias_correction1, bias_correction2=bias_correction2)
    _lamb_apply(param, direction, state, lr=lr, step_scale=step_scale, clamp_value=clamp_value)


def lamb(param, grad, state, **hyper) -> None:
    """One LAMB step: the fused kernel for GPU arrays (see ``kernels.use_fused``), else the reference."""
    (lamb_fused if use_fused(param) else lamb_update)(param, grad, state, **hyper)


def lars_init(param) -> dict:
    """LARS's state starts empty; ``momentum_buffer`` (zeros) appears on the first step with momentum."""
    return {}


def _lars_step_size(param, grad, *, lr, weight_decay, trust_coefficient, eps, use_trust_ratio) -> float:
    """η τ_t, with the norms of θ and u = g + λθ reduced on the host."""
    if not use_trust_ratio:
        return lr
    update_norm = _norm(grad + weight_decay * param)
    return lr * trust_ratio(trust_coefficient * _norm(param), update_norm, eps)  # τ = k‖θ‖/(‖u‖ + ε)


def lars_update(param, grad, state, *, lr, momentum=0.9, weight_decay=0.0, trust_coefficient=0.001, eps=0.0,
                nesterov=False, use_trust_ratio=True) -> None:
    """The NumPy/CuPy reference: one LARS step on ``param`` and ``state`` in place."""
    update = grad + weight_decay * param  # u = g + λθ
    update *= _lars_step_size(param, grad, lr=lr, weight_decay=weight_decay, trust_coefficient=trust_coefficient,
                              eps=eps, use_trust_ratio=use_trust_ratio)  # ητu
    if momentum != 0:
        buffer = state["momentum_buffer"]
        buffer *= momentum  # b = μb + ητu
        buffer += update
        update = update + momentum * buffer if nesterov else buffer  # ητu + μb (Nesterov) or b
    param -= update  # θ ← θ − step


LARS_KERNEL = ElementwiseKernel(
    name="lars",
    inputs=("g",),
    outputs=("p", "momentum_buffer"),
    scalars=("step_size", "weight_decay", "momentum"),
    flags=("MOMENTUM", "NESTEROV"),
    requires=(("momentum_buffer", "MOMENTUM"),),
    body="""
C update = (C)step_size * ((C)g + (C)weight_decay * (C)p);
#if MOMENTUM
C buffer = (C)momentum * (C)momentum_buffer + update;
momentum_buffer = (T)buffer;
#if NESTEROV
update = update + (C)momentum * buffer;
#else
update = buffer;
#endif
#endif
p = (T)((C)p - update);
""",
)


def lars_fused(param, grad, state, *, lr, momentum=0.9, weight_decay=0.0, trust_coefficient=0.001, eps=0.0,
               nesterov=False, use_trust_ratio=True) -> None:
    """The same step through the fused kernel; η τ_t is folded on the host from the two norms."""
    step_size = _lars_step_size(param, grad, lr=lr, weight_decay=weight_decay, trust_coefficient=trust_coefficient,
                                eps=eps, use_trust_ratio=use_trust_ratio)
    LARS_KERNEL(flags=dict(MOMENTUM=momentum != 0, NESTEROV=nesterov), g=grad, p=param,
                momentum_buffer=state.get("momentum_buffer"), step_size=step_size, weight_decay=weight_decay,
                momentum=momentum)


def lars(param, grad, state, **hyper) -> None:
    """One LARS step: the fused kernel for GPU arrays (see ``kernels.use_fused``), else the reference."""
    (lars_fused if use_fused(param) else lars_update)(param, grad, state, **hyper)


class LAMB(Optimizer):
    """LAMB with optax's formula by default and torch-optimizer's ``Lamb`` through ``bias_correction``
    and ``clamp_value`` (see the module docstring). Not elementwise: the trust ratio is per tensor."""

    hyperparameters = {
        "lr": learning_rate,
        "betas": betas,
        "eps": nonnegative,
        "eps_root": nonnegative,
        "weight_decay": nonnegative,
        "bias_correction": choice(*BIAS_CORRECTIONS),
        "clamp_value": optional(nonnegative),
    }

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0, *, eps_root=0.0,
                 bias_correction="moments", clamp_value=None):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, eps_root=eps_root, weight_decay=weight_decay,
                                      bias_correction=bias_correction, clamp_value=clamp_value))

    def _init_state(self, param, group):
        return lamb_init(param.data)

    def _update(self, param, grad, state, group):
        beta1, beta2 = group["betas"]
        lamb(param.data, grad, state, lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"],
             eps_root=group["eps_root"], weight_decay=group["weight_decay"],
             bias_correction=group["bias_correction"], clamp_value=group["clamp_value"])


class LARS(Optimizer):
    """LARS as optax's ``lars`` (same defaults; see the module docstring). Not elementwise: the
    trust ratio is per tensor."""

    hyperparameters = {
        "lr": learning_rate,
        "momentum": unit_closed,
        "weight_decay": nonnegative,
        "trust_coefficient": nonnegative,
        "eps": nonnegative,
        "nesterov": boolean,
        "trust_ratio": boolean,
    }
    lazy_state = ("momentum_buffer",)

    def __init__(self, params, lr=1.0, momentum=0.9, weight_decay=0.0, trust_coefficient=0.001, eps=0.0,
                 nesterov=False, *, trust_ratio=True):
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay,
                                      trust_coefficient=trust_coefficient, eps=eps, nesterov=nesterov,
                                      trust_ratio=trust_ratio))

    def _init_state(self, param, group):
        return lars_init(param.data)

    def _update(self, param, grad, state, group):
        if group["momentum"] != 0 and "momentum_buffer" not in state:
            state["momentum_buffer"] = get_array_module(param.data).zeros_like(param.data)
        lars(param.data, grad, state, lr=group["lr"], momentum=group["momentum"], weight_decay=group["weight_decay"],
             trust_coefficient=group["trust_coefficient"], eps=group["eps"], nesterov=group["nesterov"],
             use_trust_ratio=group["trust_ratio"])
