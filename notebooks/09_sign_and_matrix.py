# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Notebook 9: sign and matrix methods
#
# The executable companion of chapter 9: Lion, Muon with its Newton–Schulz iteration, and Shampoo.
# Every number quoted in the chapter is computed (and checked) here.

# %%
import numpy as np
from IPython.display import Markdown, display

from optimlab import Parameter
from optimlab.optim import Lion, Muon, Shampoo
from optimlab.optim.muon import NS_COEFFICIENTS, adjusted_lr, newton_schulz
from optimlab.optim.shampoo import matrix_power
from optimlab.optim.variants import variants_markdown
from optimlab.plots import glue, show, sign_matrix
from optimlab.verify import run_torch_parity
from optimlab.verify.oracle_cases import oracle_cases
from optimlab.verify.torch_cases import EXTRA_CONFIGS, PROBLEM_SHAPES, TORCH_ADAPTERS

np.set_printoptions(precision=4, suppress=True)
rng = np.random.default_rng(0)

# %% [markdown]
# ## Lion, inline and in the library
#
# $c_t = \beta_1 m_{t-1} + (1-\beta_1) g_t$, $\theta_t = (1-\eta\lambda)\theta_{t-1} - \eta\,\mathrm{sign}(c_t)$,
# $m_t = \beta_2 m_{t-1} + (1-\beta_2) g_t$.

# %%
def lion_steps(theta, grads, lr, beta1=0.9, beta2=0.99, weight_decay=0.0):
    """Lion's iterates (teaching version)."""
    theta, m = theta.copy(), np.zeros_like(theta)
    path = [theta.copy()]
    for g in grads:
        theta = theta * (1 - lr * weight_decay)  # decoupled decay, scaled by lr
        theta = theta - lr * np.sign(beta1 * m + (1 - beta1) * g)  # the sign of the interpolation
        m = beta2 * m + (1 - beta2) * g  # the momentum, updated after the step
        path.append(theta.copy())
    return np.array(path)


theta0 = rng.normal(size=(4, 5))
grads = rng.normal(size=(30, 4, 5))
teaching = lion_steps(theta0, grads, lr=0.01, weight_decay=0.1)
param = Parameter(theta0.copy())
optimizer = Lion([param], lr=0.01, weight_decay=0.1)
library = [param.data.copy()]
for g in grads:
    param.grad = g
    optimizer.step()
    library.append(param.data.copy())
lion_inline_error = glue("lion_inline_error", np.abs(teaching - np.array(library)).max())
print("max |teaching Lion - optimlab Lion| over 30 steps:", lion_inline_error)
assert lion_inline_error <= 1e-15

# %% [markdown]
# Without decay every coordinate moves by exactly $\eta$ (the sign is ±1; it is 0 only where
# $c_t = 0$ exactly).

# %%
undecayed = lion_steps(theta0, grads, lr=0.01)
moves = np.abs(np.diff(undecayed, axis=0))
lion_uniform = glue("lion_uniform", float(np.abs(moves - 0.01).max()))
print("max | |step| - lr | over every coordinate and step:", lion_uniform)
assert lion_uniform <= 1e-15

# %% [markdown]
# Against lion-pytorch (float64, parameters and `exp_avg` after each of 50 steps), including its two
# weight-decay conventions (`decoupled_weight_decay=False`: $1-\eta\lambda$; `True`: $1-(\eta/\eta_0)\lambda$).

# %%
lion_cases = oracle_cases(["Lion"])
lion_errors = [case.run().error for case in lion_cases]
for case, error in zip(lion_cases, lion_errors):
    print(f"{case}: {error:.1e}")
lion_oracle_error = glue("lion_oracle_error", max(lion_errors))
glue("lion_oracle_cases", len(lion_cases))
assert lion_oracle_error <= 1e-12

# %% [markdown]
# ## Muon: the steepest step under the spectral norm
#
# For $G = U\Sigma V^\top$, $\max_{\|\Delta\|_2 \le 1} \langle G, \Delta\rangle = \sum_i \sigma_i$
# (the nuclear norm), attained at $\Delta = UV^\top$. Random $\Delta$ with spectral norm 1 do worse.

# %%
G = sign_matrix.decaying_gradient()
U, S, Vt = np.linalg.svd(G, full_matrices=False)
polar = U @ Vt
nuclear = S.sum()
assert np.isclose(np.sum(G * polar), nuclear, rtol=1e-12)
best_random = 0.0
for _ in range(200):
    D = rng.normal(size=G.shape)
    D /= np.linalg.norm(D, 2)  # spectral norm 1
    best_random = max(best_random, float(np.sum(G * D)))
glue("nuclear_norm", nuclear)
glue("best_random_fraction", best_random / nuclear)
print(f"<G, UV^T> = {nuclear:.4f}; best of 200 random unit-spectral-norm directions: {best_random / nuclear:.1%} of it")
assert best_random < nuclear

# %% [markdown]
# ### Newton–Schulz, inline and in the library
#
# $X_0 = G/\|G\|_F$, then $X \leftarrow aX + (bA + cA^2)X$ with $A = XX^\top$.

# %%
def newton_schulz_inline(G, coefficients=NS_COEFFICIENTS, steps=5):
    """Quintic Newton–Schulz towards UVᵀ (teaching version, in float64)."""
    a, b, c = coefficients
    X = G.T if G.shape[0] > G.shape[1] else G  # iterate on the wide orientation
    X = X / np.linalg.norm(X)
    for _ in range(steps):
        A = X @ X.T
        X = a * X + (b * A + c * A @ A) @ X
    return X.T if G.shape[0] > G.shape[1] else X


ns_inline_error = glue("ns_inline_error", np.abs(newton_schulz_inline(G) - newton_schulz(G, ns_dtype=None)).max())
print("max |teaching NS - optimlab newton_schulz| (float64):", ns_inline_error)
assert ns_inline_error <= 1e-14

# %% [markdown]
# Each iteration multiplies $X$ by a polynomial in $XX^\top$, so it acts on every singular value
# separately, through $p(\sigma) = a\sigma + b\sigma^3 + c\sigma^5$:

# %%
library_sv, scalar_sv = sign_matrix.newton_schulz_singular_values(G)
ns_scalar_error = glue("ns_scalar_error", np.abs(np.sort(library_sv) - np.sort(scalar_sv)).max())
print("singular values of newton_schulz(G) vs p⁵ applied to those of G/‖G‖_F:", ns_scalar_error)
assert ns_scalar_error <= 1e-12
sigma = np.linspace(0.01, 1.0, 20001)
mapped = sign_matrix.ns_polynomial(sigma)
ns_low, ns_high = glue("ns_low", mapped.min()), glue("ns_high", mapped.max())
ns_distance = glue("ns_distance", np.abs(newton_schulz(G, ns_dtype=None) - polar).max())
print(f"5 quintic steps map [0.01, 1] into [{ns_low:.3f}, {ns_high:.3f}]; max |NS(G) - UV^T| = {ns_distance:.3f}")
assert 0.6 < ns_low < 0.7 and 1.1 < ns_high < 1.2
cubic = sign_matrix.ns_polynomial(sigma, sign_matrix.CUBIC_COEFFICIENTS)
glue("cubic_low", cubic.min())
print(f"the cubic (1.5, -0.5, 0) after 5 steps: [{cubic.min():.3f}, {cubic.max():.3f}]")
assert cubic.max() <= 1 + 1e-12 and cubic.min() < 0.2

# %%
show(sign_matrix.newton_schulz_map())

# %% [markdown]
# Against `torch.optim.Muon` (float64, with torch's bfloat16 cast removed, `ns_dtype=None`;
# parameters and `momentum_buffer` after each of 50 steps):

# %%
TorchMuon = TORCH_ADAPTERS["Muon"]()
muon_errors = []
for config in EXTRA_CONFIGS["Muon"]:
    result = run_torch_parity(Muon, TorchMuon, config, shapes=PROBLEM_SHAPES["Muon"])
    print(f"Muon({config}): {result.error:.1e}")
    assert result.ok(1e-12), result
    muon_errors.append(result.error)
muon_torch_error = glue("muon_torch_error", max(muon_errors))

# %% [markdown]
# ## Shampoo
#
# The Kronecker identity behind it: for a row-major $\mathrm{vec}$, $(A \otimes B)\,\mathrm{vec}(G) =
# \mathrm{vec}(A G B^\top)$, so the preconditioner $L^{-1/4} \otimes R^{-1/4}$ costs two small matrix
# products.

# %%
small = rng.normal(size=(3, 4))
L_stat = 1e-4 * np.eye(3) + small @ small.T
R_stat = 1e-4 * np.eye(4) + small.T @ small
left, right = matrix_power(L_stat, -0.25), matrix_power(R_stat, -0.25)
kron_error = glue("kron_error", np.abs(np.kron(left, right) @ small.ravel() - (left @ small @ right).ravel()).max())
print("max |(L^-1/4 ⊗ R^-1/4) vec(G) - vec(L^-1/4 G R^-1/4)|:", kron_error)
assert kron_error <= 1e-12

# %% [markdown]
# One Shampoo step, inline (the paper's matrix case, $\epsilon I$ initial statistics), against the library:

# %%
def shampoo_inline(theta, grads, lr, epsilon=1e-4):
    """Shampoo for a matrix (teaching version): L += GGᵀ, R += GᵀG, θ −= η L^{-1/4} G R^{-1/4}."""
    theta = theta.copy()
    L, R = epsilon * np.eye(theta.shape[0]), epsilon * np.eye(theta.shape[1])
    for G in grads:
        L, R = L + G @ G.T, R + G.T @ G
        theta -= lr * matrix_power(L, -0.25) @ G @ matrix_power(R, -0.25)
    return theta


param = Parameter(theta0.copy())
optimizer = Shampoo([param], lr=0.1)
for g in grads[:10]:
    param.grad = g
    optimizer.step()
shampoo_inline_error = glue("shampoo_inline_error", np.abs(shampoo_inline(theta0, grads[:10], 0.1) - param.data).max())
print("max |teaching Shampoo - optimlab Shampoo| after 10 steps:", shampoo_inline_error)
assert shampoo_inline_error <= 1e-12

# %% [markdown]
# The first step from $L_0 = R_0 = \epsilon I$ is $U(\Sigma^2 + \epsilon)^{-1/4}\Sigma(\Sigma^2+\epsilon)^{-1/4}V^\top$,
# which tends to $UV^\top$ as $\epsilon \to 0$: exactly the orthogonalisation Muon approximates.

# %%
updates = sign_matrix.first_updates(G)
shampoo_polar = glue("shampoo_polar", np.abs(updates["Shampoo"] - polar).max())
print("max |first Shampoo step (ε = 1e-12) - UV^T|:", shampoo_polar)
assert shampoo_polar <= 1e-6
spectra = {name: np.linalg.svd(u, compute_uv=False) for name, u in updates.items()}
for name, s in spectra.items():
    print(f"{name:15s} smallest/largest singular value of the first update: {s.min() / s.max():.4f}")
glue("sgd_spread", spectra["gradient (SGD)"].min() / spectra["gradient (SGD)"].max())
glue("muon_spread", spectra["Muon"].min() / spectra["Muon"].max())
glue("lion_spread", spectra["Lion"].min() / spectra["Lion"].max())

# %%
show(sign_matrix.sign_matrix_spectra())

# %% [markdown]
# Against torch-optimizer's `Shampoo` (its convention: exponent $-1/k$, sequential statistics;
# float64, every state matrix after each of 50 steps; 1e-8 because torch-optimizer takes roots by SVD
# and optimlab by eigendecomposition):

# %%
shampoo_cases = oracle_cases(["Shampoo"])
shampoo_errors = [case.run().error for case in shampoo_cases]
for case, error in zip(shampoo_cases, shampoo_errors):
    print(f"{case}: {error:.1e}")
shampoo_oracle_error = glue("shampoo_oracle_error", max(shampoo_errors))
assert shampoo_oracle_error <= shampoo_cases[0].tolerance == 1e-8

# %% [markdown]
# ## The named conventions of this chapter
#
# From the registry `optimlab.optim.variants.VARIANTS`; each entry is checked against the library
# named (tests/optim/test_variants.py and `optimlab verify`).

# %%
display(Markdown(variants_markdown(["Lion", "Muon", "Shampoo"])))

# %% [markdown]
# ## Exercises: the answers, checked
#
# **1.** Lion with $\eta = 3\cdot 10^{-4}$, no decay, on a tensor whose $c_t$ has no zero entry: the
# update's RMS is exactly $3\cdot 10^{-4}$, whatever the gradient's scale.

# %%
param = Parameter(np.zeros(1000))
optimizer = Lion([param], lr=3e-4)
param.grad = 1e-6 * rng.normal(size=1000)
optimizer.step()
assert np.isclose(np.sqrt(np.mean(param.data**2)), 3e-4, rtol=1e-12)
print("exercise 1: RMS of Lion's update =", np.sqrt(np.mean(param.data**2)))

# %% [markdown]
# **2.** Muon on a 256×1024 matrix with $\eta = 0.02$: `"original"` uses $\eta\sqrt{\max(1, 256/1024)} = 0.02$;
# `"match_rms_adamw"` uses $0.2\cdot 0.02\cdot\sqrt{1024} = 0.128$.

# %%
assert np.isclose(adjusted_lr(0.02, "original", (256, 1024)), 0.02)
assert np.isclose(adjusted_lr(0.02, "match_rms_adamw", (256, 1024)), 0.128)
print("exercise 2:", adjusted_lr(0.02, "original", (256, 1024)), adjusted_lr(0.02, "match_rms_adamw", (256, 1024)))

# %% [markdown]
# **3.** Shampoo's state for an $n\times m$ matrix: $L$, $R$ and their inverse roots, $2(n^2 + m^2)$
# numbers, against Adam's $2nm$; for 1024×4096 that is 35.7 M against 8.4 M (4.25×). Measured on an
# 8×32 matrix: $2(64 + 1024)$ float64 numbers.

# %%
param = Parameter(np.zeros((8, 32)))
optimizer = Shampoo([param])
param.grad = rng.normal(size=(8, 32))
optimizer.step()
assert optimizer.state_bytes() == 8 * 2 * (8**2 + 32**2)
assert np.isclose(2 * (1024**2 + 4096**2) / (2 * 1024 * 4096), 4.25)
print("exercise 3: Shampoo state bytes on 8x32 =", optimizer.state_bytes())

# %% [markdown]
# **4.** Near 0 the quintic multiplies a singular value by $a = 3.4445$ per step; a singular value of
# $10^{-3}$ of $\|G\|_F$ needs 5 steps to pass 0.4 (and 4 are not enough).

# %%
assert sign_matrix.ns_polynomial(1e-3, steps=4) < 0.4 < sign_matrix.ns_polynomial(1e-3, steps=5)
print("exercise 4:", [round(float(sign_matrix.ns_polynomial(1e-3, steps=k)), 4) for k in range(1, 6)])
