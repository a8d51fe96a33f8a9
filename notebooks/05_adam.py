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
# # Notebook 5: Adam and its family
#
# The executable companion of chapter 5. Every number quoted in the chapter is computed (and
# checked) here.

# %%
import numpy as np
import torch

from optimlab import Parameter
from optimlab.optim import Adam, Adamax, NAdam, RAdam
from optimlab.optim.adam import adam_init, adam_update
from optimlab.optim.adamax import adamax_init, adamax_update
from optimlab.optim.nadam import nadam_momentum
from optimlab.optim.radam import RHO_THRESHOLD, radam_init, radam_rho, radam_update
from optimlab.optim.rmsprop import rmsprop_init, rmsprop_update
from optimlab.plots import adam as adam_plots
from optimlab.plots import glue, show, torch_parity_report
from optimlab.problems import Quadratic

np.set_printoptions(precision=4, suppress=True)
rng = np.random.default_rng(0)

# %% [markdown]
# ## Adam, inline and in the library
#
# $m_t = \beta_1 m_{t-1} + (1-\beta_1)g_t$, $v_t = \beta_2 v_{t-1} + (1-\beta_2)g_t^2$,
# $\theta_t = \theta_{t-1} - \eta\,\hat m_t/(\sqrt{\hat v_t} + \epsilon)$ with $\hat m_t = m_t/(1-\beta_1^t)$,
# $\hat v_t = v_t/(1-\beta_2^t)$.

# %%
def adam(grads, theta0, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """Iterates of Adam on a fixed gradient sequence (teaching version)."""
    theta, m, v = np.array(theta0, dtype=float), 0.0, 0.0
    for t, g in enumerate(grads, start=1):
        m = beta1 * m + (1 - beta1) * g  # first moment
        v = beta2 * v + (1 - beta2) * g * g  # second moment
        m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)  # bias correction
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
    return theta


grads = rng.normal(size=(200, 40)) * 10.0 ** rng.uniform(-4, 2, size=40)
param = np.zeros(40)
state = adam_init(param)
for g in grads:
    adam_update(param, g, state, lr=1e-2)
inline_error = np.abs(adam(grads, np.zeros(40), 1e-2) - param).max()
print(f"|teaching - optimlab adam_update| over 200 steps = {inline_error:.1e}")
assert inline_error <= 1e-15  # same operations; a different order of rounding moves the last bit at most

# %% [markdown]
# ## Against torch
#
# Float64, 50 noisy steps on a matrix, a vector and a scalar parameter; parameters and every state
# tensor (`exp_avg`, `exp_avg_sq`, `max_exp_avg_sq`, `exp_inf`, `mu_product`, ...) compared after each step.

# %%
cases = [
    (Adam, torch.optim.Adam, dict(lr=1e-2)),
    (Adam, torch.optim.Adam, dict(lr=1e-2, amsgrad=True, weight_decay=0.1)),
    (Adamax, torch.optim.Adamax, dict(lr=1e-2)),
    (NAdam, torch.optim.NAdam, dict(lr=1e-2)),
    (NAdam, torch.optim.NAdam, dict(lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True)),
    (RAdam, torch.optim.RAdam, dict(lr=1e-2)),
]
report, worst = torch_parity_report(cases)  # float64: a few ulp per step over 50 steps stay below 1e-12
print(report)
glue("torch_error", worst)

# %% [markdown]
# ## Bias correction
#
# With $m_0 = 0$, $m_t = (1-\beta_1)\sum_{s=1}^t \beta_1^{t-s} g_s$; if the $g_s$ have a common mean,
# $\mathbb E[m_t] = (1-\beta_1^t)\,\mathbb E[g]$. For a constant gradient this is exact: $m_t = (1-\beta_1^t)g$
# and $\hat m_t = g$ at every step.

# %%
param, g = np.zeros(5), np.array([3.0, -1e-3, 2e2, -7.0, 1e-6])
state = adam_init(param)
for t in range(1, 21):
    adam_update(param, g, state, lr=1e-3, eps=0.0)
    assert np.allclose(state["exp_avg"], (1 - 0.9**t) * g, rtol=1e-14, atol=0)
    assert np.allclose(state["exp_avg_sq"], (1 - 0.999**t) * g * g, rtol=1e-13, atol=0)
first = adam_plots.step_sizes(np.ones((1, 1)))[0, 0]
print("corrected first step / lr =", first)
assert first == 1.0

# Without correction the constant-gradient step is (1 − β₁ᵗ)/√(1 − β₂ᵗ) times the corrected one.
t = np.arange(1, 301)
ratio = adam_plots.step_sizes(np.ones((300, 1)), correct_first=False, correct_second=False)[:, 0]
assert np.allclose(ratio, (1 - 0.9**t) / np.sqrt(1 - 0.999**t), rtol=1e-12)
glue("uncorrected_first", ratio[0])
glue("uncorrected_max", ratio.max())
glue("uncorrected_argmax", int(t[ratio.argmax()]))
only_m = adam_plots.step_sizes(np.ones((1, 1)), correct_first=True, correct_second=False)[0, 0]
glue("only_m_first", only_m)
print(f"no correction: first step {ratio[0]:.3f} lr, largest {ratio.max():.3f} lr at t = {t[ratio.argmax()]}; "
      f"only m corrected: first step {only_m:.1f} lr")
show(adam_plots.adam_bias_correction())

# %% [markdown]
# ## Where ε sits
#
# torch adds ε to the *corrected* $\sqrt{\hat v_t}$. Kingma & Ba's "efficient" form folds the corrections
# into the step size, $\eta_t = \eta\sqrt{1-\beta_2^t}/(1-\beta_1^t)$, and adds $\hat\epsilon$ to the
# *uncorrected* $\sqrt{v_t}$. They are the same method iff $\hat\epsilon = \epsilon\sqrt{1-\beta_2^t}$, a
# different constant at each step.

# %%
def adam_eps_hat(grads, lr, eps_hat_of_t, beta1=0.9, beta2=0.999):
    theta, m, v = np.zeros(grads.shape[1]), 0.0, 0.0
    for t, g in enumerate(grads, start=1):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        step_size = lr * np.sqrt(1 - beta2**t) / (1 - beta1**t)
        theta = theta - step_size * m / (np.sqrt(v) + eps_hat_of_t(t))
    return theta


tiny = rng.normal(size=(300, 20)) * 1e-7  # gradients the size of ε, where its position shows
reference = adam(tiny, np.zeros(20), 1e-3)
matched = adam_eps_hat(tiny, 1e-3, lambda t: 1e-8 * np.sqrt(1 - 0.999**t))
constant = adam_eps_hat(tiny, 1e-3, lambda t: 1e-8)
scale = np.abs(reference).max()
eps_hat_error = glue("eps_hat_error", np.abs(matched - reference).max() / scale)
eps_hat_gap = glue("eps_hat_gap", np.abs(constant - reference).max() / scale)
print(f"ε̂ = ε√(1-β₂ᵗ): relative difference {eps_hat_error:.1e};  constant ε̂ = ε: {eps_hat_gap:.3f}")
assert eps_hat_error <= 1e-12 and eps_hat_gap > 0.05

# %% [markdown]
# ε also sets the scale below which Adam stops being scale-free: for a constant gradient $g$ the first
# step is $\eta\,|g|/(|g| + \epsilon)$.

# %%
for g_size in (1.0, 1e-8, 1e-10):
    param = np.zeros(1)
    adam_update(param, np.array([g_size]), adam_init(param), lr=1.0)
    print(f"|g| = {g_size:g}: first step / lr = {abs(param[0]):.4f}")
    assert abs(abs(param[0]) - g_size / (g_size + 1e-8)) < 1e-15

# %% [markdown]
# ## Scale invariance
#
# Multiplying every gradient by $c > 0$ multiplies $m$ by $c$ and $\sqrt v$ by $c$: with $\epsilon = 0$ the
# update does not change. A power of two changes no bit; other factors (the sum of 6 micro-batches
# instead of their mean) change the last bits.

# %%
problem = Quadratic.ill_conditioned(20, 100.0, seed=0)


def adam_on_quadratic(grad_scale, eps, steps=100):
    param = Parameter(np.zeros(problem.dim))
    optimizer = Adam([param], lr=1e-2, eps=eps)
    for _ in range(steps):
        param.grad = grad_scale * problem.grad(param.data)
        optimizer.step()
    return param.data


base = adam_on_quadratic(1.0, eps=0.0)
pow2_diff = np.abs(adam_on_quadratic(2.0**10, eps=0.0) - base).max()
sum_vs_mean = glue("sum_vs_mean", np.abs(adam_on_quadratic(6.0, eps=0.0) - base).max() / np.abs(base).max())
small_base = adam_on_quadratic(1.0, eps=1e-8)
tiny_scale = glue("tiny_scale", np.abs(adam_on_quadratic(1e-7, eps=1e-8) - small_base).max() / np.abs(small_base).max())
print(f"×2¹⁰: max diff {pow2_diff};  ×6: relative {sum_vs_mean:.1e};  ×1e-7 with ε = 1e-8: relative {tiny_scale:.2f}")
assert pow2_diff == 0.0 and sum_vs_mean <= 1e-13 and tiny_scale > 0.01

# %% [markdown]
# ## Adam = momentum + RMSprop + bias correction
#
# With $\beta_1 = 0$ and $\epsilon = 0$, Adam's step is RMSprop's ($\alpha = \beta_2$) times $\sqrt{1-\beta_2^t}$,
# the correction RMSprop lacks.

# %%
adam_param, rms_param = np.zeros(64), np.zeros(64)
adam_state, rms_state = adam_init(adam_param), rmsprop_init(rms_param)
ratios, errors = [], []
for t in range(1, 301):
    g = rng.normal(size=64)
    adam_param[:] = rms_param[:] = 0.0  # start each step at 0, so the step is read without cancellation
    adam_update(adam_param, g, adam_state, lr=1e-3, beta1=0.0, beta2=0.99, eps=0.0)
    rmsprop_update(rms_param, g, rms_state, lr=1e-3, alpha=0.99, eps=0.0)
    predicted = np.sqrt(1 - 0.99**t) * rms_param
    errors.append(np.abs(adam_param - predicted).max() / np.abs(predicted).max())
    ratios.append(np.median(adam_param / rms_param))
rmsprop_error = max(errors)
glue("rmsprop_ratio_first", ratios[0])
print(f"Adam(β₁=0)/RMSprop step ratio: {ratios[0]:.4f} at t = 1, {ratios[-1]:.4f} at t = 300; "
      f"max relative |Adam - √(1-β₂ᵗ)·RMSprop| = {rmsprop_error:.1e}")
# Norm-wise: torch's m += (1 − β₁)(g − m) with β₁ = 0 returns g only up to ulp·|m_{t−1}|, tiny against max|g|.
assert rmsprop_error <= 1e-14

# %% [markdown]
# ## AMSGrad and the Reddi et al. counterexample
#
# Online losses on $[-1, 1]$: $f_t(x) = 3x$ when $t \bmod 3 = 1$, else $-x$. The best fixed point is
# $x = -1$. Adam ($\beta_1 = 0$, $\beta_2 = 1/10$, $\eta_t = 0.5/\sqrt t$, projected) goes to $+1$; AMSGrad to $-1$.
# Both runs are repeated with `torch.optim.Adam` and must agree.

# %%
runs = {}
for amsgrad in (False, True):
    ours = adam_plots.reddi_run(amsgrad)
    theirs = adam_plots.reddi_run(amsgrad, torch.optim.Adam)
    reddi_torch_error = np.abs(ours - theirs).max()
    assert reddi_torch_error <= 1e-12, reddi_torch_error
    runs["AMSGrad" if amsgrad else "Adam"] = ours
final_regret = {name: adam_plots.average_regret(points)[-1] for name, points in runs.items()}
tail_mean = {name: points[-300:].mean() for name, points in runs.items()}
print("mean x over the last 300 steps:", tail_mean, " average regret at T:", final_regret)
glue("reddi_adam_x", tail_mean["Adam"])
glue("reddi_amsgrad_x", tail_mean["AMSGrad"])
glue("reddi_adam_regret", final_regret["Adam"])
glue("reddi_amsgrad_regret", final_regret["AMSGrad"])
assert tail_mean["Adam"] > 0.98 and tail_mean["AMSGrad"] < -0.98
# Adam's regret per step tends to (C − 2)(x + 1)/3 = 2/3 at x = 1; AMSGrad's to 0.
assert abs(final_regret["Adam"] - 2 / 3) < 0.05 and abs(final_regret["AMSGrad"]) < 0.05
show(adam_plots.adam_amsgrad_counterexample())

# %% [markdown]
# ## Adamax: the infinity norm
#
# Replace $v$ by the $p$-norm average $u_t^{(p)} = (\beta_2^p u_{t-1}^p + (1-\beta_2^p)|g_t|^p)^{1/p}$ and let
# $p\to\infty$: $u_t = \max(\beta_2 u_{t-1}, |g_t|)$, with no bias correction needed. We check the limit
# and the library's form (torch's: ε inside the maximum).

# %%
g_seq = rng.normal(size=(50, 6))


def p_norm_average(gs, beta2, p):
    u = np.zeros(gs.shape[1])
    for g in gs:
        u = (beta2**p * u**p + (1 - beta2**p) * np.abs(g) ** p) ** (1 / p)
    return u


u_inf = np.zeros(6)
for g in g_seq:
    u_inf = np.maximum(0.999 * u_inf, np.abs(g))
limit_gap = np.abs(p_norm_average(g_seq, 0.999, 400) / u_inf - 1).max()
param, state = np.zeros(6), adamax_init(np.zeros(6))
for g in g_seq:
    adamax_update(param, g, state, lr=1e-3, eps=0.0)
print(f"p = 400 average vs max form: relative gap {limit_gap:.3f}; library exp_inf vs max form: "
      f"{np.abs(state['exp_inf'] - u_inf).max():.1e}")
assert limit_gap < 0.02  # (1 − β₂^p)^{1/p} → 1 as p → ∞; at p = 400 the factor is within 2% of 1
assert np.array_equal(state["exp_inf"], u_inf)

# %% [markdown]
# ## NAdam: Dozat's momentum schedule
#
# $\mu_t = \beta_1(1 - \tfrac12 0.96^{t\psi})$ with $\psi = 0.004$: it starts near $\beta_1/2$ and rises to
# $\beta_1$ only after tens of thousands of steps.

# %%
mu = {t: nadam_momentum(t, 0.9, 0.004) for t in (1, 100, 1000, 10_000, 100_000)}
print({t: round(v, 4) for t, v in mu.items()})
glue("nadam_mu_1", mu[1])
glue("nadam_mu_10000", mu[10_000])
assert abs(mu[1] - 0.9 * (1 - 0.5 * 0.96**0.004)) < 1e-15 and mu[100_000] > 0.899

# %% [markdown]
# ## RAdam: when is the adaptive step switched on?
#
# $\rho_t = \rho_\infty - 2t\beta_2^t/(1-\beta_2^t)$, $\rho_\infty = 2/(1-\beta_2) - 1$. The variance of
# $1/\sqrt{\hat v_t}$ is finite only for $\rho_t > 4$; torch switches the adaptive step on when $\rho_t > 5$.
# Before that RAdam is SGD with bias-corrected momentum: $\theta_t = \theta_{t-1} - \eta\hat m_t$.

# %%
def first_step_above(threshold, beta2=0.999):
    return next(t for t in range(1, 10_000) if radam_rho(t, beta2) > threshold)


defined_from, switch_on = first_step_above(4.0), first_step_above(RHO_THRESHOLD)
glue("radam_defined_from", defined_from)
glue("radam_switch_on", switch_on)
print(f"β₂ = 0.999: ρ_t > 4 from t = {defined_from}, ρ_t > 5 (torch) from t = {switch_on};",
      [round(radam_rho(t, 0.999), 3) for t in range(1, 8)])
param, state = np.zeros(3), radam_init(np.zeros(3))
g_seq = rng.normal(size=(switch_on - 1, 3))
expected, m = np.zeros(3), np.zeros(3)
for t, g in enumerate(g_seq, start=1):
    radam_update(param, g, state, lr=1e-2)
    m = 0.9 * m + 0.1 * g
    expected -= 1e-2 * m / (1 - 0.9**t)
assert np.allclose(param, expected, rtol=1e-13, atol=0)
print(f"first {switch_on - 1} RAdam steps equal SGD with bias-corrected momentum")

# %% [markdown]
# ## Exercises: the answers, checked
#
# **1.** A gradient constant at $10^{-9}$, default $\epsilon = 10^{-8}$: Adam's first step is
# $\eta\cdot 10^{-9}/(10^{-9} + 10^{-8}) = \eta/11$.

# %%
param = np.zeros(1)
adam_update(param, np.array([1e-9]), adam_init(param), lr=1.0)
print("exercise 1: first step / lr =", abs(param[0]), " 1/11 =", 1 / 11)
assert abs(abs(param[0]) - 1 / 11) < 1e-12

# %% [markdown]
# **2.** Without any bias correction and with a constant gradient, the first step is
# $\eta(1-\beta_1)/\sqrt{1-\beta_2} = 0.1/\sqrt{0.001}\,\eta \approx 3.16\,\eta$: too large, not too small.

# %%
assert abs(ratio[0] - 0.1 / np.sqrt(0.001)) < 1e-12
print(f"exercise 2: {ratio[0]:.4f} lr")

# %% [markdown]
# **3.** For $t \ll 1/(1-\beta_2)$, $\rho_t \approx t$ (expand $\beta_2^t = 1 - t(1-\beta_2) + \dots$: the first
# steps are weighted almost equally, an SMA of length $t$). So torch switches the adaptive step on at
# $t = 6$ for any $\beta_2$ close to 1: 0.99, 0.999 and 0.9999 alike.

# %%
switch = {beta2: first_step_above(RHO_THRESHOLD, beta2) for beta2 in (0.99, 0.999, 0.9999)}
print("exercise 3: first t with rho_t > 5:", switch, " rho_1..6 at 0.9999:",
      [round(radam_rho(t, 0.9999), 4) for t in range(1, 7)])
assert set(switch.values()) == {6}
assert all(abs(radam_rho(t, 0.9999) - t) < 0.01 for t in range(1, 7))
