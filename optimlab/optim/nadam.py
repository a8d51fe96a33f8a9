r"""NAdam: Adam with Nesterov momentum, in two named forms: Dozat's momentum schedule (torch's
``NAdam``, ``form="dozat"``, the default) and Nesterov-Adam (optax's ``nadam``, ``form="nesterov_adam"``).

.. math::
    g_t &\leftarrow \pm\nabla f(\theta_{t-1}) \quad(+\lambda\theta_{t-1}\ \text{for L2 decay}) \\
    \theta_{t-1} &\leftarrow (1-\eta\lambda)\,\theta_{t-1} \quad(\text{decoupled decay}) \\
    \mu_t &= \beta_1\bigl(1 - \tfrac12\, 0.96^{t\psi}\bigr), \qquad \Pi_t = \prod_{i=1}^{t} \mu_i \\
    m_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2 \\
    d_t &= \sqrt{v_t/(1-\beta_2^t)} + \epsilon \\
    \theta_t &= \theta_{t-1} - \eta\,\frac{1-\mu_t}{1-\Pi_t}\,\frac{g_t}{d_t}
               - \eta\,\frac{\mu_{t+1}}{1-\Pi_t\,\mu_{t+1}}\,\frac{m_t}{d_t}

with learning rate :math:`\eta`, decay rates :math:`\beta_1, \beta_2`, momentum decay :math:`\psi`
(``momentum_decay``) and weight decay :math:`\lambda`. The gradient term is the Nesterov look-ahead:
the step uses the momentum of the *next* step, :math:`\mu_{t+1}`. The state keeps the running
product :math:`\Pi_t` as ``mu_product``, a Python float here (torch keeps a 0-d tensor). Conventions
as torch: ε is added after the square root; the decoupled decay (``decoupled_weight_decay=True``,
"NAdamW") is scaled by the learning rate, as AdamW's.

``form="nesterov_adam"`` is optax's ``nadam`` (``scale_by_adam(nesterov=True)``): a constant
:math:`\beta_1` (no :math:`\mu` schedule, ``momentum_decay`` unused, ``mu_product`` stays 1) and
Adam's bias corrections, one step ahead for the momentum term:

.. math::
    \theta_t = \theta_{t-1} - \eta\,\frac{1-\beta_1}{1-\beta_1^{t}}\,\frac{g_t}{d_t}
               - \eta\,\frac{\beta_1}{1-\beta_1^{t+1}}\,\frac{m_t}{d_t}

Both forms are the same two-term update with different step sizes, so they share one reference and
one kernel; only the host-folded step sizes differ. Reference: Dozat (2016), "Incorporating Nesterov
momentum into Adam", Algorithm 2 (optax drops its extra :math:`\beta_2` factor on :math:`\hat v`, as torch does).
"""

from __future__ import annotations

from optimlab.backend import get_array_module
from optimlab.kernels import ElementwiseKernel, use_fused
from optimlab.optim.base import Optimizer
from optimlab.optim.hyperparams import betas, boolean, choice, learning_rate, nonnegative

FORMS = ("dozat", "nesterov_adam")


def nadam_init(param) -> dict:
    """``step`` 0, ``mu_product`` 1.0 and zero moments (torch's keys)."""
    xp = get_array_module(param)
    return {"step": 0, "mu_product": 1.0, "exp_avg": xp.zeros_like(param), "exp_avg_sq": xp.zeros_like(param)}


def adam_moments(param, grad, state, *, lr, beta1, beta2, weight_decay, decoupled_weight_decay, maximize):
    """Adam's first half, shared by NAdam and RAdam: the weight decay (L2 or decoupled) and the
    moments ``exp_avg``, ``exp_avg_sq`` updated in place; returns the gradient :math:`g_t` used."""
    g = -grad if maximize else grad
    if weight_decay != 0:
        if decoupled_weight_decay:
            param *= 1 - lr * weight_decay  # θ ← (1 − ηλ)θ
        else:
            g = g + weight_decay * param  # g ← g + λθ
    exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
    exp_avg += (1 - beta1) * (g - exp_avg)  # m = β₁m + (1 − β₁)g
    exp_avg_sq *= beta2  # v = β₂v + (1 − β₂)g²
    exp_avg_sq += (1 - beta2) * g * g
    return g


# the same first half in a kernel body: needs flags MAXIMIZE, DECOUPLED and scalars lr, beta1,
# beta2, weight_decay; leaves grad, param (decayed), m and v in compute type
ADAM_MOMENTS_BODY = """
C grad = MAXIMIZE ? -(C)g : (C)g;
C param = (C)p;
if (weight_decay != 0) {
    if (DECOUPLED) param *= (C)(1 - lr * weight_decay);
    else grad += (C)weight_decay * param;
}
C m = (C)exp_avg + (C)(1 - beta1) * (grad - (C)exp_avg);
C v = (C)beta2 * (C)exp_avg_sq + (C)(1 - beta2) * grad * grad;
exp_avg = (T)m;
exp_avg_sq = (T)v;
"""


def nadam_momentum(step, beta1, momentum_decay) -> float:
    """Dozat's momentum schedule :math:`\\mu_t = \\beta_1(1 - \\frac12 0.96^{t\\psi})`."""
    return beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))


def _step_sizes(state, lr, beta1, beta2, momentum_decay, form) -> tuple[float, float, float]:
    """Advance ``step`` (and ``mu_product`` for Dozat's form); return the two step sizes and
    :math:`1-\\beta_2^t`."""
    state["step"] += 1
    t = state["step"]
    if form == "nesterov_adam":
        grad_step_size = lr * (1.0 - beta1) / (1.0 - beta1**t)  # η(1 − β₁)/(1 − β₁ᵗ)
        exp_avg_step_size = lr * beta1 / (1.0 - beta1 ** (t + 1))  # η β₁/(1 − β₁ᵗ⁺¹)
        return grad_step_size, exp_avg_step_size, 1 - beta2**t
    mu, mu_next = nadam_momentum(t, beta1, momentum_decay), nadam_momentum(t + 1, beta1, momentum_decay)
    state["mu_product"] *= mu  # Πₜ = Πₜ₋₁ μₜ
    grad_step_size = lr * (1.0 - mu) / (1.0 - state["mu_product"])  # η(1 − μₜ)/(1 − Πₜ)
    exp_avg_step_size = lr * mu_next / (1.0 - state["mu_product"] * mu_next)  # η μₜ₊₁/(1 − Πₜ μₜ₊₁)
    return grad_step_size, exp_avg_step_size, 1 - beta2**t


def nadam_update(param, grad, state, *, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, maximize=False, form="dozat") -> None:
    """The NumPy/CuPy reference: one NAdam step on ``param`` and ``state`` in place."""
    xp = get_array_module(param)
    grad_step_size, exp_avg_step_size, bias_correction2 = _step_sizes(state, lr, beta1, beta2, momentum_decay, form)
    g = adam_moments(param, grad, state, lr=lr, beta1=beta1, beta2=beta2, weight_decay=weight_decay,
                     decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
    denom = xp.sqrt(state["exp_avg_sq"] / bias_correction2) + eps  # d = √(v/(1 − β₂ᵗ)) + ε
    param -= grad_step_size * (g / denom)  # θ ← θ − η(1 − μₜ)/(1 − Πₜ) · g/d
    param -= exp_avg_step_size * (state["exp_avg"] / denom)  # θ ← θ − η μₜ₊₁/(1 − Πₜ μₜ₊₁) · m/d


NADAM_KERNEL = ElementwiseKernel(
    name="nadam",
    inputs=("g",),
    outputs=("p", "exp_avg", "exp_avg_sq"),
    scalars=("lr", "beta1", "beta2", "eps", "weight_decay", "bias_correction2", "grad_step_size",
             "exp_avg_step_size"),
    flags=("MAXIMIZE", "DECOUPLED"),
    body=ADAM_MOMENTS_BODY + """
C denom = sqrt(v / (C)bias_correction2) + (C)eps;
param -= (C)grad_step_size * (grad / denom);
p = (T)(param - (C)exp_avg_step_size * (m / denom));
""",
)


def nadam_fused(param, grad, state, *, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
                momentum_decay=4e-3, decoupled_weight_decay=False, maximize=False, form="dozat") -> None:
    """The same step through the fused kernel; the momentum schedule and step sizes are folded on
    the host (so both forms run the same kernel)."""
    grad_step_size, exp_avg_step_size, bias_correction2 = _step_sizes(state, lr, beta1, beta2, momentum_decay, form)
    NADAM_KERNEL(
        flags=dict(MAXIMIZE=maximize, DECOUPLED=decoupled_weight_decay),
        g=grad, p=param, exp_avg=state["exp_avg"], exp_avg_sq=state["exp_avg_sq"],
        lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay, bias_correction2=bias_correction2,
        grad_step_size=grad_step_size, exp_avg_step_size=exp_avg_step_size,
    )


def nadam(param, grad, state, **hyper) -> None:
    """One NAdam step: the fused kernel for GPU arrays (see ``kernels.use_fused``), else the reference."""
    (nadam_fused if use_fused(param) else nadam_update)(param, grad, state, **hyper)


class NAdam(Optimizer):
    """``torch.optim.NAdam`` with the same arguments, defaults and update, plus ``form`` (see the
    module docstring): ``"dozat"`` (torch) or ``"nesterov_adam"`` (optax's ``nadam``)."""

    hyperparameters = {
        "lr": learning_rate,
        "betas": betas,
        "eps": nonnegative,
        "weight_decay": nonnegative,
        "momentum_decay": nonnegative,
        "decoupled_weight_decay": boolean,
        "maximize": boolean,
        "form": choice(*FORMS),
    }
    elementwise = True

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, maximize=False, form="dozat"):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize, form=form))

    def _check_group(self, group):
        if group.get("form") == "nesterov_adam" and group.get("momentum_decay", 4e-3) != 4e-3:
            raise ValueError(f"Invalid momentum_decay: {group['momentum_decay']!r} (form='nesterov_adam' has no "
                             "momentum schedule; momentum_decay belongs to form='dozat')")

    def _init_state(self, param, group):
        return nadam_init(param.data)

    def _update(self, param, grad, state, group):
        beta1, beta2 = group["betas"]
        nadam(param.data, grad, state, lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"],
              weight_decay=group["weight_decay"], momentum_decay=group["momentum_decay"],
              decoupled_weight_decay=group["decoupled_weight_decay"], maximize=group["maximize"], form=group["form"])
