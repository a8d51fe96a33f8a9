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
# # Notebook 7: schedules and warmup
#
# The executable companion of chapter 7. Every number quoted in the chapter is computed (and
# checked) here.

# %%
import copy
import math
import warnings

import numpy as np
import torch
from torch.optim import lr_scheduler as L

import optimlab.schedules as S
from optimlab import Parameter
from optimlab.optim import SGD, Adam
from optimlab.plots import glue, schedules, show

warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler.step")  # the off-by-one demo below

# %% [markdown]
# ## Schedules are pure functions of the step
#
# A ten-line teaching version of linear warmup followed by a half cosine, asserted equal to
# `optimlab.schedules.warmup_cosine_decay` at every step (including past the end, where both rise
# again as Hugging Face's and torch's do).

# %%
def warmup_cosine(t, peak, warmup, total, floor=0.0):
    """η_t: linear from 0 to `peak` over `warmup` steps, then a half cosine to `floor` at `total`."""
    if t < warmup:
        return peak * t / warmup
    progress = (t - warmup) / (total - warmup)
    return floor + (peak - floor) * (1 + math.cos(math.pi * progress)) / 2


library = S.warmup_cosine_decay(0.3, 20, 200, min_value=0.01)
inline_error = max(abs(warmup_cosine(t, 0.3, 20, 200, 0.01) - library(t)) for t in range(400))
print("max |teaching - optimlab| over 400 steps:", inline_error)
assert inline_error <= 1e-15
show(schedules.schedule_shapes())

# %% [markdown]
# ## The pure functions against optax
#
# optax (an independent implementation) defines the same closed forms; in float64 they agree with
# optimlab's to rounding.

# %%
import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
import optax  # noqa: E402

def relative_error(ours, theirs):
    """Largest |ours − theirs| / |theirs| (0 where both are 0)."""
    return float(np.max(np.abs(ours - theirs) / np.maximum(np.abs(theirs), np.finfo(float).tiny)))


pairs = {
    "exponential": (S.exponential(0.5, 0.97), optax.exponential_decay(0.5, 1, 0.97)),
    "polynomial": (S.polynomial(0.5, 80, 2.0, end_value=0.01), optax.polynomial_schedule(0.5, 0.01, 2.0, 80)),
    "linear": (S.linear(0.0, 0.5, 30), optax.linear_schedule(0.0, 0.5, 30)),
    "cosine": (S.cosine(0.5, 60, min_value=0.05), optax.cosine_decay_schedule(0.5, 60, alpha=0.1)),
    "join": (S.join([S.linear(0.0, 0.5, 10), S.cosine(0.5, 90)], [10]),
             optax.join_schedules([optax.linear_schedule(0.0, 0.5, 10), optax.cosine_decay_schedule(0.5, 90)], [10])),
}
steps = np.arange(150)
optax_error = 0.0
for name, (ours, theirs) in pairs.items():
    a, b = np.array([ours(t) for t in steps]), np.asarray(theirs(steps), dtype=np.float64)
    error = relative_error(a, b)
    print(f"{name:<12} max relative error vs optax: {error:.1e}")
    optax_error = max(optax_error, error)
glue("optax_error", optax_error)
assert optax_error <= 1e-12  # the same formula in float64: a few ulp

# %% [markdown]
# ## Every scheduler class against torch
#
# The same constructor call with `M = optimlab.schedules` and `M = torch.optim.lr_scheduler`, an
# optimlab and a torch optimizer with two param groups, 300 steps; every group's learning rate is
# compared at every step. (After the last of its `total_steps` updates `OneCycleLR` has one more
# value that no update uses: optimlab holds $\eta_{min}$ there, torch extrapolates the last phase.)

# %%
BUILDS = {
    "StepLR": lambda M, o: M.StepLR(o, 30, 0.5),
    "MultiStepLR": lambda M, o: M.MultiStepLR(o, [50, 80, 80], 0.3),
    "ConstantLR": lambda M, o: M.ConstantLR(o, 0.25, 20),
    "LinearLR": lambda M, o: M.LinearLR(o, 0.01, 1.0, 40),
    "ExponentialLR": lambda M, o: M.ExponentialLR(o, 0.99),
    "PolynomialLR": lambda M, o: M.PolynomialLR(o, 200, 2.0),
    "CosineAnnealingLR": lambda M, o: M.CosineAnnealingLR(o, 80, 1e-3),
    "CosineAnnealingWarmRestarts": lambda M, o: M.CosineAnnealingWarmRestarts(o, 10, 2, 1e-4),
    "CyclicLR": lambda M, o: M.CyclicLR(o, 0.001, 0.2, 15, mode="exp_range", gamma=0.995),
    "OneCycleLR": lambda M, o: M.OneCycleLR(o, 0.3, 300),
    "LambdaLR": lambda M, o: M.LambdaLR(o, lambda t: 1 / math.sqrt(1 + t)),
    "MultiplicativeLR": lambda M, o: M.MultiplicativeLR(o, lambda t: 0.995),
    "SequentialLR": lambda M, o: M.SequentialLR(o, [M.LinearLR(o, 0.1, 1.0, 20), M.CosineAnnealingLR(o, 280)], [20]),
    "ChainedScheduler": lambda M, o: M.ChainedScheduler([M.ConstantLR(o, 0.3, 10), M.ExponentialLR(o, 0.98)]),
}


def group_lrs(optimizer):
    return [float(group["lr"]) for group in optimizer.param_groups]


def twin_optimizers(lrs=(0.1, 0.02)):
    ours = SGD([{"params": [Parameter(np.zeros(2))], "lr": lr} for lr in lrs], lr=lrs[0], momentum=0.9)
    theirs = torch.optim.SGD([{"params": [torch.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs],
                             lr=lrs[0], momentum=0.9)
    return ours, theirs


def lr_history(M, build, optimizer, steps=300):
    scheduler, history = build(M, optimizer), [group_lrs(optimizer)]
    for _ in range(steps):
        optimizer.step()
        scheduler.step()
        history.append(group_lrs(optimizer))
    return np.array(history)


torch_error = 0.0
for name, build in BUILDS.items():
    ours_opt, torch_opt = twin_optimizers()
    # the 300 values the 300 updates use (OneCycleLR's value after its last update differs by design)
    ours, theirs = lr_history(S, build, ours_opt)[:300], lr_history(L, build, torch_opt)[:300]
    error = relative_error(ours, theirs)
    torch_error = max(torch_error, error)
    print(f"{name:<28} max relative lr error over 300 steps: {error:.1e}")
glue("torch_error", torch_error)
assert torch_error <= 1e-12  # torch's recursions are the same ratios: a few ulp per step

# %% [markdown]
# The chainable classes update the current value by a ratio, as torch does; left alone this is the
# closed form $\eta_{min} + (\eta_0 - \eta_{min}) f(t)$. For `CosineAnnealingLR` the closed form is
# the *periodic* cosine: torch's learning rate climbs back up after `T_max`.

# %%
ours_opt, torch_opt = twin_optimizers()
torch_cosine = lr_history(L, lambda M, o: M.CosineAnnealingLR(o, 60, 0.0), torch_opt, steps=120)[:, 0]
periodic = np.array([S.cosine(0.1, 60, periodic=True)(t) for t in range(121)])
held = np.array([S.cosine(0.1, 60)(t) for t in range(121)])
periodic_error = np.max(np.abs(periodic - torch_cosine))
print("max |periodic cosine - torch CosineAnnealingLR|:", periodic_error)
assert periodic_error <= 1e-15
cosine_at_2T = glue("cosine_at_2T", torch_cosine[120])
print(f"torch's lr at 2*T_max: {cosine_at_2T:.3g} (the peak again); held cosine: {held[120]}")
assert abs(cosine_at_2T - 0.1) < 1e-12 and held[60:].max() == 0.0

# %% [markdown]
# ## Off by one: which value does the first update use?
#
# The value at $t = 0$ belongs to the first update. With the documented order
# (`optimizer.step()` then `scheduler.step()`) every value is used once; calling the scheduler first
# skips $\eta_0$ and shifts the whole schedule one step early.

# %%
def used_lrs(order, steps=5):
    optimizer = SGD([Parameter(np.zeros(1))], lr=1.0)
    scheduler, used = S.StepLR(optimizer, 1, 0.5), []
    for _ in range(steps):
        if order == "scheduler first":
            scheduler.step()
        used.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        if order == "optimizer first":
            scheduler.step()
    return used


right, wrong = used_lrs("optimizer first"), used_lrs("scheduler first")
print("optimizer.step() then scheduler.step():", right)
print("scheduler.step() then optimizer.step():", wrong)
assert right == [0.5**t for t in range(5)] and wrong == right[1:] + [0.5**5]

# A pure schedule passed as `lr` cannot get this wrong: the optimizer evaluates it at its own step count.
param = Parameter(np.zeros(1))
optimizer = SGD([param], lr=S.step_decay(1.0, 1, 0.5))
moves = []
for _ in range(5):
    param.grad = np.ones(1)
    before = param.data.copy()
    optimizer.step()
    moves.append(float((before - param.data)[0]))
print("pure schedule as lr, step lengths with g = 1:", moves)
assert moves == right

# %% [markdown]
# ## Resuming: torch's construction-order trap
#
# Stop after 10 steps, save both state dicts, rebuild. Loading the optimizer's state *before*
# constructing `LinearLR` (order B) is natural, but torch's constructor then multiplies the loaded
# learning rate by `start_factor` once more and `load_state_dict` does not repair it. optimlab's
# `load_state_dict` writes the loaded step's learning rate into the optimizer, so both orders resume
# exactly.

# %%
def resume_order_b(M, make_optimizer, k=10, steps=60):
    build = lambda o: M.LinearLR(o, 0.1, 1.0, 30)  # noqa: E731
    optimizer = make_optimizer()
    scheduler, reference = build(optimizer), []
    for t in range(steps):
        optimizer.step()
        scheduler.step()
        reference.append(optimizer.param_groups[0]["lr"])
        if t == k - 1:
            saved = copy.deepcopy(optimizer.state_dict()), copy.deepcopy(scheduler.state_dict())
    optimizer = make_optimizer()
    optimizer.load_state_dict(saved[0])  # order B: optimizer state first ...
    scheduler = build(optimizer)  # ... then the scheduler
    scheduler.load_state_dict(saved[1])
    resumed = reference[:k]
    for _ in range(k, steps):
        optimizer.step()
        scheduler.step()
        resumed.append(optimizer.param_groups[0]["lr"])
    return np.array(reference), np.array(resumed)


torch_ref, torch_resumed = resume_order_b(L, lambda: torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1))
ours_ref, ours_resumed = resume_order_b(S, lambda: SGD([Parameter(np.zeros(1))], lr=0.1))
resume_gap = glue("torch_resume_gap", np.max(np.abs(torch_resumed - torch_ref) / torch_ref))
print(f"torch, order B: lr right after resuming {torch_resumed[10]:.4g} instead of {torch_ref[10]:.4g}; "
      f"largest relative error {resume_gap:.2f}")
print("optimlab, order B: identical to the uninterrupted run:", np.array_equal(ours_resumed, ours_ref))
assert resume_gap > 0.5 and np.array_equal(ours_resumed, ours_ref)

# %% [markdown]
# ## Warmup: Adam's first step has length η in every coordinate
#
# At $t = 1$, $\hat m_1 = g_1$ and $\hat v_1 = g_1^2$, so the update is
# $\eta\, g_1/(|g_1| + \epsilon)$: about $\eta$ in *every* coordinate, whatever the gradient's size.

# %%
rng = np.random.default_rng(0)
grad = rng.choice([-1.0, 1.0], 1000) * 10.0 ** rng.uniform(-6, 2, 1000)  # |g| over eight decades
param = Parameter(np.zeros(1000))
optimizer = Adam([param], lr=1e-3, eps=1e-8)
param.grad = grad
optimizer.step()
first_step = -param.data
assert np.allclose(first_step, 1e-3 * grad / (np.abs(grad) + 1e-8), rtol=1e-12, atol=0)
ratio = np.abs(first_step) / 1e-3
glue("first_step_min", ratio.min())
print(f"|first step| / lr over 1000 coordinates with |g| from 1e-6 to 1e2: {ratio.min():.4f} .. {ratio.max():.4f}")
assert ratio.min() > 0.98  # |g|/(|g| + ε) ≥ 1e-6/(1e-6 + 1e-8) ≈ 0.990

# %% [markdown]
# With a large learning rate that first step moves every weight by $\eta$ at once. On the digits MLP
# with Adam at $\eta = 0.1$, a 50-step linear warmup gives a lower test loss for every one of five
# seeds, while both runs fit the training batches almost exactly.

# %%
finals, curves = schedules.warmup_runs()
train_loss = {name: np.median(losses[:, -20:].mean(axis=1)) for name, losses in curves.items()}
for name, values in finals.items():
    print(f"{name:<10} test loss per seed:", np.round(values, 3), f"  median final training loss {train_loss[name]:.1e}")
glue("warmup_loss", float(np.median(finals["warmup"])))
glue("no_warmup_loss", float(np.median(finals["no warmup"])))
glue("warmup_train_loss", float(train_loss["warmup"]))
glue("no_warmup_train_loss", float(train_loss["no warmup"]))
assert all(w < n for w, n in zip(finals["warmup"], finals["no warmup"]))  # warmup generalises better ...
assert max(train_loss.values()) < 1e-4  # ... while both fit the training batches almost exactly
show(schedules.schedule_warmup())

# %% [markdown]
# ## Exercises: the answers, checked
#
# **1.** `CosineAnnealingLR(opt, T_max=100, eta_min=0)` with base lr 0.1: the lr at step 150 is
# $0.05\,(1 + \cos(1.5\pi)) = 0.05$, half the peak, and rising.

# %%
_, torch_opt = twin_optimizers()
lr150 = lr_history(L, lambda M, o: M.CosineAnnealingLR(o, 100), torch_opt, steps=151)[150, 0]
print("exercise 1: torch lr at step 150 =", lr150)
assert abs(lr150 - 0.05) < 1e-12

# %% [markdown]
# **2.** Noam with $d_{model} = 512$ and $W = 4000$ peaks at step 4000 with
# $512^{-1/2}\,4000^{-1/2} \approx 7.0\cdot10^{-4}$.

# %%
noam = S.noam(512, 4000)
values = np.array([noam(t) for t in range(1, 20001)])
peak_step = int(np.argmax(values)) + 1
print(f"exercise 2: peak {values.max():.3e} at step {peak_step}")
assert peak_step == 4000 and abs(values.max() - (512 * 4000) ** -0.5) < 1e-15

# %% [markdown]
# **3.** `StepLR(opt, step_size=1, gamma=0.5)` with `scheduler.step()` called *before*
# `optimizer.step()`: the first update uses $0.5\,\eta_0$, and $\eta_0$ is never used (computed above as
# `wrong`).

# %%
assert wrong[0] == 0.5 and 1.0 not in wrong
print("exercise 3: first lr used", wrong[0])
