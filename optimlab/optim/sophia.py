r"""SophiaG: a clipped, diagonally preconditioned sign-momentum method with a Gauss–Newton–Bartlett
estimate of the Hessian diagonal (Liu et al., 2023).

.. math::
    \theta_{t-1} &\leftarrow (1-\eta\lambda)\,\theta_{t-1} \\
    m_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t \\
    \theta_t &= \theta_{t-1} - \eta\,\operatorname{sign}(m_t)\,
               \min\!\Big(\frac{|m_t|}{\rho\, B\, h_t + 10^{-15}},\ 1\Big)

and, every :math:`k` steps (the estimator's cadence, ``hessian_interval``), the Hessian diagonal
estimate is refreshed by ``update_hessian()``:

.. math::
    h_t = \beta_2 h_{t-k} + (1-\beta_2)\,\hat g \odot \hat g

where :math:`\hat g` is the gradient of the loss on labels *sampled from the model's own output
distribution* (the Gauss–Newton–Bartlett estimator: for a loss that is a negative log-likelihood,
:math:`B\,\mathbb E[\hat g \odot \hat g]` is the diagonal of the Gauss–Newton matrix;
``gnb_sample_labels`` draws the labels for a softmax output). :math:`B` is the number of examples
(tokens) per batch, the ``bs`` argument of ``step``; the factor :math:`B` is applied in the step, not
in :math:`h`, as in the reference. Without any Hessian update :math:`h = 0` and the step is
:math:`\eta\,\operatorname{sign}(m_t)`.

Conventions as the authors' reference implementation (``SophiaG`` in the ``sophia-opt`` package):
same arguments and defaults (``lr=1e-4, betas=(0.965, 0.99), rho=0.04, weight_decay=0.1``), decoupled
decay scaled by the learning rate, :math:`10^{-15}` added to the denominator, state keys ``step``,
``exp_avg``, ``hessian``. The step counter is an int (the reference keeps a float tensor). Reference:
Liu, Li, Hall, Liang, Ma, "Sophia: A Scalable Stochastic Second-order Optimizer for Language Model
Pre-training" (ICLR 2024).
"""

from __future__ import annotations

from optimlab.backend import get_array_module
from optimlab.kernels import ElementwiseKernel, use_fused
from optimlab.optim.base import Optimizer
from optimlab.optim.hyperparams import betas, boolean, integer, learning_rate, nonnegative

DENOMINATOR_FLOOR = 1e-15


def sophia_init(param) -> dict:
    """``step`` 0, zero momentum and zero Hessian estimate (the reference's key names)."""
    xp = get_array_module(param)
    return {"step": 0, "exp_avg": xp.zeros_like(param), "hessian": xp.zeros_like(param)}


def sophia_update(param, grad, state, *, lr, beta1=0.965, rho=0.04, weight_decay=0.1, bs=5120,
                  maximize=False) -> None:
    """The NumPy/CuPy reference: one SophiaG step on ``param`` and ``state`` in place."""
    xp = get_array_module(param)
    state["step"] += 1
    g = -grad if maximize else grad
    param *= 1 - lr * weight_decay  # θ ← (1 − ηλ)θ
    exp_avg = state["exp_avg"]
    exp_avg += (1 - beta1) * (g - exp_avg)  # m = β₁m + (1 − β₁)g
    ratio = xp.minimum(xp.abs(exp_avg) / (rho * bs * state["hessian"] + DENOMINATOR_FLOOR), 1.0)  # min(|m|/(ρBh + ε), 1)
    param -= lr * xp.sign(exp_avg) * ratio  # θ ← θ − η sign(m) ratio


def sophia_hessian_update(hessian, estimator_grad, *, beta2=0.99) -> None:
    """The estimator's EMA, in place: ``h = β₂h + (1 − β₂) ĝ ⊙ ĝ`` (``ĝ`` from sampled labels)."""
    hessian *= beta2  # h = β₂h + (1 − β₂)ĝ²
    hessian += (1 - beta2) * estimator_grad * estimator_grad


SOPHIA_KERNEL = ElementwiseKernel(
    name="sophia",
    inputs=("g", "hessian"),
    outputs=("p", "exp_avg"),
    scalars=("lr", "beta1", "weight_decay", "rho_bs", "floor"),
    flags=("MAXIMIZE",),
    body="""
#if MAXIMIZE
C grad = -(C)g;
#else
C grad = (C)g;
#endif
C param = (C)p * (C)(1 - lr * weight_decay);
C m = (C)exp_avg + (C)(1 - beta1) * (grad - (C)exp_avg);
exp_avg = (T)m;
C ratio = optimlab_min(fabs(m) / ((C)rho_bs * (C)hessian + (C)floor), (C)1);  // NaN stays NaN, as xp.minimum
C sign_m = (C)((m > 0) - (m < 0));
p = (T)(param - (C)lr * sign_m * ratio);
""",
)


def sophia_fused(param, grad, state, *, lr, beta1=0.965, rho=0.04, weight_decay=0.1, bs=5120,
                 maximize=False) -> None:
    """The same step through the fused kernel; ``ρB`` is folded on the host."""
    state["step"] += 1
    SOPHIA_KERNEL(
        flags=dict(MAXIMIZE=maximize),
        g=grad, hessian=state["hessian"], p=param, exp_avg=state["exp_avg"],
        lr=lr, beta1=beta1, weight_decay=weight_decay, rho_bs=rho * bs, floor=DENOMINATOR_FLOOR,
    )


def sophia(param, grad, state, **hyper) -> None:
    """One SophiaG step: the fused kernel for GPU arrays (see ``kernels.use_fused``), else the reference."""
    (sophia_fused if use_fused(param) else sophia_update)(param, grad, state, **hyper)


def gnb_sample_labels(logits, rng):
    """Labels drawn from ``softmax(logits)`` along the last axis, for the Gauss–Newton–Bartlett
    estimator: the gradient of the cross-entropy on these labels is ``ĝ``. ``rng`` is a NumPy
    ``Generator`` (or ``cupy.random`` generator for GPU arrays)."""
    xp = get_array_module(logits)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    probs = xp.exp(shifted)
    cumulative = xp.cumsum(probs / probs.sum(axis=-1, keepdims=True), axis=-1)
    draws = rng.random(logits.shape[:-1] + (1,))
    labels = (cumulative < draws).sum(axis=-1)  # inverse-CDF sampling
    return xp.minimum(labels, logits.shape[-1] - 1)


class SophiaG(Optimizer):
    """SophiaG as the authors' reference (see the module docstring).

    Training loop (as the reference's): ``step(bs=B)`` each iteration; when ``hessian_due()``
    (every ``hessian_interval`` steps), compute the gradient of the loss on labels sampled from the
    model (``gnb_sample_labels``), put it in ``param.grad`` and call ``update_hessian()``.
    """

    hyperparameters = {
        "lr": learning_rate,
        "betas": betas,
        "rho": nonnegative,
        "weight_decay": nonnegative,
        "maximize": boolean,
    }
    elementwise = True

    def __init__(self, params, lr=1e-4, betas=(0.965, 0.99), rho=0.04, weight_decay=1e-1, *, maximize=False,
                 hessian_interval=10):
        self.hessian_interval = integer(1)("hessian_interval", hessian_interval)
        self._bs = 5120
        super().__init__(params, dict(lr=lr, betas=betas, rho=rho, weight_decay=weight_decay, maximize=maximize))

    def step(self, closure=None, bs=5120):
        """One SophiaG step; ``bs`` is the batch size in examples (tokens), ``B`` in the formula."""
        self._bs = nonnegative("bs", bs)
        return super().step(closure)

    def hessian_due(self) -> bool:
        """Called after ``step()``: True after every ``hessian_interval``-th step, where the
        reference refreshes ``h`` (its ``iter_num % k == k − 1`` with ``iter_num`` counted from 0)."""
        return self.step_count > 0 and self.step_count % self.hessian_interval == 0

    def update_hessian(self) -> None:
        """``h ← β₂h + (1 − β₂) ĝ²`` for every parameter, with ``ĝ = param.grad`` (the gradient of the
        loss on sampled labels); creates the state of parameters that have none yet."""
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                state = self.state.get(param)
                if state is None:
                    state = self.state[param] = self._init_state(param, group)
                sophia_hessian_update(state["hessian"], param.grad, beta2=group["betas"][1])

    def _init_state(self, param, group):
        return sophia_init(param.data)

    def _update(self, param, grad, state, group):
        sophia(param.data, grad, state, lr=group["lr"], beta1=group["betas"][0], rho=group["rho"],
               weight_decay=group["weight_decay"], bs=self._bs, maximize=group["maximize"])
