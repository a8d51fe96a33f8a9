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
# # Notebook 2: stochastic and mini-batch gradients
#
# The executable companion of chapter 2. Every number quoted in the chapter is computed (and
# checked) here. The task is `BreastCancerLogistic`: logistic regression with an L2 term
# $\frac\lambda2\|w\|^2$, $\lambda = 10^{-2}$, on the 427 training examples of the Wisconsin breast-cancer data.

# %%
import numpy as np
import torch

from optimlab.optim import SGD
from optimlab.plots import glue, show, stochastic
from optimlab.problems import DigitsMLP, Quadratic, run_optimizer
from optimlab.training import accumulate_gradients, split_batch

np.set_printoptions(precision=4, suppress=True)
problem = stochastic.task(batch_size=32)
x, y = problem.x_train, problem.y_train
n_train = glue("n_train", len(x))

# %% [markdown]
# ## The mini-batch gradient, inline and in the library
#
# With $p_i = \sigma(w^\top x_i + b)$ and mean binary cross-entropy,
# $\nabla_w = \frac1B\sum_{i\in\mathcal B}(p_i - y_i)\,x_i + \lambda w$ and $\nabla_b = \frac1B\sum_{i\in\mathcal B}(p_i - y_i)$.

# %%
def logistic_grad(w, b, xb, yb, l2):
    """Gradient of the mean cross-entropy + (λ/2)‖w‖² on one batch (teaching version)."""
    p = 1 / (1 + np.exp(-(xb @ w + b)))  # predicted probabilities
    residual = (p - yb) / len(xb)
    return np.concatenate([xb.T @ residual + l2 * w, [residual.sum()]])


w, b = problem.model.weight.data.ravel(), problem.model.bias.data[0]
batch = problem.next_batch()
inline = logistic_grad(w, b, batch[0], batch[1].ravel(), stochastic.L2)
library = stochastic.flat_grad(problem, batch)
inline_error = np.abs(inline - library).max() / np.abs(library).max()
print(f"|teaching - optimlab| / max|g| on a batch of 32: {inline_error:.1e}")
assert inline_error <= 1e-14  # same formula; rounding in a different order

# %% [markdown]
# ## Against torch
#
# 200 SGD steps (batch 32, η = 0.5, momentum 0.9) with the same batches in optimlab (hand-written backward
# pass) and in torch (`nn.Linear`, `BCEWithLogitsLoss`, autograd, `torch.optim.SGD`), float64.

# %%
ours = stochastic.task(batch_size=32, batch_seed=1)
linear = torch.nn.Linear(30, 1, dtype=torch.float64)
with torch.no_grad():
    linear.weight.copy_(torch.from_numpy(ours.model.weight.data))
    linear.bias.copy_(torch.from_numpy(ours.model.bias.data))
ours_optimizer = SGD(ours.parameters(), lr=0.5, momentum=0.9)
torch_optimizer = torch.optim.SGD(linear.parameters(), lr=0.5, momentum=0.9)
torch_error = 0.0
for _ in range(200):
    xb, yb = ours.next_batch()
    ours_optimizer.zero_grad()
    ours.loss_and_grad((xb, yb))
    ours_optimizer.step()
    torch_optimizer.zero_grad()
    loss = torch.nn.functional.binary_cross_entropy_with_logits(linear(torch.from_numpy(xb)), torch.from_numpy(yb))
    (loss + 0.5 * stochastic.L2 * (linear.weight**2).sum()).backward()
    torch_optimizer.step()
    for theirs, mine in ((linear.weight, ours.model.weight), (linear.bias, ours.model.bias)):
        torch_error = max(torch_error, np.abs(theirs.detach().numpy() - mine.data).max() / np.abs(mine.data).max())
glue("torch_error", torch_error)
print(f"max relative |torch - optimlab| over 200 steps: {torch_error:.1e}")
assert torch_error <= 1e-12  # float64, two independent implementations of the gradient

# %% [markdown]
# ## Unbiased, with variance $\frac{\sigma^2}{B}\frac{N-B}{N-1}$
#
# The full-batch gradient is the mean of the $N$ per-example gradients, so a batch drawn uniformly is
# unbiased. Its squared error has the exact expectation $\frac{\sigma^2}{B}\frac{N-B}{N-1}$ for sampling
# without replacement (0 at $B = N$), where $\sigma^2 = \frac1N\sum_i\|g_i - \nabla f\|^2$.

# %%
fresh = stochastic.task()
per_example = stochastic.per_example_grads(fresh)
full = stochastic.flat_grad(fresh)
mean_error = np.abs(per_example.mean(axis=0) - full).max() / np.abs(full).max()
print(f"|mean of per-example gradients - full gradient| / max|g| = {mean_error:.1e}")
assert mean_error <= 1e-13  # the mean over 427 rows, summed in a different order

sizes = np.array([1, 4, 16, 64, 256])
draws = 2000
rng = np.random.default_rng(0)
samples = np.array([[np.sum((per_example[rng.choice(n_train, s, replace=False)].mean(axis=0) - full) ** 2)
                     for _ in range(draws)] for s in sizes])
measured, predicted = samples.mean(axis=1), stochastic.predicted_noise(per_example, sizes)
standard_error = samples.std(axis=1) / np.sqrt(draws)
for s, m, p, se in zip(sizes, measured, predicted, standard_error):
    print(f"B = {s:3d}: measured {m:.4e} ± {se:.1e}, predicted {p:.4e}, ratio {m / p:.3f}")
assert np.all(np.abs(measured - predicted) < 4 * standard_error)  # a 4-σ Monte-Carlo band
sigma2 = glue("sigma2", stochastic.predicted_noise(per_example, [1])[0])
glue("noise_ratio_256", predicted[-1] / (sigma2 / 256))
show(stochastic.sgd_gradient_noise())

# %% [markdown]
# ## The noise floor
#
# On a quadratic with Hessian $\mathrm{diag}(h_i)$ and gradient noise of variance $c$ per coordinate, constant-step
# SGD reaches a stationary spread: per coordinate $\mathrm{Var}\,\theta_i = \eta c/(h_i(2 - \eta h_i))$, so
# $\mathbb E[f - f^\star] = \sum_i \eta c/(2(2-\eta h_i)) \approx \frac\eta4\operatorname{tr}C$. We check it with 500
# coordinates, $h_i \in [0.5, 2]$, $c = 1$, $\eta = 0.1$, averaging $f$ over steps 1000 to 4000.

# %%
curvatures = np.linspace(0.5, 2.0, 500)
noisy = Quadratic(np.diag(curvatures), np.zeros(500), noise_std=1.0, seed=0)
values = run_optimizer(noisy, SGD, 4000, start=np.zeros(500), lr=0.1).values
floor_measured = values[1000:].mean()
floor_exact = np.sum(0.1 * 1.0 / (2 * (2 - 0.1 * curvatures)))
floor_approx = glue("floor_approx_ratio", floor_measured / (0.1 / 4 * 500))
glue("floor_exact_ratio", floor_measured / floor_exact)
print(f"noise floor: measured {floor_measured:.3f}, exact stationary value {floor_exact:.3f}, "
      f"eta tr(C)/4 = {0.1 / 4 * 500:.3f}")
# 3000 correlated steps (correlation time ~1/(2ηh) ≤ 10 steps) × 500 coordinates: standard error < 1%.
assert abs(floor_measured / floor_exact - 1) < 0.03


# %% [markdown]
# ## The linear scaling rule, and where it breaks
#
# Five epochs of plain SGD at batch sizes 4 … 256: once with a fixed $\eta = 0.08$ and once with
# $\eta = 0.02\,B$. Excess loss $f(\theta) - f^\star$ on the full training set, mean of two batch orders;
# $f^\star$ from L-BFGS on the full batch.

# %%
scaling = stochastic.linear_scaling()
print("B:      ", scaling["batch_sizes"])
print("fixed:  ", scaling["fixed"])
print("scaled: ", scaling["scaled"])
scaled, fixed = scaling["scaled"], scaling["fixed"]
flat = scaled[:-1]
glue("f_star", scaling["optimum"])
glue("scaled_lo", flat.min())
glue("scaled_hi", flat.max())
glue("scaled_last", scaled[-1])
glue("fixed_last", fixed[-1])
glue("fixed_first", fixed[0])
assert flat.max() < 1.5 * flat.min()  # up to B = 128 the rule keeps the result within a factor 1.5
assert scaled[-1] > 5 * flat.max()  # at B = 256 (8 steps in all) it no longer does
assert np.all(np.diff(fixed) > 0)  # at a fixed lr, larger batches only mean fewer steps
show(stochastic.sgd_linear_scaling(scaling))

# %% [markdown]
# Where it breaks: at $B = 256$ the five epochs are 8 steps of $\eta = 5.12$. The rule assumes that $k$
# small steps at $\eta$ are one step at $k\eta$, i.e. that the gradient hardly changes over $k$ small
# steps. $L_\text{max} = \lambda_\text{max}(X^\top X)/(4N) + \lambda$ bounds the loss's curvature; it is
# only a bound ($\eta L_\text{max}$ is already far above 2 at $B = 128$, where the rule still holds).

# %%
xa = np.hstack([x, np.ones((n_train, 1))])
L_max = np.linalg.eigvalsh(xa.T @ xa / n_train).max() / 4 + stochastic.L2
glue("L_max", L_max)
glue("lr_times_L_128", 0.02 * 128 * L_max)
print(f"L_max = {L_max:.3f};  eta L_max at B = 128: {0.02 * 128 * L_max:.1f}, at B = 256: {0.02 * 256 * L_max:.1f}")

# %% [markdown]
# ## Gradient accumulation
#
# Split a batch of 64 into $k$ equal micro-batches, weight each micro-batch loss by $1/k$ and add the
# gradients: the result is the full batch's mean gradient, up to rounding (for models without
# batch-dependent layers such as batch norm). `accumulate_gradients` does the weighting.

# %%
digits = DigitsMLP(seed=0, hidden=64, dtype=np.float64)
digits_batch = digits.next_batch()


def grads_of(task):
    return np.concatenate([p.grad.ravel() for p in task.parameters()])


for p in digits.parameters():
    p.grad = None
digits.loss_and_grad(digits_batch)
full_batch_grad = grads_of(digits)
accumulation_errors = {}
for k in (2, 4, 8):
    for p in digits.parameters():
        p.grad = None
    accumulate_gradients(digits.loss_and_grad, split_batch(digits_batch, k), reduction="mean")
    accumulation_errors[k] = np.abs(grads_of(digits) - full_batch_grad).max() / np.abs(full_batch_grad).max()
print("k micro-batches: relative difference to the full-batch gradient", accumulation_errors)
glue("accumulation_error", max(accumulation_errors.values()))
assert max(accumulation_errors.values()) <= 1e-14  # the same sum, in k pieces

# Unequal micro-batches weighted 1/k each (not by their size) give a different, biased gradient.
xb, yb = digits_batch
for p in digits.parameters():
    p.grad = None
accumulate_gradients(digits.loss_and_grad, [(xb[:48], yb[:48]), (xb[48:], yb[48:])], reduction="mean")
unequal_error = glue("unequal_error", np.abs(grads_of(digits) - full_batch_grad).max() / np.abs(full_batch_grad).max())
print(f"micro-batches of 48 and 16, weighted 1/2 each: relative difference {unequal_error:.2f}")
assert unequal_error > 0.01

# %% [markdown]
# ## Exercises: the answers, checked
#
# **1.** With $N = 427$, by what factor does a batch of 64 (without replacement) reduce the gradient
# noise $\mathbb E\|\bar g_B - \nabla f\|^2$ compared with $B = 1$? $\frac{1}{64}\cdot\frac{427-64}{426} \approx 1/75$.

# %%
factor = stochastic.predicted_noise(per_example, [64])[0] / sigma2
glue("exercise1_factor", 1 / factor)
print(f"exercise 1: noise(64)/noise(1) = 1/{1 / factor:.1f}")
assert abs(factor - (363 / 426) / 64) < 1e-15

# %% [markdown]
# **2.** A run is tuned at $B = 32$, $\eta = 0.1$. Under the linear scaling rule, $B = 512$ calls for
# $\eta = 1.6$, and 16 times fewer steps per epoch.

# %%
assert 0.1 * 512 / 32 == 1.6
print("exercise 2: lr = 1.6")

# %% [markdown]
# **3.** Accumulating $k = 4$ micro-batches with `reduction="sum"` gives $4\times$ the mean gradient. Plain
# SGD then steps 4 times as far; Adam (with $\epsilon \to 0$) is unchanged, since it ignores the
# gradient's scale (chapter 5).

# %%
for p in digits.parameters():
    p.grad = None
accumulate_gradients(digits.loss_and_grad, split_batch(digits_batch, 4), reduction="sum")
sum_ratio = np.linalg.norm(grads_of(digits)) / np.linalg.norm(full_batch_grad)
print(f"exercise 3: |sum-accumulated| / |mean gradient| = {sum_ratio:.12f}")
assert np.abs(grads_of(digits) - 4 * full_batch_grad).max() <= 1e-14 * 4 * np.abs(full_batch_grad).max()
