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
# # Notebook 12: Schedule-Free, Lookahead, EMA and SWA
#
# The executable companion of chapter 12. Every number quoted in the chapter is computed (and
# checked) here.

# %%
import numpy as np
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from optimlab import Parameter
from optimlab.optim import SGD, Lookahead, SGDScheduleFree
from optimlab.plots import averaging, glue, show
from optimlab.training import EMA, SWA
from optimlab.verify.oracle_cases import oracle_cases

# %% [markdown]
# ## EMA and SWA, inline and against torch's AveragedModel
#
# The first update copies the parameters; the $n$-th later one does
# $\bar\theta \leftarrow \bar\theta + (1-\beta)(\theta - \bar\theta)$ (EMA) or
# $\bar\theta \leftarrow \bar\theta + (\theta - \bar\theta)/(n+1)$ (SWA).

# %%
def ema_inline(values, beta):
    """The EMA of a sequence of arrays, torch's convention (the first value is copied)."""
    average = values[0].copy()
    for value in values[1:]:
        average = average + (1 - beta) * (value - average)
    return average


rng = np.random.default_rng(0)
sequence = [rng.standard_normal((4, 3)) for _ in range(60)]  # parameter values after 60 steps
model = torch.nn.Linear(3, 4, bias=False).double()
swa_torch = AveragedModel(model)
ema_torch = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.9))
param = Parameter(sequence[0].copy())
swa, ema = SWA([param]), EMA([param], 0.9)
average_error = 0.0
for value in sequence:
    param.data[...] = value
    with torch.no_grad():
        model.weight.copy_(torch.from_numpy(value))
    swa.update(), ema.update()
    swa_torch.update_parameters(model), ema_torch.update_parameters(model)
    for ours, theirs in ((swa, swa_torch), (ema, ema_torch)):
        reference = theirs.module.weight.detach().numpy()
        average_error = max(average_error, np.max(np.abs(ours.averaged[0] - reference)) / np.max(np.abs(reference)))
glue("average_error", average_error)
inline_error = np.max(np.abs(ema_inline(sequence, 0.9) - ema.averaged[0]))
print(f"max relative |optimlab - torch AveragedModel| over 60 updates (SWA and EMA): {average_error:.1e}; "
      f"|inline EMA - optimlab| {inline_error:.1e}")
assert average_error <= 1e-12 and inline_error <= 1e-14  # the same float64 formula
assert np.allclose(swa.averaged[0], np.mean(sequence, axis=0), rtol=1e-12, atol=1e-14)  # SWA is the mean

# %% [markdown]
# ## Schedule-Free: the simple form, inline, against the library's memory-saving form
#
# $z$ takes SGD steps with gradients at $y$, $x$ is a weighted running average of $z$, and
# $y = \beta x + (1-\beta) z$. With a constant learning rate, no warmup and $r = 0$, every weight is
# $\eta^2$ and $c_t = 1/t$.

# %%
def schedule_free_inline(grad, theta0, lr, beta, steps):
    """(x, y) after `steps` steps of Schedule-Free SGD (constant lr, no warmup, r = 0)."""
    z, x = theta0.copy(), theta0.copy()
    y = theta0.copy()
    for t in range(1, steps + 1):
        z = z - lr * grad(y)  # z_{t+1} = z_t − η ∇f(y_t)
        x = (1 - 1 / t) * x + (1 / t) * z  # x_{t+1} = (1 − c) x_t + c z_{t+1}, c = 1/t
        y = beta * x + (1 - beta) * z  # y_{t+1} = β x + (1 − β) z
    return x, y


problem = averaging.noisy_quadratic(seed=0)
matrix, minimizer = problem.matrix, problem.minimizer
deterministic_grad = lambda theta: matrix @ (theta - minimizer)  # noqa: E731
x_inline, y_inline = schedule_free_inline(deterministic_grad, np.zeros(10), 0.5, 0.9, 200)
param = Parameter(np.zeros(10))
optimizer = SGDScheduleFree([param], lr=0.5, momentum=0.9)  # memory_saving=True: only z is stored
for _ in range(200):
    param.grad = deterministic_grad(param.data)
    optimizer.step()
y_error = np.max(np.abs(param.data - y_inline))
optimizer.eval()
x_error = np.max(np.abs(param.data - x_inline))
optimizer.train()
print(f"|inline - optimlab| after 200 steps: y {y_error:.1e}, x {x_error:.1e}")
assert y_error <= 1e-12 and x_error <= 1e-12  # an algebraic rewrite: rounding differs by a few ulp

# x is the plain average of z_2 .. z_{T+1} (c_t = 1/t): check on the simple form's state
param = Parameter(np.zeros(10))
optimizer = SGDScheduleFree([param], lr=0.5, momentum=0.9, memory_saving=False)
zs = []
for _ in range(200):
    param.grad = deterministic_grad(param.data)
    optimizer.step()
    zs.append(optimizer.state[param]["z"].copy())
polyak_error = np.max(np.abs(optimizer.state[param]["x"] - np.mean(zs, axis=0)))
print("|x - mean of z| =", polyak_error)
assert polyak_error <= 1e-12

# %% [markdown]
# ## Against the oracles: schedulefree and torch-optimizer
#
# The package's oracle cases for Schedule-Free SGD/AdamW (both forms, against schedulefree's
# Reference and memory-saving classes) and Lookahead (torch-optimizer): parameters and every state
# entry, 50 steps, float64.

# %%
cases = [case for case in oracle_cases(["SGDScheduleFree", "AdamWScheduleFree", "Lookahead"])
         if case.oracle != "optax"]  # optax's Lookahead (JAX) runs in `optimlab verify` and the tests
oracle_error = 0.0
for case in cases:
    result = case.run(steps=50)
    oracle_error = max(oracle_error, result.param_error, result.state_error)
    print(f"{case.name:<18} {case.target:<40} param {result.param_error:.1e}  state {result.state_error:.1e}")
    assert result.ok(case.tolerance), case
glue("oracle_error", oracle_error)
glue("oracle_cases", len(cases))

# %% [markdown]
# ## Lookahead, inline
#
# Every $k$ inner steps: $\phi \leftarrow \phi + \alpha(\theta - \phi)$, $\theta \leftarrow \phi$
# (the paper's convention: $\phi$ starts at $\theta_0$).

# %%
def lookahead_inline(grad, theta0, lr, k, alpha, steps):
    theta, slow = theta0.copy(), theta0.copy()
    for t in range(1, steps + 1):
        theta = theta - lr * grad(theta)  # inner SGD step
        if t % k == 0:
            slow = slow + alpha * (theta - slow)  # φ ← φ + α(θ − φ)
            theta = slow.copy()  # θ ← φ
    return theta


param = Parameter(np.zeros(10))
optimizer = Lookahead(SGD([param], lr=0.5), k=5, alpha=0.5, slow_start="initial")
for _ in range(100):
    param.grad = deterministic_grad(param.data)
    optimizer.step()
lookahead_error = np.max(np.abs(param.data - lookahead_inline(deterministic_grad, np.zeros(10), 0.5, 5, 0.5, 100)))
print("|inline Lookahead - optimlab| after 100 steps:", lookahead_error)
assert lookahead_error <= 1e-14

# %% [markdown]
# ## The experiment: a noisy quadratic
#
# 10-D, $\kappa = 100$, gradient noise $\sigma = 1$; momentum 0.9; 1000 steps; six learning rates
# from 0.001 to 0.3;
# three seeds.

# %%
finals, _ = averaging.averaging_sweep()
means = {name: values.mean(axis=1) for name, values in finals.items()}
for name, values in means.items():
    print(f"{name:<24}", "  ".join(f"{v:8.4f}" for v in values), f"   best {values.min():.4f}")
best = {name: values.min() for name, values in means.items()}
spread = {name: values.max() / values.min() for name, values in means.items()}
best_lr = {name: averaging.LRS[int(np.argmin(values))] for name, values in means.items()}
print("best learning rate:", best_lr)
glue("best_lr_cosine", best_lr["SGD + cosine to T"])
glue("best_lr_schedule_free", best_lr["Schedule-Free SGD"])
glue("best_cosine", best["SGD + cosine to T"])
glue("best_schedule_free", best["Schedule-Free SGD"])
glue("best_constant", best["SGD, constant lr"])
glue("spread_constant", spread["SGD, constant lr"])
glue("spread_lookahead", spread["Lookahead(SGD)"])
glue("spread_schedule_free", spread["Schedule-Free SGD"])
glue("lookahead_gain", float(np.median(means["Lookahead(SGD)"][1:] / means["SGD, constant lr"][1:])))
glue("swa_worst", means["SWA of SGD (last half)"].max())
# what the chapter states, as it was measured (each would fail if the evidence changed)
assert best["Schedule-Free SGD"] <= 1.25 * best["SGD + cosine to T"]  # matches the tuned cosine ...
assert best_lr["Schedule-Free SGD"] > best_lr["SGD + cosine to T"]  # ... at a larger lr ...
assert means["Schedule-Free SGD"][-1] < means["SGD + cosine to T"][-1]  # ... and degrades less at the largest
noisy = slice(1, None)  # lr >= 0.003, where the noise floor dominates (at 0.001 the run is still converging)
assert all(means["SWA of SGD (last half)"][noisy] < means["SGD, constant lr"][noisy])
assert all(means["EMA of SGD (0.99)"][noisy] < means["SGD, constant lr"][noisy])
assert all(means["Lookahead(SGD)"][noisy] < means["SGD, constant lr"][noisy])  # a lower noise floor ...
assert all(means[name][0] > means["SGD, constant lr"][0] for name in ("SWA of SGD (last half)", "EMA of SGD (0.99)",
                                                                      "Lookahead(SGD)"))  # ... which lags at 0.001
assert spread["Lookahead(SGD)"] < spread["SGD, constant lr"]  # less sensitive to lr: a smaller worst/best ratio
show(averaging.averaging_noisy_quadratic())

# %% [markdown]
# ## Exercises: the answers, checked
#
# **1.** An EMA with $\beta = 0.999$ starts from $\theta = 1$ and then sees 1000 zeros. What is left of
# the first value? $0.999^{1000} \approx e^{-1} \approx 0.368$: the window is about $1/(1-\beta)$
# steps.

# %%
param = Parameter(np.ones(1))
ema = EMA([param], 0.999)
ema.update()
param.data[...] = 0.0
for _ in range(1000):
    ema.update()
print("exercise 1:", ema.averaged[0][0], "vs", 0.999**1000)
assert abs(ema.averaged[0][0] - 0.999**1000) < 1e-12

# %% [markdown]
# **2.** Schedule-Free with `warmup_steps = 10` and otherwise default settings: $c_t$ at step 20?
# The weights are $w_t = \eta_{max,t}^2$ with $\eta_{max,t} = \eta\min(1, t/10)$, so
# $c_{20} = w_{20}/\sum_{s\le20} w_s = 1/(\sum_{s=1}^{10} s^2/100 + 10) = 1/13.85 \approx 0.0722$.

# %%
from optimlab.optim.schedule_free import schedule_free_weights  # noqa: E402

state = {"step": 0, "weight_sum": 0.0, "lr_max": 0.0}
for _ in range(20):
    _, c = schedule_free_weights(state, lr=1.0, warmup_steps=10)
print("exercise 2: c_20 =", c)
assert abs(c - 1 / 13.85) < 1e-12

# %% [markdown]
# **3.** Lookahead ($k = 5$, $\alpha = 0.5$, slow weights from $\theta_0$) around SGD that multiplies
# the error by $q = 0.5$ per step: after one outer step the error is multiplied by
# $(1 - \alpha) + \alpha q^5 = 0.5 + 0.5/32 = 0.515625$.

# %%
param = Parameter(np.ones(1))
optimizer = Lookahead(SGD([param], lr=0.5), k=5, alpha=0.5, slow_start="initial")
for _ in range(5):
    param.grad = param.data.copy()  # f = θ²/2, so q = 1 − η = 0.5
    optimizer.step()
print("exercise 3:", param.data[0])
assert param.data[0] == 0.515625
