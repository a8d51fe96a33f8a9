r"""RMSprop, plain or centered, with optional momentum (torch's ``RMSprop``).

.. math::
    g_t &\leftarrow \pm\nabla f(\theta_{t-1}) + \lambda\theta_{t-1} \\
    v_t &= \alpha v_{t-1} + (1-\alpha) g_t^2 \\
    \bar g_t &= \alpha \bar g_{t-1} + (1-\alpha) g_t \quad(\text{centered}) \\
    \tilde v_t &= \max(v_t - \bar g_t^2,\ 0)\ \text{(centered)}, \text{ else } v_t \\
    b_t &= \mu b_{t-1} + \frac{g_t}{\sqrt{\tilde v_t} + \epsilon}, \qquad
    \theta_t = \theta_{t-1} - \eta\, b_t \quad(\mu > 0) \\
    \theta_t &= \theta_{t-1} - \eta\, \frac{g_t}{\sqrt{\tilde v_t} + \epsilon} \quad(\mu = 0)

with learning rate :math:`\eta`, smoothing constant :math:`\alpha`, momentum :math:`\mu` and weight
decay :math:`\lambda` (an L2 term added to the gradient). Centered RMSprop divides by an estimate of
the gradient's standard deviation instead of its root mean square. Conventions as torch: no bias
correction, ε added after the square root, momentum applied to the already-scaled step. Differences
from torch: the centered variance :math:`v_t - \bar g_t^2` is clamped at 0 before the square root
(in exact arithmetic it is never negative; in floating point it can be, by a few ulp, where torch
returns NaN; the clamp changes nothing anywhere else); ``alpha`` and ``momentum`` must lie in
[0, 1] (torch accepts any non-negative value). References: Tieleman & Hinton (2012), Lecture 6.5 of
"Neural networks for machine learning"; Graves (2013), "Generating sequences with recurrent neural
networks", Section 4, for the centered form.
"""

from __future__ import annotations

from optimlab.backend import get_array_module
from optimlab.kernels import GRAD_PROLOGUE, ElementwiseKernel, use_fused
from optimlab.optim.base import Optimizer
from optimlab.optim.hyperparams import boolean, learning_rate, nonnegative, unit_closed


def rmsprop_init(param, *, momentum=0.0, centered=False) -> dict:
    """``step`` 0 and a zero ``square_avg``; ``momentum_buffer`` if ``momentum > 0`` and
    ``grad_avg`` if centered (torch's keys)."""
    xp = get_array_module(param)
    state = {"step": 0, "square_avg": xp.zeros_like(param)}
    if momentum > 0:
        state["momentum_buffer"] = xp.zeros_like(param)
    if centered:
        state["grad_avg"] = xp.zeros_like(param)
    return state


def rmsprop_update(param, grad, state, *, lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                   centered=False, maximize=False) -> None:
    """The NumPy/CuPy reference: one RMSprop step on ``param`` and ``state`` in place."""
    xp = get_array_module(param)
    state["step"] += 1
    g = -grad if maximize else grad
    if weight_decay != 0:
        g = g + weight_decay * param  # g ← g + λθ
    square_avg = state["square_avg"]
    square_avg *= alpha  # v = αv + (1 − α)g²
    square_avg += (1 - alpha) * g * g
    if centered:
        grad_avg = state["grad_avg"]
        grad_avg += (1 - alpha) * (g - grad_avg)  # ḡ = αḡ + (1 − α)g
        avg = xp.sqrt(xp.maximum(square_avg - grad_avg * grad_avg, 0))  # √max(v − ḡ², 0)
    else:
        avg = xp.sqrt(square_avg)  # √v
    avg += eps  # denominator √ṽ + ε
    if momentum > 0:
        buf = state["momentum_buffer"]
        buf *= momentum  # b = μb + g/(√ṽ + ε)
        buf += g / avg
        param -= lr * buf  # θ ← θ − ηb
    else:
        param -= lr * (g / avg)  # θ ← θ − η g/(√ṽ + ε)


RMSPROP_KERNEL = ElementwiseKernel(
    name="rmsprop",
    inputs=("g",),
    outputs=("p", "square_avg", "grad_avg", "momentum_buffer"),
    scalars=("lr", "alpha", "eps", "weight_decay", "momentum"),
    flags=("MAXIMIZE", "CENTERED", "MOMENTUM"),
    requires=(("grad_avg", "CENTERED"), ("momentum_buffer", "MOMENTUM")),
    body=GRAD_PROLOGUE + """\
C v = (C)alpha * (C)square_avg + (C)(1 - alpha) * grad * grad;
square_avg = (T)v;
#if CENTERED
C g_avg = (C)grad_avg + (C)(1 - alpha) * (grad - (C)grad_avg);
grad_avg = (T)g_avg;
C avg = sqrt(optimlab_max(v - g_avg * g_avg, (C)0)) + (C)eps;
#else
C avg = sqrt(v) + (C)eps;
#endif
#if MOMENTUM
C buf = (C)momentum * (C)momentum_buffer + grad / avg;
momentum_buffer = (T)buf;
p = (T)((C)p - (C)lr * buf);
#else
p = (T)((C)p - (C)lr * (grad / avg));
#endif
""",
)


def rmsprop_fused(param, grad, state, *, lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                  centered=False, maximize=False) -> None:
    """The same step through the fused kernel."""
    state["step"] += 1
    RMSPROP_KERNEL(
        flags=dict(MAXIMIZE=maximize, CENTERED=centered, MOMENTUM=momentum > 0),
        g=grad, p=param, square_avg=state["square_avg"], grad_avg=state.get("grad_avg"),
        momentum_buffer=state.get("momentum_buffer"),
        lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
    )


def rmsprop(param, grad, state, **hyper) -> None:
    """One RMSprop step: the fused kernel for GPU arrays (see ``kernels.use_fused``), else the reference."""
    (rmsprop_fused if use_fused(param) else rmsprop_update)(param, grad, state, **hyper)


class RMSprop(Optimizer):
    """``torch.optim.RMSprop`` with the same arguments, defaults and update (see the module docstring).

    ``alpha`` and ``momentum`` are checked to lie in [0, 1]; ``maximize`` is keyword-only.
    """

    hyperparameters = {
        "lr": learning_rate,
        "alpha": unit_closed,
        "eps": nonnegative,
        "weight_decay": nonnegative,
        "momentum": unit_closed,
        "centered": boolean,
        "maximize": boolean,
    }
    elementwise = True
    lazy_state = ("momentum_buffer", "grad_avg")

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False, *,
                 maximize=False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered, maximize=maximize))

    def _init_state(self, param, group):
        return rmsprop_init(param.data, momentum=group["momentum"], centered=group["centered"])

    def _update(self, param, grad, state, group):
        for key, wanted in (("momentum_buffer", group["momentum"] > 0), ("grad_avg", group["centered"])):
            if wanted and key not in state:
                state[key] = get_array_module(param.data).zeros_like(param.data)
        rmsprop(param.data, grad, state, lr=group["lr"], alpha=group["alpha"], eps=group["eps"],
                weight_decay=group["weight_decay"], momentum=group["momentum"], centered=group["centered"],
                maximize=group["maximize"])
