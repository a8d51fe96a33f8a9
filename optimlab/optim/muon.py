r"""Muon (torch's ``Muon``): momentum whose update matrix is orthogonalised by a Newton–Schulz
iteration, for the 2-D weight matrices of hidden layers.

.. math::
    B_t &= \mu B_{t-1} + (1-\mu)\, g_t, \qquad
    \tilde B_t = \begin{cases} (1-\mu)\, g_t + \mu B_t & \text{nesterov} \\ B_t & \text{otherwise} \end{cases} \\
    X_0 &= \tilde B_t / \max(\|\tilde B_t\|_F,\ \epsilon), \qquad
    X_{k+1} = a X_k + (b A_k + c A_k^2) X_k, \quad A_k = X_k X_k^\top, \qquad O_t = X_K \\
    \theta_t &= (1-\eta\lambda)\,\theta_{t-1} - \eta'\, O_t, \qquad
    \eta' = \begin{cases} \eta\sqrt{\max(1,\ n/m)} & \texttt{adjust\_lr\_fn} = \text{"original"} \\
                          0.2\,\eta\sqrt{\max(n, m)} & \text{"match\_rms\_adamw"} \end{cases}

for a parameter of shape :math:`(n, m)` (the iteration runs on the transpose when :math:`n > m`, so
:math:`A_k` is the smaller Gram matrix). The quintic :math:`p(\sigma) = a\sigma + b\sigma^3 + c\sigma^5`
is applied to every singular value: dividing by the Frobenius norm puts them in :math:`[0, 1]`, and
:math:`K` (``ns_steps``) iterations of Jordan's coefficients :math:`(a, b, c)` = (3.4445, −4.7750,
2.0315) push them all to roughly :math:`[0.7, 1.2]`, i.e. :math:`O_t \approx UV^\top` for
:math:`\tilde B_t = U\Sigma V^\top`. :math:`\lambda` is decoupled weight decay scaled by the
unadjusted :math:`\eta`.

Conventions as torch's code: the momentum is an exponential average (``lerp``; torch's docstring box
and Jordan's first version write :math:`B_t = \mu B_{t-1} + g_t`); the iteration runs in bfloat16
(``ns_dtype="bfloat16"``, emulated exactly here: float32 arithmetic with every value torch stores in
bfloat16 rounded to bfloat16, round-to-nearest-even). ``ns_dtype=None`` (our addition) runs it in the
parameter's own dtype, the exact-arithmetic form of the same iteration. Only 2-D parameters are
accepted: use AdamW for biases, gains and embeddings. References: Jordan et al. (2024), "Muon: an
optimizer for hidden layers in neural networks"; Liu et al. (2025), "Muon is scalable for LLM
training" (the "match_rms_adamw" scaling).
"""

from __future__ import annotations

import math
import numbers

from optimlab.backend import get_array_module
from optimlab.kernels import ElementwiseKernel, use_fused
from optimlab.optim.base import Optimizer
from optimlab.optim.hyperparams import boolean, choice, integer, learning_rate, nonnegative, unit_closed

NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)


def round_to_bfloat16(x):
    """``x`` (float32) rounded to the nearest bfloat16 value (ties to even), still stored as float32."""
    xp = get_array_module(x)
    bits = xp.ascontiguousarray(x, dtype=xp.float32).view(xp.uint32)
    rounded = (bits + (0x7FFF + ((bits >> 16) & 1))) & 0xFFFF0000  # keep the top 16 bits, rounded
    return rounded.astype(xp.uint32).view(xp.float32)


def newton_schulz(matrix, *, coefficients=NS_COEFFICIENTS, steps=5, eps=1e-7, ns_dtype="bfloat16"):
    """``K`` quintic Newton–Schulz iterations towards the orthogonal factor ``UVᵀ`` of ``matrix``.

    With ``ns_dtype="bfloat16"`` every intermediate torch keeps in bfloat16 is rounded to it (the
    products themselves accumulate in float32, as torch's CPU and GPU matmuls do)."""
    xp = get_array_module(matrix)
    a, b, c = coefficients
    bfloat16 = ns_dtype == "bfloat16"
    rounded = round_to_bfloat16 if bfloat16 else (lambda array: array)
    x = rounded(matrix.astype(xp.float32)) if bfloat16 else matrix.copy()
    tall = x.shape[0] > x.shape[1]
    if tall:
        x = x.T
    norm = rounded(xp.asarray(xp.linalg.norm(x), dtype=x.dtype))
    x = rounded(x / rounded(xp.maximum(norm, eps)))  # X₀ = B̃/max(‖B̃‖_F, ε)
    for _ in range(steps):
        gram = rounded(x @ x.T)  # A = XXᵀ
        gram_update = rounded(b * gram + c * (gram @ gram))  # bA + cA²
        x = rounded(a * x + gram_update @ x)  # X ← aX + (bA + cA²)X
    return x.T if tall else x


def adjusted_lr(lr, adjust_lr_fn, shape) -> float:
    """η' for a parameter of ``shape`` = (n, m): η√max(1, n/m) ("original", the default) or
    0.2η√max(n, m) ("match_rms_adamw")."""
    rows, cols = shape[:2]
    if adjust_lr_fn == "match_rms_adamw":
        return lr * 0.2 * math.sqrt(max(rows, cols))
    return lr * math.sqrt(max(1, rows / cols))


def muon_init(param) -> dict:
    """A zero ``momentum_buffer`` (torch's key; Muon keeps no step counter)."""
    return {"momentum_buffer": get_array_module(param).zeros_like(param)}


def _apply(param, orthogonal, *, lr, weight_decay, adjust_lr_fn) -> None:
    param *= 1 - lr * weight_decay  # θ ← (1 − ηλ)θ
    param -= adjusted_lr(lr, adjust_lr_fn, param.shape) * orthogonal.astype(param.dtype)  # θ ← θ − η'O


def muon_update(param, grad, state, *, lr, weight_decay=0.1, momentum=0.95, nesterov=True,
                ns_coefficients=NS_COEFFICIENTS, eps=1e-7, ns_steps=5, adjust_lr_fn=None,
                ns_dtype="bfloat16") -> None:
    """The NumPy/CuPy reference: one Muon step on ``param`` and ``state`` in place."""
    buf = state["momentum_buffer"]
    buf += (1 - momentum) * (grad - buf)  # B ← μB + (1 − μ)g
    update = grad + momentum * (buf - grad) if nesterov else buf  # B̃ = (1 − μ)g + μB (Nesterov)
    orthogonal = newton_schulz(update, coefficients=ns_coefficients, steps=ns_steps, eps=eps, ns_dtype=ns_dtype)
    _apply(param, orthogonal, lr=lr, weight_decay=weight_decay, adjust_lr_fn=adjust_lr_fn)


MUON_MOMENTUM_KERNEL = ElementwiseKernel(
    name="muon_momentum",
    inputs=("g",),
    outputs=("momentum_buffer", "update"),
    scalars=("momentum",),
    flags=("NESTEROV",),
    requires=(("update", "NESTEROV"),),
    body="""
C buf = (C)momentum_buffer + (C)(1 - momentum) * ((C)g - (C)momentum_buffer);
momentum_buffer = (T)buf;
#if NESTEROV
update = (T)((C)g + (C)momentum * (buf - (C)g));
#endif
""",
)


def muon_fused(param, grad, state, *, lr, weight_decay=0.1, momentum=0.95, nesterov=True,
               ns_coefficients=NS_COEFFICIENTS, eps=1e-7, ns_steps=5, adjust_lr_fn=None,
               ns_dtype="bfloat16") -> None:
    """The same step with the momentum through the fused kernel (the iteration is matrix products)."""
    buf = state["momentum_buffer"]
    update = get_array_module(param).empty_like(param) if nesterov else buf
    MUON_MOMENTUM_KERNEL(flags=dict(NESTEROV=nesterov), g=grad, momentum_buffer=buf, update=update,
                         momentum=momentum)
    orthogonal = newton_schulz(update, coefficients=ns_coefficients, steps=ns_steps, eps=eps, ns_dtype=ns_dtype)
    _apply(param, orthogonal, lr=lr, weight_decay=weight_decay, adjust_lr_fn=adjust_lr_fn)


def muon(param, grad, state, **hyper) -> None:
    """One Muon step: the fused momentum kernel for GPU arrays (see ``kernels.use_fused``), else the reference."""
    (muon_fused if use_fused(param) else muon_update)(param, grad, state, **hyper)


def _coefficients(name: str, value):
    """Three finite reals ``(a, b, c)``."""
    if not isinstance(value, (tuple, list)) or len(value) != 3:
        raise TypeError(f"{name} must be a tuple of 3 numbers (a, b, c), got {type(value).__name__}: {value!r}")
    for i, entry in enumerate(value):
        if isinstance(entry, bool) or not isinstance(entry, numbers.Real):
            raise TypeError(f"{name}[{i}] must be a real number, got {type(entry).__name__}: {entry!r}")
        if not math.isfinite(entry):
            raise ValueError(f"Invalid {name}: {value!r} (entries must be finite)")
    return tuple(value)


def _ns_steps(name: str, value):
    value = integer(0)(name, value)
    if value >= 100:
        raise ValueError(f"Invalid {name}: {value!r} (must be < 100, as torch requires)")
    return value


class Muon(Optimizer):
    """``torch.optim.Muon`` with the same arguments, defaults and update (see the module docstring),
    plus ``ns_dtype``. Validation beyond torch's: ``momentum`` in [0, 1] (it is an averaging weight),
    finite ``ns_coefficients``, ``eps`` ≥ 0.

    Raises ``ValueError`` for a parameter that is not 2-D, in the constructor and ``add_param_group``.
    """

    hyperparameters = {
        "lr": learning_rate,
        "weight_decay": nonnegative,
        "momentum": unit_closed,
        "nesterov": boolean,
        "ns_coefficients": _coefficients,
        "eps": nonnegative,
        "ns_steps": _ns_steps,
        "adjust_lr_fn": choice(None, "original", "match_rms_adamw"),
        "ns_dtype": choice("bfloat16", None),
    }

    def __init__(self, params, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
                 ns_coefficients=NS_COEFFICIENTS, eps=1e-7, ns_steps=5, adjust_lr_fn=None, *, ns_dtype="bfloat16"):
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                                      ns_coefficients=ns_coefficients, eps=eps, ns_steps=ns_steps,
                                      adjust_lr_fn=adjust_lr_fn, ns_dtype=ns_dtype))

    def add_param_group(self, param_group: dict) -> None:
        super().add_param_group(param_group)
        for index, param in enumerate(self.param_groups[-1]["params"]):
            if param.ndim != 2:
                self.param_groups.pop()
                label = repr(param.name) if param.name else f"{index} of group {len(self.param_groups)}"
                raise ValueError(
                    f"Muon only supports 2-D parameters: parameter {label} has shape {tuple(param.shape)}. "
                    "Muon orthogonalises each weight matrix's update (Newton–Schulz on the matrix), which has "
                    "no meaning for vectors, scalars or stacked tensors; optimise biases, gains and other "
                    "non-matrix parameters with a second optimizer such as AdamW"
                )

    def _init_state(self, param, group):
        return muon_init(param.data)

    def _update(self, param, grad, state, group):
        muon(param.data, grad, state, lr=group["lr"], weight_decay=group["weight_decay"], momentum=group["momentum"],
             nesterov=group["nesterov"], ns_coefficients=group["ns_coefficients"], eps=group["eps"],
             ns_steps=group["ns_steps"], adjust_lr_fn=group["adjust_lr_fn"], ns_dtype=group["ns_dtype"])
