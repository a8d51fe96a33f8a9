r"""Resilient backpropagation (torch's ``Rprop``): a per-element step size that grows while the
gradient keeps its sign and shrinks when it flips; only the sign of the gradient is used.

.. math::
    g_t &\leftarrow \pm\nabla f(\theta_{t-1}), \qquad s_t = \operatorname{sign}(g_t\, g_{t-1}) \\
    \Delta_t &= \operatorname{clip}\big(\Delta_{t-1}\cdot\{\eta_+ \text{ if } s_t>0;\ \eta_-
               \text{ if } s_t<0;\ 1 \text{ otherwise}\},\ \Delta_{\min},\ \Delta_{\max}\big) \\
    g_t &\leftarrow 0 \quad\text{where } s_t < 0 \\
    \theta_t &= \theta_{t-1} - \Delta_t \operatorname{sign}(g_t)

with :math:`\Delta_0 = \eta` (the learning rate), :math:`g_0 = 0`, factors ``etas`` =
:math:`(\eta_-, \eta_+)` and bounds ``step_sizes`` = :math:`(\Delta_{\min}, \Delta_{\max})`. Setting
:math:`g_t` to zero after a sign change skips the step and makes the next comparison neutral.
Conventions as torch: this is the Rprop variant without weight backtracking (Riedmiller & Braun's
"Rprop−"); the state keeps the (zeroed) gradient as ``prev`` and the step sizes as ``step_size``.
Reference: Riedmiller & Braun (1993), "A direct adaptive method for faster backpropagation learning:
the RPROP algorithm".
"""

from __future__ import annotations

from optimlab.backend import get_array_module
from optimlab.kernels import ElementwiseKernel, use_fused
from optimlab.optim.base import Optimizer
from optimlab.optim.hyperparams import boolean, learning_rate, nonnegative, pair, real


def rprop_init(param, *, lr) -> dict:
    """``step`` 0, a zero previous gradient ``prev`` and step sizes ``step_size`` = lr (torch's keys)."""
    xp = get_array_module(param)
    return {"step": 0, "prev": xp.zeros_like(param), "step_size": xp.full_like(param, lr)}


def rprop_update(param, grad, state, *, etaminus=0.5, etaplus=1.2, step_size_min=1e-6, step_size_max=50.0,
                 maximize=False) -> None:
    """The NumPy/CuPy reference: one Rprop step on ``param`` and ``state`` in place."""
    xp = get_array_module(param)
    state["step"] += 1
    prev, step_size = state["prev"], state["step_size"]
    g = xp.array(-grad if maximize else grad, dtype=param.dtype)  # a copy: zeroed below
    factor = xp.asarray(xp.sign(g * prev))  # s = sign(g_t g_{t−1})
    flipped = factor < 0
    factor[factor > 0] = etaplus  # η₊ where the sign is kept,
    factor[flipped] = etaminus  # η₋ where it flipped,
    factor[factor == 0] = 1  # 1 where either gradient is zero
    step_size *= factor  # Δ ← clip(Δ · factor, Δmin, Δmax)
    xp.clip(step_size, step_size_min, step_size_max, out=step_size)
    g[flipped] = 0  # g ← 0 after a sign change
    param -= xp.sign(g) * step_size  # θ ← θ − Δ sign(g)
    prev[...] = g  # g_{t−1} ← g


RPROP_KERNEL = ElementwiseKernel(
    name="rprop",
    inputs=("g",),
    outputs=("p", "prev", "step_size"),
    scalars=("etaminus", "etaplus", "step_size_min", "step_size_max"),
    flags=("MAXIMIZE",),
    body="""
#if MAXIMIZE
C grad = -(C)g;
#else
C grad = (C)g;
#endif
C product = grad * (C)prev;
C factor = product > 0 ? (C)etaplus : (product < 0 ? (C)etaminus : (product == 0 ? (C)1 : product));
C size = (C)step_size * factor;
size = size < (C)step_size_min ? (C)step_size_min : (size > (C)step_size_max ? (C)step_size_max : size);
step_size = (T)size;
if (product < 0) grad = 0;
C direction = grad > 0 ? (C)1 : (grad < 0 ? (C)-1 : grad);
p = (T)((C)p - direction * (C)step_size);
prev = (T)grad;
""",
)


def rprop_fused(param, grad, state, *, etaminus=0.5, etaplus=1.2, step_size_min=1e-6, step_size_max=50.0,
                maximize=False) -> None:
    """The same step through the fused kernel."""
    state["step"] += 1
    RPROP_KERNEL(
        flags=dict(MAXIMIZE=maximize),
        g=grad, p=param, prev=state["prev"], step_size=state["step_size"],
        etaminus=etaminus, etaplus=etaplus, step_size_min=step_size_min, step_size_max=step_size_max,
    )


def rprop(param, grad, state, **hyper) -> None:
    """One Rprop step: the fused kernel for GPU arrays (see ``kernels.use_fused``), else the reference."""
    (rprop_fused if use_fused(param) else rprop_update)(param, grad, state, **hyper)


class Rprop(Optimizer):
    """``torch.optim.Rprop`` with the same arguments, defaults and update (see the module docstring).

    Validation beyond torch's: ``step_sizes`` must be non-negative with min ≤ max.
    """

    hyperparameters = {
        "lr": learning_rate,
        "etas": pair(real(0.0, low_open=True)),
        "step_sizes": pair(nonnegative),
        "maximize": boolean,
    }
    elementwise = True

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, maximize=False):
        super().__init__(params, dict(lr=lr, etas=etas, step_sizes=step_sizes, maximize=maximize))

    def _check_group(self, group: dict) -> None:
        etas, step_sizes = group.get("etas"), group.get("step_sizes")
        if etas is not None and not etas[0] < 1 < etas[1]:
            raise ValueError(f"Invalid etas: {etas!r} (must satisfy 0 < etaminus < 1 < etaplus)")
        if step_sizes is not None and step_sizes[0] > step_sizes[1]:
            raise ValueError(f"Invalid step_sizes: {step_sizes!r} (the minimum exceeds the maximum)")

    def _init_state(self, param, group):
        return rprop_init(param.data, lr=group["lr"])

    def _update(self, param, grad, state, group):
        (etaminus, etaplus), (step_size_min, step_size_max) = group["etas"], group["step_sizes"]
        rprop(param.data, grad, state, etaminus=etaminus, etaplus=etaplus,
              step_size_min=step_size_min, step_size_max=step_size_max, maximize=group["maximize"])
