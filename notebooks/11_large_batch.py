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
# # Notebook 11: large batches, LARS, LAMB and trust ratios
#
# The executable companion of chapter 11. Every number quoted in the chapter is computed (and
# checked) here.

# %%
import numpy as np

from optimlab import Parameter
from optimlab.optim import LAMB, LARS
from optimlab.plots import glue, large_batch, show
from optimlab.problems import DigitsMLP
from optimlab.verify.oracle_cases import oracle_cases

# %% [markdown]
# ## Layers differ: $\|\theta_l\| / \|g_l\|$ at initialisation
#
# The digits MLP, one batch of 512: the ratio of each tensor's norm to its gradient's norm.

# %%
task = DigitsMLP(seed=0, hidden=64, batch_size=512)
params = list(task.parameters())
task.loss_and_grad()
ratios = {layer: float(np.linalg.norm(p.data) / np.linalg.norm(p.grad)) for layer, p in zip(large_batch.LAYERS, params)}
print({layer: round(r, 2) for layer, r in ratios.items()})
glue("norm_ratio_spread", max(ratios.values()) / min(ratios.values()))

# %% [markdown]
# ## LAMB and LARS, inline, against the library
#
# LAMB: Adam's bias-corrected direction plus decay, then the trust ratio $\|\theta\|/\|r\|$ (1 if
# either norm is 0). LARS (optax's form): $u = g + \lambda\theta$, trust ratio
# $k\|\theta\|/(\|u\| + \epsilon)$, then momentum on the scaled step.

# %%
def trust(numerator, denominator):
    return 1.0 if numerator == 0 or denominator == 0 else numerator / denominator


def lamb_inline(theta, grads, lr, beta1=0.9, beta2=0.999, eps=1e-6, weight_decay=0.0):
    m, v = np.zeros_like(theta), np.zeros_like(theta)
    for t, g in enumerate(grads, start=1):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        r = (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps) + weight_decay * theta
        theta = theta - lr * trust(np.linalg.norm(theta), np.linalg.norm(r)) * r
    return theta


def lars_inline(theta, grads, lr, momentum=0.9, weight_decay=0.0, k=0.001, eps=0.0):
    buffer = np.zeros_like(theta)
    for g in grads:
        u = g + weight_decay * theta
        step = lr * trust(k * np.linalg.norm(theta), np.linalg.norm(u) + eps) * u
        buffer = momentum * buffer + step
        theta = theta - buffer
    return theta


rng = np.random.default_rng(0)
theta0 = rng.standard_normal((6, 5))
grads = [rng.standard_normal((6, 5)) * 10.0 ** rng.uniform(-2, 2) for _ in range(30)]


def library_run(cls, gradients=grads, **hyper):
    """θ after the library's `cls` took one step per gradient, from θ_0."""
    param = Parameter(theta0.copy())
    optimizer = cls([param], **hyper)
    for g in gradients:
        param.grad = g
        optimizer.step()
    return param.data


inline_error = max(
    np.max(np.abs(lamb_inline(theta0, grads, 0.01, weight_decay=0.1) - library_run(LAMB, lr=0.01, weight_decay=0.1))),
    np.max(np.abs(lars_inline(theta0, grads, 1.0, weight_decay=0.01, k=0.02)
                  - library_run(LARS, lr=1.0, weight_decay=0.01, trust_coefficient=0.02))),
)
print("max |inline - optimlab| over 30 steps (LAMB, LARS):", inline_error)
assert inline_error <= 1e-12

# %% [markdown]
# ## Against the oracles: torch-optimizer and optax
#
# The package's oracle cases: LAMB against `torch_optimizer.Lamb` (its `debias` conventions and the
# clamp) and `optax.lamb`, LARS against `optax.lars`; parameters and every state entry after each
# of 50 steps, float64.

# %%
cases = oracle_cases(["LAMB", "LARS"])
oracle_error = 0.0
for case in cases:
    result = case.run(steps=50)
    oracle_error = max(oracle_error, result.param_error, result.state_error)
    config = ", ".join(f"{k}={v}" for k, v in case.config.items())
    print(f"{case.name:<5} {case.target:<22} {config:<75} param {result.param_error:.1e} state {result.state_error:.1e}")
    assert result.ok(case.tolerance), case
glue("oracle_error", oracle_error)
glue("oracle_cases", len(cases))

# %% [markdown]
# ## Every layer moves by $\eta\|\theta_l\|$
#
# With LAMB's default convention (no clamp), $\|\Delta\theta_l\| = \eta\,\|\theta_l\|$ exactly, for
# every tensor and every step, whatever its gradient. SGD and Adam move layers by very different
# fractions of their norms.

# %%
relative = {name: large_batch.relative_updates(cls, **hyper) for name, (cls, hyper) in large_batch.OPTIMIZERS.items()}
lamb_deviation = np.max(np.abs(relative["LAMB, lr 0.01"] / 0.01 - 1))
print("LAMB: max |relative update / lr - 1| over 100 steps and 4 tensors:", lamb_deviation)
assert lamb_deviation <= 1e-5  # float32 parameters: a few float32 roundings in the norms
layer_spread = {}
for name, values in relative.items():
    medians = np.median(values, axis=0)
    layer_spread[name] = medians.max() / medians.min()
    print(f"{name:<14} median relative update per layer:", np.round(medians, 5),
          f" largest / smallest {layer_spread[name]:.2f}")
glue("sgd_layer_spread", layer_spread["SGD, lr 0.1"])
glue("adam_layer_spread", layer_spread["Adam, lr 1e-3"])
glue("lamb_deviation", lamb_deviation)
assert layer_spread["SGD, lr 0.1"] > 2 and layer_spread["Adam, lr 1e-3"] > 1.2  # as measured in this small net
show(large_batch.lamb_relative_updates())

# %% [markdown]
# ## Scale invariance
#
# LARS without momentum and decay ($\epsilon = 0$) steps by $\eta k\|\theta\|\,u/\|u\|$: multiplying
# every gradient by 1000 changes nothing. LAMB's direction is Adam's, invariant up to $\epsilon$.

# %%
grads_small = [g * 1e-3 for g in grads]


lars_invariance = np.max(np.abs(library_run(LARS, lr=1.0, momentum=0.0, trust_coefficient=0.02)
                                - library_run(LARS, grads_small, lr=1.0, momentum=0.0, trust_coefficient=0.02)))
lamb_invariance = np.max(np.abs(library_run(LAMB, lr=0.01, eps=0.0) - library_run(LAMB, grads_small, lr=0.01, eps=0.0)))
print(f"gradients x 1e-3: LARS changes by {lars_invariance:.1e}, LAMB (eps = 0) by {lamb_invariance:.1e}")
assert lars_invariance <= 1e-13 and lamb_invariance <= 1e-13

# %% [markdown]
# ## A zero-initialised tensor
#
# The paper's ratio $\|\theta\|/\|r\|$ is 0 for $\theta = 0$, so such a tensor would never move.
# optax and torch-optimizer use a ratio of 1 there; so does optimlab.

# %%
bias = Parameter(np.zeros(4))
optimizer = LAMB([bias], lr=0.01)
bias.grad = np.array([1.0, -2.0, 0.5, 0.0])
optimizer.step()
print("zero bias after one LAMB step:", bias.data, " trust ratio used:", optimizer.state[bias]["trust_ratio"])
assert optimizer.state[bias]["trust_ratio"] == 1.0 and np.count_nonzero(bias.data) == 3

# %% [markdown]
# ## Exercises: the answers, checked
#
# **1.** LAMB with $\eta = 0.01$ on a tensor of norm 5: the step has length $0.01 \cdot 5 = 0.05$.

# %%
def one_step(cls, norm, **hyper):
    """One step of `cls` on a random tensor of the given norm: (the step θ_0 − θ_1, the gradient)."""
    param = Parameter(rng.standard_normal(20))
    param.data *= norm / np.linalg.norm(param.data)
    optimizer = cls([param], **hyper)
    param.grad = rng.standard_normal(20)
    before = param.data.copy()
    optimizer.step()
    return before - param.data, param.grad


step, _ = one_step(LAMB, 5.0, lr=0.01)
print("exercise 1: step length", np.linalg.norm(step))
assert abs(np.linalg.norm(step) - 0.05) < 1e-12

# %% [markdown]
# **2.** torch-optimizer's LAMB clamps $\|\theta\|$ at 10: for a tensor of norm 50 the step is
# $\eta \cdot 10$, not $\eta \cdot 50$.

# %%
step, _ = one_step(LAMB, 50.0, lr=0.01, bias_correction="none", clamp_value=10.0)
print("exercise 2: step length", np.linalg.norm(step))
assert abs(np.linalg.norm(step) - 0.1) < 1e-12

# %% [markdown]
# **3.** LARS with $k = 0.001$, $\eta = 1$, no momentum, no decay, $\epsilon = 0$: the step is
# $0.001\,\|\theta\|$ in the direction of $-g$.

# %%
step, grad = one_step(LARS, 3.0, lr=1.0, momentum=0.0)
print("exercise 3: step / |theta| =", np.linalg.norm(step) / 3.0)
assert abs(np.linalg.norm(step) / 3.0 - 0.001) < 1e-15
assert np.allclose(step / np.linalg.norm(step), grad / np.linalg.norm(grad), rtol=1e-12)
