r"""Lion: the sign of an interpolated momentum (Chen et al., 2023), as lion-pytorch implements it.

.. math::
    \theta_{t-1} &\leftarrow (1-\eta\lambda)\,\theta_{t-1} \\
    c_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t \\
    \theta_t &= \theta_{t-1} - \eta\,\operatorname{sign}(c_t) \\
    m_t &= \beta_2 m_{t-1} + (1-\beta_2) g_t

with learning rate :math:`\eta`, interpolation :math:`\beta_1`, momentum :math:`\beta_2` and weight
decay :math:`\lambda`. Every coordinate moves by exactly :math:`\eta` (or 0 where :math:`c_t = 0`),
so Lion wants a learning rate 3-10x smaller than AdamW's and a larger :math:`\lambda`.

Conventions, both as lion-pytorch: by default weight decay is decoupled and scaled by the learning
rate, :math:`1-\eta_t\lambda`, as in the paper's Algorithm 2; with ``decoupled_weight_decay=True`` it
is *fully* decoupled, :math:`1-(\eta_t/\eta_0)\lambda` with :math:`\eta_0` the constructor's learning
rate: only the schedule's multiplier scales it, as in Loshchilov & Hutter's AdamW (so λ keeps its
meaning when the base learning rate changes). There is no bias correction (the sign does not care about
scale) and the state is the single ``exp_avg`` :math:`m`, half of Adam's. Reference: Chen et al.,
"Symbolic Discovery of Optimization Algorithms" (2023).
"""

from __future__ import annotations

from optimlab.backend import get_array_module
from optimlab.kernels import ElementwiseKernel, use_fused
from optimlab.optim.base import Optimizer
from optimlab.optim.hyperparams import betas, boolean, learning_rate, nonnegative


def lion_init(param) -> dict:
    """The momentum ``exp_avg``, zero (lion-pytorch's key name)."""
    return {"exp_avg": get_array_module(param).zeros_like(param)}


def lion_update(param, grad, state, *, lr, beta1=0.9, beta2=0.99, weight_decay=0.0, initial_lr=None) -> None:
    """The NumPy/CuPy reference: one Lion step on ``param`` and ``state`` in place; ``initial_lr``
    (η₀) makes the decay fully decoupled, λ/η₀ in place of λ."""
    xp = get_array_module(param)
    exp_avg = state["exp_avg"]
    param *= 1 - lr * _decay(weight_decay, initial_lr)  # θ ← (1 − ηλ)θ, or (1 − (η/η₀)λ)θ
    direction = xp.sign(beta1 * exp_avg + (1 - beta1) * grad)  # sign(c), c = β₁m + (1 − β₁)g
    param -= lr * direction  # θ ← θ − η sign(c)
    exp_avg *= beta2  # m ← β₂m + (1 − β₂)g
    exp_avg += (1 - beta2) * grad


def _decay(weight_decay, initial_lr) -> float:
    """λ for the lr-scaled decay; λ/η₀ for the fully decoupled one (``initial_lr`` η₀ given)."""
    return weight_decay if initial_lr is None else weight_decay / initial_lr


LION_KERNEL = ElementwiseKernel(
    name="lion",
    inputs=("g",),
    outputs=("p", "exp_avg"),
    scalars=("lr", "beta1", "beta2", "weight_decay"),
    body="""
C param = (C)p * (C)(1 - lr * weight_decay);
C c = (C)beta1 * (C)exp_avg + (C)(1 - beta1) * (C)g;
C direction = c > 0 ? (C)1 : (c < 0 ? (C)-1 : c);
p = (T)(param - (C)lr * direction);
exp_avg = (T)((C)beta2 * (C)exp_avg + (C)(1 - beta2) * (C)g);
""",
)


def lion_fused(param, grad, state, *, lr, beta1=0.9, beta2=0.99, weight_decay=0.0, initial_lr=None) -> None:
    """The same step through the fused kernel (CuPy on the GPU, compiled C++ on the CPU); the fully
    decoupled decay λ/η₀ is folded on the host."""
    LION_KERNEL(g=grad, p=param, exp_avg=state["exp_avg"], lr=lr, beta1=beta1, beta2=beta2,
                weight_decay=_decay(weight_decay, initial_lr))


def lion(param, grad, state, **hyper) -> None:
    """One Lion step: the fused kernel for GPU arrays (see ``kernels.use_fused``), else the reference."""
    (lion_fused if use_fused(param) else lion_update)(param, grad, state, **hyper)


class Lion(Optimizer):
    """``lion_pytorch.Lion`` with the same arguments, defaults and update (see the module docstring).
    With ``decoupled_weight_decay=True`` the constructor's ``lr`` is η₀ (a schedule's value at step
    0) for every group, as lion-pytorch's ``_init_lr``; it must then be positive."""

    hyperparameters = {"lr": learning_rate, "betas": betas, "weight_decay": nonnegative}
    elementwise = True

    def __init__(self, params, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0, *, decoupled_weight_decay=False):
        self.decoupled_weight_decay = boolean("decoupled_weight_decay", decoupled_weight_decay)
        initial_lr = learning_rate("lr", lr)
        initial_lr = initial_lr(0) if callable(initial_lr) else initial_lr
        if self.decoupled_weight_decay and not initial_lr > 0:
            raise ValueError(f"Invalid lr: {initial_lr!r} (decoupled_weight_decay=True divides the decay by the "
                             "initial lr, which must be > 0)")
        self.initial_lr = initial_lr if self.decoupled_weight_decay else None
        super().__init__(params, dict(lr=lr, betas=betas, weight_decay=weight_decay))

    def _init_state(self, param, group):
        return lion_init(param.data)

    def _update(self, param, grad, state, group):
        beta1, beta2 = group["betas"]
        lion(param.data, grad, state, lr=group["lr"], beta1=beta1, beta2=beta2, weight_decay=group["weight_decay"],
             initial_lr=self.initial_lr)
