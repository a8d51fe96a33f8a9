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
# # Notebook 4: adaptive step sizes (AdaGrad, RMSprop, Adadelta)
#
# The executable companion of chapter 4. Every number quoted in the chapter is computed (and
# checked) here.

# %%
import numpy as np
import torch

from optimlab.optim import Adadelta, Adagrad, RMSprop
from optimlab.optim.adadelta import adadelta_init, adadelta_update
from optimlab.optim.adagrad import adagrad_init, adagrad_update
from optimlab.optim.rmsprop import rmsprop_init, rmsprop_update
from optimlab.plots import adaptive, glue, show, torch_parity_report

np.set_printoptions(precision=4, suppress=True)
rng = np.random.default_rng(0)

# %% [markdown]
# ## The three updates, inline and in the library
#
# AdaGrad: $s_t = s_{t-1} + g_t^2$, $\theta_t = \theta_{t-1} - \eta\,g_t/(\sqrt{s_t}+\epsilon)$.
# RMSprop: $v_t = \alpha v_{t-1} + (1-\alpha)g_t^2$, $\theta_t = \theta_{t-1} - \eta\,g_t/(\sqrt{v_t}+\epsilon)$.
# Adadelta: $v_t = \rho v_{t-1} + (1-\rho)g_t^2$, $\Delta_t = \sqrt{u_{t-1}+\epsilon}/\sqrt{v_t+\epsilon}\;g_t$,
# $u_t = \rho u_{t-1} + (1-\rho)\Delta_t^2$, $\theta_t = \theta_{t-1} - \eta\Delta_t$.

# %%
def adagrad(grads, lr, eps=1e-10):
    theta, s = np.zeros(grads.shape[1]), 0.0
    for g in grads:
        s = s + g * g  # sum of squares: only grows
        theta = theta - lr * g / (np.sqrt(s) + eps)
    return theta


def rmsprop(grads, lr, alpha=0.99, eps=1e-8):
    theta, v = np.zeros(grads.shape[1]), 0.0
    for g in grads:
        v = alpha * v + (1 - alpha) * g * g  # exponential average: forgets
        theta = theta - lr * g / (np.sqrt(v) + eps)
    return theta


def adadelta(grads, lr=1.0, rho=0.9, eps=1e-6):
    theta, v, u = np.zeros(grads.shape[1]), 0.0, 0.0
    for g in grads:
        v = rho * v + (1 - rho) * g * g
        delta = np.sqrt(u + eps) / np.sqrt(v + eps) * g  # RMS[Δθ] / RMS[g] · g: units of θ
        u = rho * u + (1 - rho) * delta * delta
        theta = theta - lr * delta
    return theta


grads = rng.normal(size=(300, 30)) * 10.0 ** rng.uniform(-3, 2, size=30)
for name, teaching, init, update, hyper in [
    ("AdaGrad", adagrad, adagrad_init, adagrad_update, dict(lr=0.1)),
    ("RMSprop", rmsprop, rmsprop_init, rmsprop_update, dict(lr=0.01)),
    ("Adadelta", adadelta, adadelta_init, adadelta_update, dict(lr=1.0)),
]:
    param = np.zeros(30)
    state = init(param)
    for g in grads:
        update(param, g, state, **hyper)
    inline_error = np.abs(teaching(grads, **hyper) - param).max() / np.abs(param).max()
    print(f"{name}: |teaching - optimlab| / max|θ| over 300 steps = {inline_error:.1e}")
    assert inline_error <= 1e-14  # the same formulas, up to the order of roundings

# %% [markdown]
# ## Against torch
#
# Float64, 50 noisy steps on a matrix, a vector and a scalar parameter; parameters and every state
# tensor compared after each step, with the options that change the update.

# %%
cases = [
    (Adagrad, torch.optim.Adagrad, dict(lr=0.1)),
    (Adagrad, torch.optim.Adagrad, dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.5)),
    (RMSprop, torch.optim.RMSprop, dict(lr=0.01)),
    (RMSprop, torch.optim.RMSprop, dict(lr=0.01, alpha=0.9, momentum=0.9, centered=True, weight_decay=0.1)),
    (Adadelta, torch.optim.Adadelta, dict(lr=1.0)),
    (Adadelta, torch.optim.Adadelta, dict(lr=0.5, rho=0.95, weight_decay=0.1)),
]
report, worst = torch_parity_report(cases)  # float64: a few ulp per step over 50 steps stay below 1e-12
print(report)
glue("torch_error", worst)

# %% [markdown]
# ## AdaGrad's step size only shrinks; RMSprop's settles
#
# The effective step size of coordinate $i$ is $|\Delta\theta_i|/|g_i|$. AdaGrad's is $\eta/(\sqrt{s_t}+\epsilon)$
# with $s_t$ non-decreasing, so it can never grow, whatever the gradients; under stationary gradients
# it falls like $1/\sqrt t$. RMSprop's tracks $\eta/\sqrt{\mathbb E g^2}$.

# %%
steps = 2000
stationary = rng.normal(size=(steps, 500))
sizes = {name: adaptive.effective_step_sizes(cls, stationary, **hyper)
         for name, (cls, hyper) in adaptive.METHODS.items()}
adagrad_lr = adaptive.METHODS["AdaGrad"][1]["lr"]
rmsprop_lr = adaptive.METHODS["RMSprop"][1]["lr"]
assert np.all(np.diff(sizes["AdaGrad"], axis=0) <= 0)  # exact: √s_t is non-decreasing
# With ε = 0, rescaling coordinate i's gradients by c_i leaves the iterates unchanged; powers of two bit for bit.
scales = 2.0 ** rng.integers(-20, 20, size=30)
assert np.array_equal(adagrad(grads * scales, 0.1, eps=0.0), adagrad(grads, 0.1, eps=0.0))
rmsprop_grows = glue("rmsprop_grows", float(np.mean(np.diff(sizes["RMSprop"], axis=0) > 0)))
# √t·(AdaGrad step)/η → 1/√E[g²] = 1 for N(0, 1) gradients: the sample mean of 2000 squares is within ±10%.
adagrad_scaled = np.median(sizes["AdaGrad"][-1]) * np.sqrt(steps) / adagrad_lr
rmsprop_late = np.median(sizes["RMSprop"][-500:]) / rmsprop_lr
glue("adagrad_scaled", adagrad_scaled)
glue("rmsprop_late", rmsprop_late)
print(f"AdaGrad: never grows; sqrt(T)·step/lr at T = {steps}: {adagrad_scaled:.3f}")
print(f"RMSprop: grows in {rmsprop_grows:.0%} of (step, coordinate) pairs; late median step/lr {rmsprop_late:.3f}")
assert abs(adagrad_scaled - 1) < 0.1
# v over the last ~100 steps averages ~100 squares of N(0, 1): its median sits within 10% of 1.
assert abs(rmsprop_late - 1) < 0.1 and rmsprop_grows > 0.3

# %% [markdown]
# ## RMSprop's first step is $1/\sqrt{1-\alpha}$ times too large
#
# $v_1 = (1-\alpha)g_1^2$, so the first step is $\eta\,g_1/(\sqrt{1-\alpha}\,|g_1| + \epsilon) \approx
# \eta\,\mathrm{sign}(g_1)/\sqrt{1-\alpha}$: $10\eta$ at the default $\alpha = 0.99$, ten times its steady-state
# size. (Adam's bias correction of $v$, chapter 5, removes exactly this.)

# %%
first_rmsprop = np.median(sizes["RMSprop"][0] * np.abs(stationary[0])) / rmsprop_lr
glue("rmsprop_first", first_rmsprop)
print(f"RMSprop first step / lr = {first_rmsprop:.4f}  (1/sqrt(1 - 0.99) = {1 / np.sqrt(0.01):.4f})")
assert abs(first_rmsprop - 10) < 1e-5  # ε = 1e-8 against |g| ~ 1 moves it by ~1e-7 relative

# %% [markdown]
# ## Adadelta: units, and a start set by ε
#
# Zeiler's argument: in $\Delta\theta = \eta\,g/\mathrm{RMS}[g]$ the units of $g$ cancel, so $\eta$ carries the
# units of $\theta$; Newton's step $H^{-1}g$ has the units of $\theta$ because $H$ has units of $g/\theta$.
# Adadelta replaces $\eta$ by $\mathrm{RMS}[\Delta\theta]$ of past steps. Its first step is
# $\sqrt{\epsilon}/\sqrt{(1-\rho)g_1^2 + \epsilon}\;g_1$, about $\sqrt{\epsilon/(1-\rho)}$ whatever $g_1$.

# %%
first_adadelta = np.median(sizes["Adadelta"][0] * np.abs(stationary[0]))
glue("adadelta_first", first_adadelta)
glue("adadelta_late", np.median(sizes["Adadelta"][-1]))
print(f"Adadelta first step (median |Δθ|) = {first_adadelta:.5f};  sqrt(eps/(1-rho)) = {np.sqrt(1e-6 / 0.1):.5f}")
assert abs(first_adadelta / np.sqrt(1e-6 / 0.1) - 1) < 1e-4  # ε inside the root: 1e-6 against 0.1 g²
show(adaptive.adaptive_step_sizes())

# %% [markdown]
# ## On a badly scaled quadratic
#
# $f = \frac12(\theta_1^2 + 100\,\theta_2^2)$ from $(-4, 0.5)$, 100 steps. Gradient descent is limited by the
# steep direction ($\eta < 2/100$); the adaptive methods rescale each coordinate.

# %%
runs = adaptive.paths()
final = {name: trajectory.values[-1] for name, trajectory in runs.items()}
print({name: f"{value:.2e}" for name, value in final.items()})
for name in ("GD", "AdaGrad", "RMSprop", "Adadelta"):
    glue(f"final_{name.lower()}", final[name])
assert final["RMSprop"] < final["AdaGrad"] < final["GD"] < final["Adadelta"]
show(adaptive.adaptive_trajectories())

# %% [markdown]
# ## Exercises: the answers, checked
#
# **1.** AdaGrad with $\epsilon = 0$ and a constant gradient $g$ moves by $\eta\sum_{t=1}^T 1/\sqrt t$ in $T$ steps,
# whatever $g$: $\approx 2\eta\sqrt T$ (for $T = 100$: $18.59\,\eta$, against $2\sqrt{100} = 20$).

# %%
for g_value in (1e-3, 1.0, 1e3):
    param = np.zeros(1)
    state = adagrad_init(param)
    for _ in range(100):
        adagrad_update(param, np.array([g_value]), state, lr=1.0, eps=0.0)
    assert abs(-param[0] - np.sum(1 / np.sqrt(np.arange(1, 101)))) < 1e-12
distance = glue("adagrad_distance_100", np.sum(1 / np.sqrt(np.arange(1, 101))))
print(f"exercise 1: {distance:.4f} lr for every g")

# %% [markdown]
# **2.** RMSprop's first step with $\alpha = 0.9$ is $\eta/\sqrt{0.1} \approx 3.16\,\eta$ (for $|g| \gg \epsilon$).

# %%
param = np.zeros(1)
rmsprop_update(param, np.array([5.0]), rmsprop_init(param), lr=1.0, alpha=0.9, eps=0.0)
print("exercise 2:", -param[0])
assert abs(-param[0] - 1 / np.sqrt(0.1)) < 1e-12

# %% [markdown]
# **3.** Adadelta's first step with $\rho = 0.9$, $\epsilon = 10^{-6}$, $g = 1$, $\eta = 1$ is
# $10^{-3}/\sqrt{0.100001} \approx 3.16\times 10^{-3}$; with $g = 100$ it is almost the same,
# $10^{-3}\cdot 100/\sqrt{1000.000001} \approx 3.16\times10^{-3}$.

# %%
for g_value in (1.0, 100.0):
    param = np.zeros(1)
    adadelta_update(param, np.array([g_value]), adadelta_init(param), lr=1.0)
    expected = 1e-3 * g_value / np.sqrt(0.1 * g_value**2 + 1e-6)
    print(f"exercise 3: g = {g_value:g}: step {-param[0]:.6e}")
    assert abs(-param[0] - expected) < 1e-15
