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
:math:`G^2`; means replace the paper's sums (the ratio is the same); no first moment.

``convention="optax"`` is optax's ``adafactor`` (the T5 form, without its optional momentum):
:math:`\epsilon_1` (default :math:`10^{-30}`) is *added* to :math:`G^2` and there is no other clamp;
the step is :math:`\alpha_t = \eta\max(\epsilon_2, \mathrm{RMS}(\theta_{t-1}))`, with no
:math:`1/\sqrt t` cap; the factored dimensions are the two *largest* ones, and only when the smaller
of them has at least ``min_dim_size_to_factor`` (default 128) elements, otherwise the full
:math:`\hat V` is kept; weight decay is *fixed*, :math:`\theta \leftarrow \theta - \lambda\theta_{t-1}`,
not scaled by the learning rate (optax's ``weight_decay_rate``). The decay schedule
:math:`1-\hat\beta_{2,t} = t^{\tau}` and the clipping by :math:`d` are the same in both.

Fused form: a step needs three reductions between its elementwise parts. RMS(θ) and the row and
column means of G² stay NumPy/CuPy reductions (small outputs; the means read a G² temporary, as in
the reference); Σ U² is ``ADAFACTOR_SQUARES_KERNEL``, which forms :math:`\hat V` (from the broadcast
factors ``row_var``, ``col_var``, ``row_mean``, or the full :math:`\hat V` updated in a register) and
:math:`U` without writing either; the host folds the clipped step size
:math:`\alpha_t/\max(1, \mathrm{RMS}(U_t)/d)`; ``ADAFACTOR_KERNEL`` forms :math:`U` again from the same
source (``ADAFACTOR_UPDATE``) and writes θ (decay included) and the full :math:`\hat V`. Both
conventions from one body. Memory traffic per element, counting each read and write of an
element-sized array (fp32: 4 bytes each): factored, 9 passes (RMS(θ) 1, G² 2, its two means 2,
Σ U² 1, the update 3; optax's + ε₁ two more), where the former host computation of V̂, U and
three full-size copies of the factors took 25; the full :math:`\hat V`, 8 (RMS(θ) 1, Σ U² 2, the
update 5) instead of 24.
"""

from __future__ import annotations

import math

from optimlab.backend import get_array_module
from optimlab.kernels import ElementwiseKernel, ReductionKernel, use_fused
from optimlab.optim.base import Optimizer
from optimlab.optim.hyperparams import boolean, choice, integer, learning_rate, nonnegative, optional, pair, real

CONVENTIONS = ("torch", "optax")


def _rms(x) -> float:
    """Root mean square, computed as torch does: ‖x‖₂/√n."""
    return float(get_array_module(x).linalg.norm(x.ravel())) / math.sqrt(x.size)


def factored_axes(shape, *, convention="torch", min_dim_size_to_factor=128):
    """``(j, i)``: the axes the row statistic R and the column statistic C average over, or ``None``
    for a full V̂. torch: the last two dims of any tensor of two or more; optax: the largest and
    the second largest dims, if the second has at least ``min_dim_size_to_factor`` elements."""
    if len(shape) < 2:
        return None
    if convention == "torch":
        return len(shape) - 1, len(shape) - 2
    order = sorted(range(len(shape)), key=lambda axis: shape[axis])  # optax: np.argsort(shape)
    return (order[-1], order[-2]) if shape[order[-2]] >= min_dim_size_to_factor else None


def adafactor_init(param, *, convention="torch", min_dim_size_to_factor=128) -> dict:
    """``step`` 0 and zero ``row_var``/``col_var`` (factored) or ``variance`` (torch's keys; ``R`` and ``C``
    keep their reduced axis with size 1)."""
    xp = get_array_module(param)
    axes = factored_axes(param.shape, convention=convention, min_dim_size_to_factor=min_dim_size_to_factor)
    if axes is None:
        return {"step": 0, "variance": xp.zeros_like(param)}
    row_shape, col_shape = list(param.shape), list(param.shape)
    row_shape[axes[0]], col_shape[axes[1]] = 1, 1
    return {"step": 0, "row_var": xp.zeros(row_shape, param.dtype), "col_var": xp.zeros(col_shape, param.dtype)}


def _begin_step(param, state, *, lr, beta2_decay, eps1, eps2, convention, min_dim_size_to_factor):
    """What both forms of the step compute first (advancing ``state["step"]``): whether the convention
    is optax's, ε₁, 1 − β̂₂, the relative step size α and the factored axes (``None``: unfactored)."""
    xp = get_array_module(param)
    state["step"] += 1
    t = state["step"]
    optax = convention == "optax"
    if eps1 is None:
        eps1 = 1e-30 if optax else float(xp.finfo(param.dtype).eps)
    one_minus_beta2 = t**beta2_decay  # 1 − β̂₂ = t^τ
    rho = lr if optax else min(lr, 1 / t**0.5)  # ρ = min(η, 1/√t) (optax: η)
    alpha = max(eps2, _rms(param)) * rho  # α = max(ε₂, RMS(θ)) ρ, before the decay
    axes = factored_axes(param.shape, convention=convention, min_dim_size_to_factor=min_dim_size_to_factor)
    return optax, eps1, one_minus_beta2, alpha, axes


def _squared(g, eps1, optax):
    """G² (optax: G² + ε₁)."""
    return g * g + eps1 if optax else g * g


def _update_factors(squared, state, axes, one_minus_beta2):
    """Update the row and column statistics in place; return mean_i R."""
    (j, i), row_var, col_var = axes, state["row_var"], state["col_var"]
    row_var += one_minus_beta2 * (squared.mean(axis=j, keepdims=True) - row_var)  # R ← R + (1 − β̂₂)(mean_j G² − R)
    col_var += one_minus_beta2 * (squared.mean(axis=i, keepdims=True) - col_var)  # C ← C + (1 − β̂₂)(mean_i G² − C)
    return row_var.mean(axis=i, keepdims=True)


def adafactor_update(param, grad, state, *, lr, beta2_decay=-0.8, eps1=None, eps2=1e-3, d=1.0, weight_decay=0.0,
                     maximize=False, convention="torch", min_dim_size_to_factor=128) -> None:
    """The NumPy/CuPy reference: one Adafactor step on ``param`` and ``state`` in place."""
    xp = get_array_module(param)
    optax, eps1, one_minus_beta2, alpha, axes = _begin_step(
        param, state, lr=lr, beta2_decay=beta2_decay, eps1=eps1, eps2=eps2, convention=convention,
        min_dim_size_to_factor=min_dim_size_to_factor)
    g = -grad if maximize else grad
    squared = _squared(g, eps1, optax)
    if weight_decay != 0:
        param *= 1 - (weight_decay if optax else lr * weight_decay)  # θ ← (1 − ηλ)θ (optax: (1 − λ)θ)
    if axes is not None:
        row_mean = _update_factors(squared, state, axes, one_minus_beta2)
        denominator = row_mean if optax else xp.maximum(row_mean, eps1)
        var_estimate = state["row_var"] * state["col_var"] / denominator  # V̂ = R C / max(mean_i R, ε₁)
    else:
        variance = state["variance"]
        variance += one_minus_beta2 * (squared - variance)  # V̂ ← V̂ + (1 − β̂₂)(G² − V̂)
        var_estimate = variance
    update = g / xp.sqrt(var_estimate if optax else xp.maximum(var_estimate, eps1 * eps1))  # U = G / max(√V̂, ε₁)
    param -= (alpha / max(1.0, _rms(update) / d)) * update  # θ ← θ − α U / max(1, RMS(U)/d)


# U = G / max(√V̂, ε₁) with V̂ from the factors or the full V̂ updated in a register (not stored here):
# the one source of the formulas, which both kernels below evaluate.
ADAFACTOR_UPDATE = """\
C grad = MAXIMIZE ? -(C)g : (C)g;
#if FACTORED
C var_estimate = (C)row_var * (C)col_var / (OPTAX ? (C)row_mean : optimlab_max((C)row_mean, (C)eps1));
#else
C squared = OPTAX ? grad * grad + (C)eps1 : grad * grad;
C var_estimate = (C)variance + (C)one_minus_beta2 * (squared - (C)variance);
#endif
C update = grad / sqrt(OPTAX ? var_estimate : optimlab_max(var_estimate, (C)(eps1 * eps1)));
"""
_FLAGS = ("MAXIMIZE", "OPTAX", "FACTORED")
_REQUIRES = (("row_var", "FACTORED"), ("col_var", "FACTORED"), ("row_mean", "FACTORED"), ("variance", "!FACTORED"))

# Σ U², for RMS(U): nothing written.
ADAFACTOR_SQUARES_KERNEL = ReductionKernel(
    name="adafactor_squares",
    inputs=("g", "row_var", "col_var", "row_mean", "variance"),
    scalars=("one_minus_beta2", "eps1"),
    flags=_FLAGS,
    requires=_REQUIRES,
    body=ADAFACTOR_UPDATE + "return update * update;\n",
)

ADAFACTOR_KERNEL = ElementwiseKernel(
    name="adafactor",
    inputs=("g", "row_var", "col_var", "row_mean"),
    outputs=("p", "variance"),
    scalars=("one_minus_beta2", "eps1", "decay", "step_size"),
    flags=_FLAGS,
    requires=_REQUIRES,
    body=ADAFACTOR_UPDATE + """\
#if !FACTORED
variance = (T)var_estimate;
#endif
p = (T)((C)p * (C)decay - (C)step_size * update);
""",
)


def adafactor_fused(param, grad, state, *, lr, beta2_decay=-0.8, eps1=None, eps2=1e-3, d=1.0, weight_decay=0.0,
                    maximize=False, convention="torch", min_dim_size_to_factor=128) -> None:
    """The same step with two kernel passes: RMS(θ) and (factored) the row and column means of G² are
    reduced by NumPy/CuPy as in the reference; ``ADAFACTOR_SQUARES_KERNEL`` sums U² (V̂ and U in
    registers, the factors broadcast); the host folds the clipped step size α / max(1, RMS(U)/d);
    ``ADAFACTOR_KERNEL`` writes θ (and the full V̂)."""
    optax, eps1, one_minus_beta2, alpha, axes = _begin_step(
        param, state, lr=lr, beta2_decay=beta2_decay, eps1=eps1, eps2=eps2, convention=convention,
        min_dim_size_to_factor=min_dim_size_to_factor)
    flags = dict(MAXIMIZE=maximize, OPTAX=optax, FACTORED=axes is not None)
    arrays = {"g": grad}
    if axes is not None:  # (±G)² = G²: the sign is the kernels'
        row_mean = _update_factors(_squared(grad, eps1, optax), state, axes, one_minus_beta2)
        arrays.update(row_var=state["row_var"], col_var=state["col_var"], row_mean=row_mean)
    else:
        arrays.update(variance=state["variance"])
    sum_of_squares = ADAFACTOR_SQUARES_KERNEL(flags=flags, **arrays, one_minus_beta2=one_minus_beta2, eps1=eps1)
    rms_update = math.sqrt(sum_of_squares / param.size)
    ADAFACTOR_KERNEL(
        flags=flags, **arrays, p=param, one_minus_beta2=one_minus_beta2, eps1=eps1,
        decay=1 - (weight_decay if optax else lr * weight_decay),
        step_size=alpha / max(1.0, rms_update / d),
    )


def adafactor(param, grad, state, **hyper) -> None:
    """One Adafactor step: the fused kernel for GPU arrays (see ``kernels.use_fused``), else the reference."""
    (adafactor_fused if use_fused(param) else adafactor_update)(param, grad, state, **hyper)


def _epsilons(name: str, value):
    """``(eps1, eps2)``: eps1 ``None`` (the dtype's machine epsilon) or ≥ 0, eps2 ≥ 0."""
    eps1, eps2 = pair(optional(nonnegative))(name, value)
    return eps1, nonnegative(f"{name}[1]", eps2)


class Adafactor(Optimizer):
    """``torch.optim.Adafactor`` with the same arguments, defaults and update, plus ``convention``
    (``"torch"`` or ``"optax"``) and optax's ``min_dim_size_to_factor`` (see the module docstring).
    ``eps[0]=None`` is the dtype's machine epsilon under torch's convention and 1e-30 under optax's."""

    hyperparameters = {
        "lr": learning_rate,
        "beta2_decay": real(None, 0.0),
        "eps": _epsilons,
        "d": real(1.0),
        "weight_decay": nonnegative,
        "maximize": boolean,
        "convention": choice(*CONVENTIONS),
        "min_dim_size_to_factor": integer(1),
    }

    def __init__(self, params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0, *,
                 maximize=False, convention="torch", min_dim_size_to_factor=128):
        super().__init__(params, dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d, weight_decay=weight_decay,
                                      maximize=maximize, convention=convention,
                                      min_dim_size_to_factor=min_dim_size_to_factor))

    def _check_group(self, group):
        if group.get("convention", "torch") == "torch" and group.get("min_dim_size_to_factor", 128) != 128:
            raise ValueError(f"Invalid min_dim_size_to_factor: {group['min_dim_size_to_factor']!r} (torch's "
                             "convention factors the last two dims of every matrix; set convention='optax')")

    def _init_state(self, param, group):
        return adafactor_init(param.data, convention=group["convention"],
                              min_dim_size_to_factor=group["min_dim_size_to_factor"])

    def _update(self, param, grad, state, group):
        eps1, eps2 = group["eps"]
        adafactor(param.data, grad, state, lr=group["lr"], beta2_decay=group["beta2_decay"], eps1=eps1, eps2=eps2,
                  d=group["d"], weight_decay=group["weight_decay"], maximize=group["maximize"],
                  convention=group["convention"], min_dim_size_to_factor=group["min_dim_size_to_factor"])
