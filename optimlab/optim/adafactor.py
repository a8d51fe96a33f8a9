r"""Adafactor in torch's form (``torch.optim.Adafactor``): a second-moment estimate factored into row
and column statistics over the last two dimensions, a relative step size, and update clipping.

.. math::
    G_t &\leftarrow \pm\nabla f(\theta_{t-1}), \qquad 1-\hat\beta_{2,t} = t^{\tau}, \qquad
    \rho_t = \min(\eta,\ 1/\sqrt t), \qquad \alpha_t = \max(\epsilon_2,\ \mathrm{RMS}(\theta_{t-1}))\,\rho_t \\
    \theta_{t-1} &\leftarrow (1-\eta\lambda)\,\theta_{t-1} \\
    R_t &= R_{t-1} + (1-\hat\beta_{2,t})\big(\operatorname{mean}_j G_t^2 - R_{t-1}\big), \qquad
    C_t = C_{t-1} + (1-\hat\beta_{2,t})\big(\operatorname{mean}_i G_t^2 - C_{t-1}\big) \\
    \hat V_t &= \frac{R_t C_t}{\max(\operatorname{mean}_i R_t,\ \epsilon_1)} \quad
    \Big(\text{a vector or scalar keeps } \hat V_t = \hat V_{t-1} + (1-\hat\beta_{2,t})(G_t^2 - \hat V_{t-1})\Big) \\
    U_t &= \frac{G_t}{\max(\sqrt{\hat V_t},\ \epsilon_1)}, \qquad
    \theta_t = \theta_{t-1} - \frac{\alpha_t}{\max(1,\ \mathrm{RMS}(U_t)/d)}\, U_t

with learning rate :math:`\eta`, decay exponent :math:`\tau` (``beta2_decay``), ``eps`` =
:math:`(\epsilon_1, \epsilon_2)` (:math:`\epsilon_1` defaults to the machine epsilon of the parameter's
dtype), clipping threshold :math:`d`, decoupled weight decay :math:`\lambda`. :math:`R` (state
``row_var``, shape ``(..., n, 1)``) and :math:`C` (``col_var``, ``(..., 1, m)``) are means over
:math:`j` (the last dimension) and :math:`i` (the one before), so a matrix keeps :math:`n+m` numbers
instead of :math:`nm`; parameters with fewer than two dimensions keep the full ``variance``.

Divergences from the paper (Shazeer & Stern, 2018), all as torch: :math:`\rho_t` is capped by the
learning rate instead of the constant 0.01; weight decay is decoupled and scaled by the learning
rate; :math:`\epsilon_1` is applied to the row mean and to :math:`\sqrt{\hat V}` rather than added to
:math:`G^2`; means replace the paper's sums (the ratio is the same); no first moment. T5/optax's
Adafactor (ε added to :math:`G^2`, factoring the two largest dimensions) is a different convention.
No fused kernel: each step needs three reductions (the RMS of θ, the row and column means, the RMS of
:math:`U`) between its elementwise parts, so there is no single elementwise pass to fuse.
"""

from __future__ import annotations

import math

from optimlab.backend import get_array_module
from optimlab.optim.base import Optimizer
from optimlab.optim.hyperparams import boolean, learning_rate, nonnegative, optional, pair, real


def _rms(x) -> float:
    """Root mean square, computed as torch does: ‖x‖₂/√n."""
    return float(get_array_module(x).linalg.norm(x.ravel())) / math.sqrt(x.size)


def adafactor_init(param) -> dict:
    """``step`` 0 and zero ``row_var``/``col_var`` (two or more dims) or ``variance`` (torch's keys)."""
    xp = get_array_module(param)
    if param.ndim > 1:
        row_shape = param.shape[:-1] + (1,)
        col_shape = param.shape[:-2] + (1,) + param.shape[-1:]
        return {"step": 0, "row_var": xp.zeros(row_shape, param.dtype), "col_var": xp.zeros(col_shape, param.dtype)}
    return {"step": 0, "variance": xp.zeros_like(param)}


def adafactor_update(param, grad, state, *, lr, beta2_decay=-0.8, eps1=None, eps2=1e-3, d=1.0, weight_decay=0.0,
                     maximize=False) -> None:
    """The NumPy/CuPy reference: one Adafactor step on ``param`` and ``state`` in place."""
    xp = get_array_module(param)
    state["step"] += 1
    t = state["step"]
    g = -grad if maximize else grad
    if eps1 is None:
        eps1 = float(xp.finfo(param.dtype).eps)
    one_minus_beta2 = t**beta2_decay  # 1 − β̂₂ = t^τ
    rho = min(lr, 1 / t**0.5)  # ρ = min(η, 1/√t)
    alpha = max(eps2, _rms(param)) * rho  # α = max(ε₂, RMS(θ)) ρ
    if weight_decay != 0:
        param *= 1 - lr * weight_decay  # θ ← (1 − ηλ)θ
    squared = g * g
    if param.ndim > 1:
        row_var, col_var = state["row_var"], state["col_var"]
        row_var += one_minus_beta2 * (squared.mean(axis=-1, keepdims=True) - row_var)  # R ← R + (1 − β̂₂)(mean_j G² − R)
        col_var += one_minus_beta2 * (squared.mean(axis=-2, keepdims=True) - col_var)  # C ← C + (1 − β̂₂)(mean_i G² − C)
        row_scale = xp.maximum(row_var.mean(axis=-2, keepdims=True), eps1)
        var_estimate = row_var * col_var / row_scale  # V̂ = R C / max(mean_i R, ε₁)
    else:
        variance = state["variance"]
        variance += one_minus_beta2 * (squared - variance)  # V̂ ← V̂ + (1 − β̂₂)(G² − V̂)
        var_estimate = variance
    update = g / xp.sqrt(xp.maximum(var_estimate, eps1 * eps1))  # U = G / max(√V̂, ε₁)
    param -= (alpha / max(1.0, _rms(update) / d)) * update  # θ ← θ − α U / max(1, RMS(U)/d)


def adafactor(param, grad, state, **hyper) -> None:
    """One Adafactor step (the reference on every backend: there is no fused kernel, see above)."""
    adafactor_update(param, grad, state, **hyper)


def _epsilons(name: str, value):
    """``(eps1, eps2)``: eps1 ``None`` (the dtype's machine epsilon) or ≥ 0, eps2 ≥ 0."""
    eps1, eps2 = pair(optional(nonnegative))(name, value)
    return eps1, nonnegative(f"{name}[1]", eps2)


class Adafactor(Optimizer):
    """``torch.optim.Adafactor`` with the same arguments, defaults and update (see the module docstring)."""

    hyperparameters = {
        "lr": learning_rate,
        "beta2_decay": real(None, 0.0),
        "eps": _epsilons,
        "d": real(1.0),
        "weight_decay": nonnegative,
        "maximize": boolean,
    }

    def __init__(self, params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0, *,
                 maximize=False):
        super().__init__(params, dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d, weight_decay=weight_decay,
                                      maximize=maximize))

    def _init_state(self, param, group):
        return adafactor_init(param.data)

    def _update(self, param, grad, state, group):
        eps1, eps2 = group["eps"]
        adafactor(param.data, grad, state, lr=group["lr"], beta2_decay=group["beta2_decay"], eps1=eps1, eps2=eps2,
                  d=group["d"], weight_decay=group["weight_decay"], maximize=group["maximize"])
