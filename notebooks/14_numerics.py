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
# # Notebook 14: numerics
#
# The executable companion of chapter 14. Every number quoted in the chapter is computed (and
# checked) here.

# %%
import numpy as np
import torch

from optimlab import Parameter
from optimlab.optim import SGD, Adam
from optimlab.plots import glue, numerics, show
from optimlab.problems import DigitsMLP
from optimlab.training import (GradScaler, MasterWeights, clip_grad_norm_, clip_grad_value_, get_total_norm,
                               guarded_step)

np.set_printoptions(precision=4)

# %% [markdown]
# ## Three floating-point formats
#
# Machine epsilon (the gap after 1), the smallest normal and subnormal numbers, and the largest.

# %%
formats = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
for name, dtype in formats.items():
    info = torch.finfo(dtype)
    print(f"{name:<9} eps {info.eps:.3e}  smallest normal {info.tiny:.3e}  "
          f"smallest subnormal {info.smallest_normal * info.eps:.3e}  max {info.max:.3e}")
fp16 = np.finfo(np.float16)
assert fp16.smallest_subnormal == 2.0**-24 and fp16.smallest_normal == 2.0**-14 and fp16.max == 65504
glue("fp16_tiny", float(fp16.smallest_subnormal))
# round to nearest: half the smallest subnormal is a tie that goes to the even neighbour, 0
assert np.float16(2.0**-25) == 0 and np.float16(0.51 * 2.0**-24) == 2.0**-24 and np.float16(1e-8) == 0
print("fp16(1e-8) =", np.float16(1e-8), "  fp16(1e-6) =", np.float16(1e-6))

# %% [markdown]
# ## Lost updates and master weights
#
# Near 1 the fp16 spacing is $2^{-10}$, so adding anything below half of it, $2^{-11}$, changes
# nothing. One hundred SGD steps of $10^{-4}$ on an fp16 weight leave it at exactly 1; the same steps
# on an fp32 master copy (`MasterWeights`) arrive at 0.99.

# %%
assert np.float16(1) + np.float16(2.0**-12) == 1
weight16 = np.float16(1.0)
for _ in range(100):
    weight16 = np.float16(weight16 - np.float16(1e-4))  # what an fp16 optimizer state does
model_param = Parameter(np.ones(1, dtype=np.float16))
master = MasterWeights([model_param])
optimizer = SGD(master.master_params, lr=1e-4)
for _ in range(100):
    model_param.grad = np.ones(1, dtype=np.float16)
    master.step(optimizer)
print(f"fp16 weight: {weight16};  fp32 master: {master.master_params[0].data[0]:.6f};  "
      f"model copy: {model_param.data[0]}")
assert weight16 == 1.0 and abs(master.master_params[0].data[0] - 0.99) < 100 * 2.0**-24  # 100 fp32 roundings
assert model_param.data[0] == np.float16(master.master_params[0].data[0])

# %% [markdown]
# ## Underflow: real gradients near a minimum
#
# The digits MLP after 400 Adam steps: how many gradient entries does a cast to fp16 flush to zero,
# how many become subnormal (fewer than 10 significant bits), and what does a loss scale of $2^{16}$
# change? (The cast is the rounding an fp16 backward pass applies to its result.)

# %%
grads = numerics.trained_digits_gradients().astype(np.float64)
grads = grads[grads != 0]


def fp16_report(values):
    cast = values.astype(np.float16).astype(np.float64)
    flushed = np.mean(cast == 0)
    subnormal = np.mean(np.abs(values) < 2.0**-14)
    relative = np.median(np.abs(cast - values) / np.abs(values))
    return flushed, subnormal, relative


flushed, subnormal, relative = fp16_report(grads)
flushed_s, subnormal_s, relative_s = fp16_report(grads * 2.0**16)
print(f"unscaled: {flushed:.2%} flushed to 0, {subnormal:.2%} subnormal, median relative rounding error {relative:.1e}")
print(f"x 2^16:   {flushed_s:.2%} flushed to 0, {subnormal_s:.2%} subnormal, median relative rounding error {relative_s:.1e}")
print(f"largest scaled gradient {np.abs(grads).max() * 2**16:.1f} (fp16 max 65504)")
glue("flushed", flushed)
glue("subnormal", subnormal)
glue("relative", relative)
glue("relative_scaled", relative_s)
assert flushed > 0 and subnormal > 0.5 and flushed_s == 0 and subnormal_s < 0.01
assert relative_s <= 2.0**-11 and np.abs(grads).max() * 2**16 < 65504  # fp16's unit roundoff; no overflow
show(numerics.numerics_fp16_gradients())

# %% [markdown]
# ## The dynamic loss scale, against torch.amp.GradScaler
#
# Both scalers drive SGD on the same stream of fp16-cast gradients (with a spike every 50 steps
# that overflows fp16). At every step we compare the scale, whether the step was taken, and the
# parameters.

# %%
def torch_scale_history(steps=300, growth_interval=20, seed=0):
    rng, param = np.random.default_rng(seed), torch.zeros(8, requires_grad=True)
    optimizer = torch.optim.SGD([param], lr=1e-3)
    scaler = torch.amp.GradScaler("cpu", growth_interval=growth_interval)
    scales, stepped = [], []
    for t in range(steps):
        scaler.scale(torch.ones(()))  # torch creates its scale tensor lazily
        scales.append(scaler.get_scale())
        param.grad = torch.from_numpy(numerics.overflow_stream(rng, t, scaler.get_scale()))
        before = param.detach().clone()
        scaler.step(optimizer)
        stepped.append(not torch.equal(before, param.detach()))
        scaler.update()
    return np.array(scales), np.array(stepped), param.detach().numpy()


ours_scales, ours_stepped = numerics.scale_history()
torch_scales, torch_stepped, _ = torch_scale_history()
skipped = glue("skipped", int((~ours_stepped).sum()))
print(f"scales equal at all 300 steps: {np.array_equal(ours_scales, torch_scales)}; "
      f"skipped steps: ours {skipped}, torch {(~torch_stepped).sum()}; "
      f"scale range {ours_scales.min():.0f} .. {ours_scales.max():.0f}")
assert np.array_equal(ours_scales, torch_scales) and np.array_equal(ours_stepped, torch_stepped)

# the parameters too: the same fp32 SGD steps on identically unscaled gradients
rng, param = np.random.default_rng(0), Parameter(np.zeros(8, dtype=np.float32))
optimizer, scaler = SGD([param], lr=1e-3), GradScaler(growth_interval=20)
for t in range(300):
    param.grad = numerics.overflow_stream(rng, t, scaler.get_scale())
    scaler.step(optimizer)
    scaler.update()
torch_param = torch_scale_history()[2]
scaler_param_error = glue("scaler_param_error", float(np.max(np.abs(param.data - torch_param)) / np.max(np.abs(torch_param))))
print("max |optimlab - torch| / max |torch| parameters after 300 steps:", scaler_param_error)
# float32 both; the same operations rounded in another order: at most about 2^-24 relative per step
assert scaler_param_error <= 300 * 2.0**-24
show(numerics.numerics_loss_scale())

# %% [markdown]
# ## ε in fp16
#
# fp16 rounds $\epsilon = 10^{-8}$ to 0. In Adam's first step a gradient of $10^{-5}$ has
# $g^2 = 10^{-10}$, which also rounds to 0, so the denominator $\sqrt{\hat v} + \epsilon$ is 0:
# the update is $\pm\infty$ (and $0/0 = $ NaN where $g = 0$). Both optimlab's and torch's Adam do
# exactly this on fp16 parameters; $\epsilon = 10^{-6}$ makes the update finite, but the real fix is
# an fp32 optimizer state (master weights).

# %%
def adam_fp16_two_steps(eps, make):
    """Two Adam steps (lr 1e-3) on an fp16 parameter [1, 1] with gradient [1e-5, 0]."""
    param, optimizer, grad = make(eps)
    for _ in range(2):
        param.grad = grad()
        optimizer.step()
    return np.array(param.data if isinstance(param, Parameter) else param.detach().numpy(), dtype=np.float64)


def ours(eps):
    param = Parameter(np.ones(2, dtype=np.float16))
    return param, Adam([param], lr=1e-3, eps=eps), lambda: np.array([1e-5, 0.0], dtype=np.float16)


def theirs(eps):
    param = torch.ones(2, dtype=torch.float16, requires_grad=True)
    return param, torch.optim.Adam([param], lr=1e-3, eps=eps), lambda: torch.tensor([1e-5, 0.0], dtype=torch.float16)


with np.errstate(divide="ignore", invalid="ignore"):
    results = {eps: (adam_fp16_two_steps(eps, ours), adam_fp16_two_steps(eps, theirs)) for eps in (1e-8, 1e-6)}
for eps, (a, b) in results.items():
    print(f"eps={eps:g}: optimlab {a}, torch {b}")
    assert np.array_equal(a, b, equal_nan=True)
assert np.isneginf(results[1e-8][0][0]) and np.isnan(results[1e-8][0][1])
assert np.isfinite(results[1e-6][0]).all()
fp16_eps6_step = glue("fp16_eps6_step", (1 - results[1e-6][0][0]) / 2)

# fp32 master weights and state: the same two steps move by lr each, as Adam's first steps should
model_param = Parameter(np.ones(2, dtype=np.float16))
master = MasterWeights([model_param])
optimizer = Adam(master.master_params, lr=1e-3, eps=1e-8)
for _ in range(2):
    model_param.grad = np.array([1e-5, 0.0], dtype=np.float16)
    master.step(optimizer)
master_step = (1 - master.master_params[0].data[0]) / 2
print(f"mean step per update: fp16 state with eps=1e-6 {fp16_eps6_step:.4f}; fp32 master state {master_step:.6f}")
assert abs(master_step - 1e-3) < 1e-5 and master.master_params[0].data[1] == 1.0

# %% [markdown]
# ## Clipping, against torch
#
# A teaching version of clipping by the global norm, then `clip_grad_norm_` and `clip_grad_value_`
# against `torch.nn.utils` in float64 for the 2-, 1- and ∞-norms.

# %%
def clip_by_global_norm(grads, max_norm):
    """g ← g · min(1, c / (‖g‖ + 1e-6)) with ‖g‖ the norm of all gradients together."""
    total = np.sqrt(sum(float(np.sum(g * g)) for g in grads))
    factor = min(1.0, max_norm / (total + 1e-6))
    return [g * factor for g in grads], total


rng = np.random.default_rng(0)
arrays = [rng.standard_normal(shape) for shape in [(5, 4), (4,), (3, 3, 2)]]
clip_error = 0.0
for norm_type in (2.0, 1.0, float("inf")):
    params = [Parameter(a.copy()) for a in arrays]
    tensors = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    callers = [a.copy() for a in arrays]
    for p, t, g in zip(params, tensors, callers):
        p.grad, t.grad = g, torch.tensor(g)
    norm = clip_grad_norm_(params, 1.5, norm_type)
    torch_norm = float(torch.nn.utils.clip_grad_norm_(tensors, 1.5, norm_type))
    error = max(abs(norm - torch_norm) / torch_norm,
                *(np.max(np.abs(p.grad - t.grad.numpy())) for p, t in zip(params, tensors)))
    clip_error = max(clip_error, error)
    assert all(np.array_equal(g, a) for g, a in zip(callers, arrays))  # the caller's arrays are untouched
    if norm_type == 2.0:
        teaching, teaching_norm = clip_by_global_norm(arrays, 1.5)
        assert abs(teaching_norm - norm) <= 1e-12 * norm
        assert all(np.allclose(a, p.grad, rtol=1e-14, atol=0) for a, p in zip(teaching, params))
    print(f"norm_type={norm_type}: total norm {norm:.4f} (torch {torch_norm:.4f}), clipped to "
          f"{get_total_norm([p.grad for p in params], norm_type):.6f}")
params = [Parameter(a.copy()) for a in arrays]
tensors = [torch.tensor(a.copy()) for a in arrays]
for p, t in zip(params, tensors):
    p.grad, t.grad = p.data.copy(), t.clone()
clip_grad_value_(params, 0.5)
torch.nn.utils.clip_grad_value_(tensors, 0.5)
clip_error = max(clip_error, *(np.max(np.abs(p.grad - t.grad.numpy())) for p, t in zip(params, tensors)))
glue("clip_error", clip_error)
print("largest difference from torch (norms relative, gradients absolute):", clip_error)
assert clip_error <= 1e-12  # float64, the same reductions in another order

# %% [markdown]
# ## Clip after unscaling
#
# With loss scaling the gradients in `p.grad` are $S g$. Clipping them to `max_norm` before unscaling
# clips the norm of $S g$; after the division by $S$ the step is $S$ times too small.

# %%
def clipped_norm(order, scale=2.0**16, max_norm=1.0):
    true_grads = [a * (5.0 / get_total_norm(arrays)) for a in arrays]  # true norm 5
    params = [Parameter(np.zeros(a.shape)) for a in arrays]
    for p, g in zip(params, true_grads):
        p.grad = g * scale  # what backward of S·L leaves
    optimizer, scaler = SGD(params, lr=1.0), GradScaler(init_scale=scale)
    if order == "unscale, then clip":
        guarded_step(optimizer, scaler=scaler, max_grad_norm=max_norm)  # torch's recipe
    else:
        clip_grad_norm_(params, max_norm)
        scaler.step(optimizer)
        scaler.update()
    return get_total_norm([p.data for p in params])  # the step taken, from θ = 0 with lr 1


right, wrong = clipped_norm("unscale, then clip"), clipped_norm("clip, then unscale")
glue("wrong_order_norm", wrong)
print(f"step length: unscale then clip {right:.6f}; clip then unscale {wrong:.3e} (= 1/2^16 = {2**-16:.3e})")
assert abs(right - 1.0) < 1e-6 and abs(wrong - 2.0**-16) < 1e-10

# %% [markdown]
# ## Debugging NaN
#
# Find the first non-finite gradient by name, and let the guard skip the step. Then a classic source:
# $e^x$ overflows fp16 for $x > \ln 65504 \approx 11.09$, so a softmax without the max subtraction
# returns NaN on ordinary logits.

# %%
task = DigitsMLP(seed=0, hidden=32)
optimizer = Adam(task.parameters(), lr=1e-3)
optimizer.zero_grad()
task.loss_and_grad()
params = list(task.parameters())
params[2].grad = params[2].grad.copy()
params[2].grad.flat[3] = np.nan  # a poisoned gradient
culprits = [i for i, p in enumerate(params) if not np.isfinite(p.grad).all()]
before = [p.data.copy() for p in params]
result = guarded_step(optimizer, max_grad_norm=1.0)
print(f"non-finite gradients in parameters {culprits}; stepped: {result.stepped}; "
      f"grad norm {result.grad_norm}")
assert culprits == [2] and not result.stepped and all(np.array_equal(b, p.data) for b, p in zip(before, params))
try:
    get_total_norm([p.grad for p in params], error_if_nonfinite=True)
    raise AssertionError("expected a RuntimeError")
except RuntimeError as exc:
    print("error_if_nonfinite:", str(exc)[:70], "...")

logits = np.array([2.0, 9.0, 12.0], dtype=np.float16)
with np.errstate(over="ignore", invalid="ignore"):
    naive = np.exp(logits) / np.exp(logits).sum()
stable = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
print("naive fp16 softmax:", naive, "  with max subtracted:", stable)
assert np.isnan(naive).any() and np.isfinite(stable).all() and abs(float(stable.sum()) - 1) < 1e-3

# %% [markdown]
# ## Exercises: the answers, checked
#
# **1.** Gradients are at most 10 in magnitude. The largest power-of-two loss scale that cannot
# overflow fp16 is $2^{12}$: $10 \cdot 2^{12} = 40960 \le 65504 < 10 \cdot 2^{13}$.

# %%
assert np.isfinite(np.float16(10 * 2.0**12)) and np.isinf(np.float16(10 * 2.0**13))
print("exercise 1: 10 * 2^12 =", np.float16(10 * 2.0**12), "; 10 * 2^13 ->", np.float16(10 * 2.0**13))

# %% [markdown]
# **2.** `GradScaler()` (init $2^{16}$, growth interval 2000): three overflowing steps, then 4000
# finite ones. The scale halves three times to $2^{13}$ and doubles twice: $2^{15}$.

# %%
param = Parameter(np.zeros(1, dtype=np.float32))
optimizer, scaler = SGD([param], lr=0.0), GradScaler()
for t in range(4003):
    param.grad = np.array([np.inf if t < 3 else 1.0], dtype=np.float32)
    scaler.step(optimizer)
    scaler.update()
print("exercise 2: scale =", scaler.get_scale(), "= 2^15")
assert scaler.get_scale() == 2.0**15

# %% [markdown]
# **3.** Scale $S = 1024$, true gradient norm 0.5, `max_norm = 1`, clipping *before* unscaling: the
# scaled norm 512 is clipped to 1 and the unscaled gradient has norm $1/1024$, where no clipping was
# needed at all.

# %%
params = [Parameter(np.zeros(2))]
params[0].grad = np.array([0.3, 0.4]) * 1024.0  # true norm 0.5, scaled by S
clip_grad_norm_(params, 1.0)
scaler = GradScaler(init_scale=1024.0)
scaler.unscale_(SGD(params, lr=1.0))
effective = get_total_norm([params[0].grad])
print("exercise 3: effective gradient norm", effective, "vs the true 0.5")
assert abs(effective - 1 / 1024) < 1e-9
