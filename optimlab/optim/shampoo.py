r"""Shampoo: one preconditioner per tensor dimension (Gupta, Koren & Singer, 2018).

For a matrix parameter (order :math:`k = 2`) with gradient :math:`G_t`:

.. math::
    L_t &= L_{t-1} + G_t G_t^\top, \qquad R_t = R_{t-1} + G_t^\top G_t,
    \qquad L_0 = R_0 = \epsilon I \\
    \theta_t &= \theta_{t-1} - \eta\, L_t^{-1/4}\, G_t\, R_t^{-1/4}

and for an order-:math:`k` tensor, :math:`H^{(i)}_t = H^{(i)}_{t-1} + G_{(i)} G_{(i)}^\top` for each
mode :math:`i` (:math:`G_{(i)}` the mode-:math:`i` unfolding) and
:math:`\theta_t = \theta_{t-1} - \eta\, G_t \times_1 (H^{(1)}_t)^{-1/2k} \cdots \times_k (H^{(k)}_t)^{-1/2k}`.
A vector (:math:`k = 1`) is full-matrix Adagrad, :math:`H^{-1/2} g`. Inverse roots come from the
symmetric eigendecomposition, :math:`H^{p} = Q\,\mathrm{diag}(\lambda^{p})\,Q^\top`, recomputed every
``update_freq`` steps (the first step included). A 0-D parameter takes a plain gradient step.

``convention`` names the two definitions in use:

* ``"paper"`` (default): exponent :math:`-1/(2k)`, every :math:`H^{(i)}` from the raw gradient.
* ``"torch_optimizer"`` (torch-optimizer's ``Shampoo``): exponent :math:`-1/k` (so
  :math:`L^{-1/2} G R^{-1/2}` for a matrix, :math:`H^{-1} g` for a vector) and *sequential*
  statistics: mode :math:`i` accumulates the gradient already multiplied by the inverse roots of
  modes :math:`1..i-1`.

``momentum`` (torch-optimizer's; the paper has none) mixes the gradient with the previous update
*after* preconditioning: :math:`g \leftarrow (1-\mu) g + \mu\, u_{t-1}`, :math:`u_0 = g_1`;
``weight_decay`` adds :math:`\lambda\theta` after that mixing (both as torch-optimizer). Differences
from torch-optimizer beyond the convention: its inverse root comes from an SVD (the same matrix up
to rounding), it writes the preconditioned direction into ``param.grad`` (never here), and it keeps
``momentum_buffer`` even without momentum. State: ``step``, ``precond_i``, ``inv_precond_i``
(torch-optimizer's names), ``momentum_buffer`` with momentum. Reference: Gupta, Koren, Singer,
"Shampoo: Preconditioned Stochastic Tensor Optimization" (ICML 2018), Algorithms 1 and 2.
"""

from __future__ import annotations

from optimlab.backend import get_array_module
from optimlab.optim.base import Optimizer
from optimlab.optim.hyperparams import choice, integer, learning_rate, nonnegative, real

CONVENTIONS = ("paper", "torch_optimizer")


def matrix_power(matrix, power: float):
    """``Q diag(|λ|ᵖ) Qᵀ`` for a symmetric positive definite ``matrix``. A PSD matrix accumulated in
    float32 can show eigenvalues just below 0 (rounding of order ulp·‖H‖, above ε): their magnitude is
    used, as an SVD would (torch-optimizer's root), instead of a NaN from a negative base."""
    xp = get_array_module(matrix)
    eigenvalues, eigenvectors = xp.linalg.eigh(matrix)
    return (eigenvectors * xp.abs(eigenvalues) ** power) @ eigenvectors.T


def _mode_product(tensor, matrix, mode: int):
    """``tensor ×_mode matrix``: ``matrix`` applied to the mode-``mode`` fibres."""
    xp = get_array_module(tensor)
    return xp.moveaxis(xp.tensordot(matrix, tensor, axes=(1, mode)), 0, mode)


def _unfold(tensor, mode: int):
    """The mode-``mode`` unfolding ``G_(mode)``: that axis first, the rest flattened."""
    xp = get_array_module(tensor)
    return xp.moveaxis(tensor, mode, 0).reshape(tensor.shape[mode], -1)


def shampoo_init(param, *, epsilon=1e-4, momentum=0.0) -> dict:
    """``step`` 0, ``precond_i = εI`` and zero ``inv_precond_i`` per dimension (``momentum_buffer``
    is created on the first step)."""
    xp = get_array_module(param)
    state = {"step": 0}
    for mode, size in enumerate(param.shape):
        state[f"precond_{mode}"] = epsilon * xp.eye(size, dtype=param.dtype)
        state[f"inv_precond_{mode}"] = xp.zeros((size, size), dtype=param.dtype)
    return state


def shampoo_update(param, grad, state, *, lr, momentum=0.0, weight_decay=0.0, update_freq=1,
                   convention="paper") -> None:
    """The NumPy/CuPy reference: one Shampoo step on ``param`` and ``state`` in place."""
    xp = get_array_module(param)
    order = param.ndim
    g = grad
    if momentum > 0:
        if "momentum_buffer" in state:
            g = (1 - momentum) * g + momentum * state["momentum_buffer"]  # g ← (1 − μ)g + μu
        else:
            state["momentum_buffer"] = xp.array(g, copy=True)  # u₀ = g₁
    if weight_decay > 0:
        g = g + weight_decay * param  # g ← g + λθ
    sequential = convention == "torch_optimizer"
    exponent = -1 / max(order, 1) if sequential else -1 / (2 * max(order, 1))  # −1/k or −1/(2k)
    direction = g
    for mode in range(order):
        statistic = direction if sequential else g
        unfolded = _unfold(statistic, mode)
        state[f"precond_{mode}"] += unfolded @ unfolded.T  # H ← H + G_(i) G_(i)ᵀ
        if state["step"] % update_freq == 0:
            state[f"inv_precond_{mode}"][...] = matrix_power(state[f"precond_{mode}"], exponent)  # H^(−1/2k)
        direction = _mode_product(direction, state[f"inv_precond_{mode}"], mode)  # G ×ᵢ H^(−1/2k)
    state["step"] += 1
    if momentum > 0:
        state["momentum_buffer"] = xp.array(direction, copy=True)  # u_t
    param -= lr * direction  # θ ← θ − η·preconditioned G


def shampoo(param, grad, state, **hyper) -> None:
    """One Shampoo step (matrix roots, no elementwise kernel: the reference on every backend)."""
    shampoo_update(param, grad, state, **hyper)


class Shampoo(Optimizer):
    """Shampoo with torch-optimizer's arguments and defaults plus ``convention`` (see the module
    docstring)."""

    hyperparameters = {
        "lr": learning_rate,
        "momentum": real(0.0, 1.0),
        "weight_decay": nonnegative,
        "epsilon": real(0.0, low_open=True),
        "update_freq": integer(1),
        "convention": choice(*CONVENTIONS),
    }
    lazy_state = ("momentum_buffer",)

    def __init__(self, params, lr=1e-1, momentum=0.0, weight_decay=0.0, epsilon=1e-4, update_freq=1, *,
                 convention="paper"):
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay, epsilon=epsilon,
                                      update_freq=update_freq, convention=convention))

    def _init_state(self, param, group):
        return shampoo_init(param.data, epsilon=group["epsilon"], momentum=group["momentum"])

    def _update(self, param, grad, state, group):
        shampoo(param.data, grad, state, lr=group["lr"], momentum=group["momentum"],
                weight_decay=group["weight_decay"], update_freq=group["update_freq"],
                convention=group["convention"])
