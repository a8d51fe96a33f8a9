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
# # Notebook 6: weight decay done right
#
# The executable companion of chapter 6. Every number quoted in the chapter is computed (and
# checked) here.

# %%
import numpy as np
import torch

from optimlab import Parameter
from optimlab.optim import SGD, Adam, AdamW
from optimlab.optim.adam import adam_init, adam_update
from optimlab.plots import glue, show, torch_parity_report, weight_decay
from optimlab.problems import DigitsMLP, Quadratic
from optimlab.training import uses_weight_decay, weight_decay_groups

np.set_printoptions(precision=4, suppress=True)
problem = Quadratic.ill_conditioned(8, 50.0, seed=0)


def run(optimizer_cls, steps, start, grad=problem.grad, before_step=None, **hyper):
    """Iterates of an optimlab optimizer on ``grad`` (``before_step(param)`` may edit the weights after
    the gradient is taken)."""
    param = Parameter(np.array(start, dtype=float))
    optimizer = optimizer_cls([param], **hyper)
    path = [param.data.copy()]
    for _ in range(steps):
        param.grad = grad(param.data)
        if before_step is not None:
            before_step(param)
        optimizer.step()
        path.append(param.data.copy())
    return np.array(path)


# %% [markdown]
# ## Plain SGD: L2 and weight decay are the same update
#
# $\theta - \eta(g + \lambda\theta) = (1 - \eta\lambda)\theta - \eta g$. `SGD(weight_decay=λ)` adds
# $\lambda\theta$ to the gradient (L2); decoupled decay multiplies the weights by $1 - \eta\lambda$
# before a plain step.

# %%
lr, lam, steps = 0.02, 0.1, 200
start = np.ones(problem.dim)
shrink = lambda param: param.data.__imul__(1 - lr * lam)  # noqa: E731  (decoupled: θ ← (1 − ηλ)θ)
l2_sgd = run(SGD, steps, start, lr=lr, weight_decay=lam)
decoupled_sgd = run(SGD, steps, start, before_step=shrink, lr=lr)
sgd_gap = glue("sgd_gap", np.abs(l2_sgd - decoupled_sgd).max())
l2_momentum = run(SGD, steps, start, lr=lr, momentum=0.9, weight_decay=lam)
decoupled_momentum = run(SGD, steps, start, before_step=shrink, lr=lr, momentum=0.9)
momentum_gap = glue("momentum_gap", np.abs(l2_momentum - decoupled_momentum).max())
print(f"plain SGD: max |L2 - decoupled| = {sgd_gap:.1e};  with momentum 0.9: {momentum_gap:.3f}")
assert sgd_gap <= 1e-14  # the same arithmetic up to the order of two roundings per step
assert momentum_gap > 1e-2  # momentum accumulates λθ in its buffer: a different method

# %% [markdown]
# ## Adam: L2 is divided by $\sqrt{\hat v}$, AdamW's decay is not
#
# A coordinate whose data gradient alternates $\pm s$ has $\sqrt{\hat v} \approx s$ and (almost) no first
# moment, so with L2 its weight shrinks by about $\eta\lambda\theta/s$ per step; AdamW multiplies it
# by $1-\eta\lambda$ whatever $s$ is. `weight_decay.decay_rates` measures
# $-\log(\theta_T(\lambda)/\theta_T(0))/T$ for each gradient scale.

# %%
scales = np.array([1e-2, 1e-1, 1.0, 10.0])
setting = weight_decay.DECAY_SETTING
predicted_l2 = setting["lr"] * setting["weight_decay"] / scales
l2_rates = weight_decay.decay_rates(scales, decoupled=False)
adamw_rates = weight_decay.decay_rates(scales, decoupled=True)
uniform = -np.log1p(-setting["lr"] * setting["weight_decay"])
print("gradient scale s:     ", scales)
print("Adam+L2 rate / (ηλ/s):", l2_rates / predicted_l2)
print("AdamW rate / -log(1-ηλ):", adamw_rates / uniform)
# L2: the prediction ignores ε and the λθ term inside v̂; 10% covers both at s ≥ 0.1 (λθ ≤ 0.01 ≤ s/10).
assert np.all(np.abs(l2_rates[1:] / predicted_l2[1:] - 1) < 0.1)
# AdamW: the residual m from the alternating gradient is removed by dividing by the λ = 0 run; 1%.
assert np.all(np.abs(adamw_rates / uniform - 1) < 0.01)
glue("l2_ratio_small", l2_rates[1] / uniform)
glue("l2_ratio_large", l2_rates[3] / uniform)
show(weight_decay.weight_decay_per_coordinate())

# %% [markdown]
# Where the gradient is smaller than the decay term itself ($s \ll \lambda\theta$), $\hat v$ is
# dominated by $(\lambda\theta)^2$ and Adam+L2 takes a step of about $\eta$ towards zero: its decay
# rate saturates at about $\eta/\theta$ instead of growing like $1/s$ (the left end of the figure).

# %% [markdown]
# ## The inline teaching version of one step, both conventions
#
# L2: $g \leftarrow g + \lambda\theta$ before the moments. Decoupled (torch): $\theta \leftarrow
# (1-\eta\lambda)\theta$ before the Adam step.

# %%
def adam_step(theta, g, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, decoupled=False):
    """One Adam/AdamW step (teaching version); returns new (θ, m, v)."""
    if decoupled:
        theta = (1 - lr * weight_decay) * theta  # θ ← (1 − ηλ)θ, outside the adaptive step
    else:
        g = g + weight_decay * theta  # g ← g + λθ, inside it
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    return theta - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


rng = np.random.default_rng(0)
for decoupled in (False, True):
    theta, m, v = rng.normal(size=50), np.zeros(50), np.zeros(50)
    param, state = theta.copy(), adam_init(theta)
    for t in range(1, 101):
        g = rng.normal(size=50) * 10.0 ** rng.uniform(-3, 1, size=50)
        theta, m, v = adam_step(theta, g, m, v, t, 1e-2, weight_decay=0.1, decoupled=decoupled)
        adam_update(param, g, state, lr=1e-2, weight_decay=0.1, decoupled_weight_decay=decoupled)
    inline_error = max(np.abs(theta - param).max(), np.abs(m - state["exp_avg"]).max())
    print(f"decoupled={decoupled}: |teaching - optimlab| over 100 steps = {inline_error:.1e}")
    assert inline_error <= 1e-13  # the same formula; rounding differs only in the order of operations

# %% [markdown]
# ## Against torch
#
# `torch.optim.Adam(weight_decay=λ)` is L2; `torch.optim.AdamW` is decoupled and lr-scaled;
# `torch.optim.SGD(weight_decay=λ)` is L2 (so not decoupled once momentum is on). Float64, 50 noisy
# steps on three parameter shapes, parameters and every state tensor compared.

# %%
cases = [
    (Adam, torch.optim.Adam, dict(lr=1e-2, weight_decay=0.1)),
    (AdamW, torch.optim.AdamW, dict(lr=1e-2, weight_decay=0.1)),
    (AdamW, torch.optim.AdamW, dict(lr=1e-2, weight_decay=0.1, amsgrad=True)),
    (SGD, torch.optim.SGD, dict(lr=1e-2, momentum=0.9, weight_decay=0.1)),
]
report, worst = torch_parity_report(cases)  # float64: a few ulp per step over 50 steps stay below 1e-12
print(report)
glue("torch_error", worst)

# %% [markdown]
# ## lr-scaled (torch) vs fully decoupled (the paper)
#
# Loshchilov & Hutter's AdamW: $\theta_t = \theta_{t-1} - s_t\bigl(\alpha\,\hat m_t/(\sqrt{\hat v_t}+\epsilon) +
# \lambda\theta_{t-1}\bigr)$, with $s_t$ the schedule multiplier and $\alpha$ the base learning rate.
# torch multiplies its `weight_decay` by the full learning rate $\eta_t = \alpha s_t$, so the paper's
# $\lambda$ is torch's `weight_decay = λ/α`. We check this conversion along a cosine schedule.

# %%
def paper_adamw(grad, start, alpha, lam, multipliers, beta1=0.9, beta2=0.999, eps=1e-8):
    theta, m, v = np.array(start, dtype=float), np.zeros(len(start)), np.zeros(len(start))
    for t, s in enumerate(multipliers, start=1):
        g = grad(theta)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        theta = theta - s * lam * theta  # decay by sλ: no α in it
        theta = theta - s * alpha * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
    return theta


alpha, lam_paper, T = 1e-2, 1e-3, 300
multipliers = 0.5 * (1 + np.cos(np.pi * np.arange(T) / T))
param = Parameter(np.ones(problem.dim))
optimizer = AdamW([param], lr=alpha, weight_decay=lam_paper / alpha)
for s in multipliers:
    optimizer.param_groups[0]["lr"] = alpha * s
    param.grad = problem.grad(param.data)
    optimizer.step()
conversion_error = glue("conversion_error", np.abs(paper_adamw(problem.grad, np.ones(problem.dim), alpha,
                                                               lam_paper, multipliers) - param.data).max())
print(f"paper AdamW vs torch-style AdamW with weight_decay = λ/α: max difference {conversion_error:.1e}")
assert conversion_error <= 1e-12

# %% [markdown]
# The consequence on a real model: the digits MLP trained for 200 steps at several learning rates,
# once with a fixed torch `weight_decay` and once with a fixed paper $\lambda$. Reported: the norm of
# the first layer with decay divided by its norm without.

# %%
shrinkage = weight_decay.decay_shrinkage()
print("lr:                 ", shrinkage["lrs"])
print("torch weight_decay=1:", shrinkage["torch"])
print("paper lambda=1e-3:   ", shrinkage["paper"])
spread = {k: shrinkage[k].max() - shrinkage[k].min() for k in ("torch", "paper")}
glue("torch_shrink_lo", shrinkage["torch"].min())
glue("torch_shrink_hi", shrinkage["torch"].max())
glue("paper_shrink_lo", shrinkage["paper"].min())
glue("paper_shrink_hi", shrinkage["paper"].max())
assert np.all(np.diff(shrinkage["torch"]) < 0)  # more decay at every larger lr
assert spread["torch"] > 2 * spread["paper"]
# at lr = 1e-3 the two conventions are the same run (weight_decay = 1e-3 / 1e-3 = 1)
assert shrinkage["torch"][1] == shrinkage["paper"][1]
show(weight_decay.weight_decay_lr_coupling(shrinkage))

# %% [markdown]
# ## Which parameters to decay
#
# Decay matrices (`p.ndim >= 2`), not biases or normalisation gains. `weight_decay_groups` builds the
# two torch-style groups.

# %%
task = DigitsMLP(seed=0, hidden=32, dtype=np.float64)
groups = weight_decay_groups(task.model.named_parameters(), 0.1)
for group in groups:
    print(group["weight_decay"], [name for name, _ in group["params"]])
decayed = {name for group in groups if group["weight_decay"] > 0 for name, _ in group["params"]}
assert decayed == {name for name, p in task.model.named_parameters() if p.ndim >= 2} == {"0.weight", "2.weight"}
assert all(uses_weight_decay(name, p) == (name in decayed) for name, p in task.model.named_parameters())
# With zero gradients, one AdamW step shrinks the matrices by exactly 1 − ηλ and leaves the biases alone.
before = {name: p.data.copy() for name, p in task.model.named_parameters()}
optimizer = AdamW(groups, lr=1e-2)
for _, p in task.model.named_parameters():
    p.grad = np.zeros_like(p.data)
optimizer.step()
for name, p in task.model.named_parameters():
    expected = before[name] * (1 - 1e-2 * 0.1) if name in decayed else before[name]
    assert np.array_equal(p.data, expected), name
print("zero-gradient AdamW step: matrices scaled by 1 - lr*wd exactly, biases unchanged")

# %% [markdown]
# ## Exercises: the answers, checked
#
# **1.** AdamW with $\eta = 10^{-3}$, $\lambda = 0.1$ and zero gradients for $10^4$ steps multiplies
# every weight by $(1 - 10^{-4})^{10^4} \approx e^{-1} \approx 0.368$.

# %%
path = run(AdamW, 10_000, np.ones(2), grad=np.zeros_like, lr=1e-3, weight_decay=0.1)
exercise1 = glue("exercise1", path[-1, 0])
print(f"exercise 1: {exercise1:.6f}  (e^-1 = {np.exp(-1):.6f})")
assert abs(exercise1 - (1 - 1e-4) ** 10_000) < 1e-12 and abs(exercise1 - np.exp(-1)) < 2e-5

# %% [markdown]
# **2.** Adam with L2 ($\eta = 10^{-3}$, $\lambda = 10^{-2}$) on two weights whose gradients have scales
# $s = 0.1$ and $s = 10$: the first decays about $100\times$ faster than the second
# ($\eta\lambda/s = 10^{-4}$ vs $10^{-6}$ per step).

# %%
ratio = l2_rates[1] / l2_rates[3]
print(f"exercise 2: decay-rate ratio {ratio:.1f}")
assert 90 < ratio < 110

# %% [markdown]
# **3.** A run tuned at $\eta = 10^{-3}$ with torch's `weight_decay = 0.1` is moved to $\eta = 4\times10^{-3}$.
# To keep the same decay per step, set `weight_decay = 0.025`; in the paper's convention nothing changes
# ($\lambda = 10^{-4}$ both times).

# %%
assert np.isclose(1e-3 * 0.1, 4e-3 * 0.025)
same = [run(AdamW, 100, np.ones(2), grad=np.zeros_like, lr=l, weight_decay=w)[-1, 0]
        for l, w in ((1e-3, 0.1), (4e-3, 0.025))]
print("exercise 3: zero-gradient decay after 100 steps:", same)
assert abs(same[0] - same[1]) < 1e-15
