r"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay (torch's SGD).

.. math::
    g_t &\leftarrow \pm\nabla f(\theta_{t-1}) + \lambda\theta_{t-1} \\
    b_t &= \begin{cases} g_t & t = 1 \\ \mu b_{t-1} + (1-\tau) g_t & t > 1 \end{cases} \\
    d_t &= \begin{cases} g_t + \mu b_t & \text{nesterov} \\ b_t & \text{otherwise} \end{cases} \\
    \theta_t &= \theta_{t-1} - \eta\, d_t

with learning rate :math:`\eta`, momentum :math:`\mu`, dampening :math:`\tau`, weight decay
:math:`\lambda` (an L2 term added to the gradient). As in PyTorch the first step sets the buffer to the
gradient itself, without dampening. References: Polyak (1964) for heavy-ball momentum; Sutskever et
al. (2013) for this form of Nesterov momentum.
"""

from __future__ import annotations

from optimlab.backend import get_array_module
from optimlab.kernels import ElementwiseKernel, use_fused
from optimlab.optim.base import Optimizer
from optimlab.optim.flat import scratch
from optimlab.optim.hyperparams import boolean, learning_rate, nonnegative, unit_closed


def sgd_init(param) -> dict:
    """SGD's state starts empty; ``momentum_buffer`` appears on the first step (as in torch)."""
    return {}


def sgd_update(param, grad, state, *, lr, momentum=0.0, dampening=0.0, weight_decay=0.0,
               nesterov=False, maximize=False) -> None:
    """The NumPy/CuPy reference: one SGD step on ``param`` and ``state`` in place. Every temporary
    is a ``scratch`` array (``out=``), so a flat buffer's step allocates nothing after the first."""
    xp = get_array_module(param)
    work = scratch(state, "work", param)
    d_p = xp.negative(grad, out=scratch(state, "grad", param)) if maximize else grad
    if weight_decay != 0:
        decay = xp.multiply(weight_decay, param, out=work)
        d_p = xp.add(d_p, decay, out=scratch(state, "grad", param))  # g ← g + λθ
    if momentum != 0:
        buf = state.get("momentum_buffer")
        if buf is None:
            buf = state["momentum_buffer"] = xp.array(d_p, copy=True)  # b₁ = g₁
        else:
            buf *= momentum  # b ← μb + (1 − τ)g
            buf += xp.multiply(1 - dampening, d_p, out=work)
        if nesterov:
            d_p = xp.add(d_p, xp.multiply(momentum, buf, out=work), out=scratch(state, "grad", param))  # d = g + μb
        else:
            d_p = buf  # d = b
    param -= xp.multiply(lr, d_p, out=work)  # θ ← θ − η d


SGD_KERNEL = ElementwiseKernel(
    name="sgd",
    inputs=("g",),
    outputs=("p", "momentum_buffer"),
    scalars=("lr", "momentum", "dampening", "weight_decay"),
    flags=("MAXIMIZE", "MOMENTUM", "FIRST_STEP", "NESTEROV"),
    requires=(("momentum_buffer", "MOMENTUM"),),
    body="""
#if MAXIMIZE
C d_p = -(C)g;
#else
C d_p = (C)g;
#endif
if (weight_decay != 0) d_p += (C)weight_decay * (C)p;
#if MOMENTUM
#if FIRST_STEP
momentum_buffer = (T)d_p;
#else
momentum_buffer = (T)((C)momentum * (C)momentum_buffer + (C)(1 - dampening) * d_p);
#endif
#if NESTEROV
d_p = d_p + (C)momentum * (C)momentum_buffer;
#else
d_p = (C)momentum_buffer;
#endif
#endif
p = (T)((C)p - (C)lr * d_p);
""",
)


def sgd_fused(param, grad, state, *, lr, momentum=0.0, dampening=0.0, weight_decay=0.0,
              nesterov=False, maximize=False) -> None:
    """The same step through the fused kernel (CuPy on the GPU, compiled C++ on the CPU)."""
    first = momentum != 0 and "momentum_buffer" not in state
    if first:
        state["momentum_buffer"] = param.copy()
    SGD_KERNEL(
        flags=dict(MAXIMIZE=maximize, MOMENTUM=momentum != 0, FIRST_STEP=first, NESTEROV=nesterov),
        g=grad, p=param, momentum_buffer=state.get("momentum_buffer"),
        lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
    )


def sgd(param, grad, state, **hyper) -> None:
    """One SGD step: the fused kernel for GPU arrays (see ``kernels.use_fused``), else the reference."""
    (sgd_fused if use_fused(param) else sgd_update)(param, grad, state, **hyper)


class SGD(Optimizer):
    """``torch.optim.SGD`` with the same arguments, defaults and update (see the module docstring).

    Raises ``ValueError`` for nesterov without momentum or with dampening, as torch does.
    """

    hyperparameters = {
        "lr": learning_rate,
        "momentum": unit_closed,
        "dampening": unit_closed,
        "weight_decay": nonnegative,
        "nesterov": boolean,
        "maximize": boolean,
    }
    lazy_state = ("momentum_buffer",)
    elementwise = True

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, *, maximize=False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov, maximize=maximize))

    def _check_group(self, group: dict) -> None:
        if group.get("nesterov") and (group.get("momentum", 0) <= 0 or group.get("dampening", 0) != 0):
            raise ValueError(
                f"Invalid nesterov=True with momentum={group.get('momentum')!r} and "
                f"dampening={group.get('dampening')!r}: Nesterov momentum requires a momentum > 0 and zero dampening"
            )

    def _init_state(self, param, group):
        return sgd_init(param.data)

    def _update(self, param, grad, state, group):
        sgd(param.data, grad, state, lr=group["lr"], momentum=group["momentum"], dampening=group["dampening"],
            weight_decay=group["weight_decay"], nesterov=group["nesterov"], maximize=group["maximize"])
