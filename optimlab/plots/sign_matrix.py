r"""Figures of chapter 9: sign and matrix methods (Lion, Muon and Newton–Schulz, Shampoo).

A matrix update :math:`\Delta = U\,\mathrm{diag}(s)\,V^\top` is judged by its singular values
:math:`s`: plain gradient descent keeps the gradient's (often decaying over decades), Muon maps all of
them close to 1 (an approximation of :math:`UV^\top`), Shampoo's first step is :math:`UV^\top` up to
:math:`\epsilon`, and a sign update (Lion, Adam's first step) fixes the entries, not the spectrum.
Newton–Schulz acts on each singular value separately through the scalar polynomial
:math:`p(\sigma) = a\sigma + b\sigma^3 + c\sigma^5`, so its behaviour is a one-dimensional picture.
"""

from __future__ import annotations

import numpy as np

from optimlab import Parameter
from optimlab.optim import Adam, Lion, Muon, Shampoo
from optimlab.optim.muon import NS_COEFFICIENTS, newton_schulz
from optimlab.plots._common import new_figure, styled

CUBIC_COEFFICIENTS = (1.5, -0.5, 0.0)  # the classical Newton–Schulz iteration, converging to exactly 1


def ns_polynomial(sigma, coefficients=NS_COEFFICIENTS, steps: int = 5):
    """``steps`` applications of p(σ) = aσ + bσ³ + cσ⁵ to each entry of ``sigma``."""
    a, b, c = coefficients
    sigma = np.asarray(sigma, dtype=float)
    for _ in range(steps):
        sigma = a * sigma + b * sigma**3 + c * sigma**5
    return sigma


def decaying_gradient(shape=(64, 32), decay: float = 0.85, seed: int = 0) -> np.ndarray:
    """A gradient matrix with singular values decay**i in random orthogonal bases (seeded)."""
    rng = np.random.default_rng(seed)
    rows, cols = shape
    u, _ = np.linalg.qr(rng.normal(size=(rows, cols)))
    v, _ = np.linalg.qr(rng.normal(size=(cols, cols)))
    return (u * decay ** np.arange(cols)) @ v.T


def first_updates(grad) -> dict:
    """The first update −Δθ of each method from θ = 0 with lr 1 on ``grad``, as optimlab computes it
    (SGD: the gradient; Muon in float64, no weight decay; Shampoo's paper form)."""
    updates = {"gradient (SGD)": grad.copy()}
    builders = {
        "Adam": lambda p: Adam(p, lr=1.0),
        "Lion": lambda p: Lion(p, lr=1.0),
        "Muon": lambda p: Muon(p, lr=1.0, weight_decay=0.0, nesterov=False, ns_dtype=None),
        "Shampoo": lambda p: Shampoo(p, lr=1.0, epsilon=1e-12),
    }
    for name, build in builders.items():
        param = Parameter(np.zeros_like(grad))
        optimizer = build([param])
        param.grad = grad
        optimizer.step()
        updates[name] = -param.data
    return updates


@styled
def sign_matrix_spectra():
    """Singular values of each method's first update on a gradient with a decaying spectrum."""
    grad = decaying_gradient()
    fig, axes = new_figure(1, 1, width=5.2, height=3.0)
    ax = axes[0, 0]
    styles = {"gradient (SGD)": "k-", "Adam": "C1--", "Lion": "C2:", "Muon": "C3-", "Shampoo": "C0-."}
    for name, update in first_updates(grad).items():
        spectrum = np.linalg.svd(update, compute_uv=False)
        ax.semilogy(np.arange(1, spectrum.size + 1), spectrum / spectrum.max(), styles[name], label=name)
    ax.set_xlabel("singular value index")
    ax.set_ylabel("singular value / largest")
    ax.set_ylim(1e-3, 1.5)
    ax.legend(loc="lower left")
    return fig


@styled
def newton_schulz_map():
    """p applied K = 1..5 times to a singular value σ ∈ [10⁻³, 1]: Muon's quintic and the cubic."""
    sigma = np.logspace(-3, 0, 400)
    fig, axes = new_figure(2, 1, width=6.4, height=2.8, sharey=True)
    for ax, coefficients, title in ((axes[0, 0], NS_COEFFICIENTS, "Muon's quintic (3.4445, −4.7750, 2.0315)"),
                                    (axes[0, 1], CUBIC_COEFFICIENTS, "cubic (1.5, −0.5, 0)")):
        for steps in range(1, 6):
            ax.semilogx(sigma, ns_polynomial(sigma, coefficients, steps), color=str(0.75 - 0.15 * steps),
                        label=f"K = {steps}")
        ax.axhline(1.0, color="C3", lw=0.6, ls="--")
        ax.set_title(title)
        ax.set_xlabel(r"input singular value $\sigma$")
    axes[0, 0].set_ylabel(r"$p^{(K)}(\sigma)$")
    axes[0, 0].legend(loc="upper left")
    return fig


def newton_schulz_singular_values(grad, steps: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Singular values of ``newton_schulz(grad)`` (float64) and the scalar map applied to those of
    ``grad / ‖grad‖_F``: equal, since each iteration is a polynomial in ``XXᵀ`` times ``X``."""
    library = np.linalg.svd(newton_schulz(grad, steps=steps, ns_dtype=None), compute_uv=False)
    scalar = ns_polynomial(np.linalg.svd(grad / np.linalg.norm(grad), compute_uv=False), steps=steps)
    return library, scalar
