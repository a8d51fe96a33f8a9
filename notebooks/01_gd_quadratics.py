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
# # Notebook 1: gradient descent on quadratics
#
# The executable companion of chapter 1. Every number quoted in the chapter is computed (and
# checked) here; change a constant and rerun to see it move.

# %%
import numpy as np
import torch

from optimlab import Parameter
from optimlab.optim import SGD
from optimlab.plots import glue, quadratics, show

np.set_printoptions(precision=4, suppress=True)

# %% [markdown]
# ## A quadratic with known eigenvalues
#
# $f(\theta) = \tfrac12\theta^\top A\theta - b^\top\theta$ with $A = Q\,\mathrm{diag}(\lambda)\,Q^\top$
# for a random rotation $Q$, so we choose the spectrum: $\mu = 1$, $L = 20$, $\kappa = 20$.

# %%
rng = np.random.default_rng(0)
eigenvalues = np.array([1.0, 2.0, 5.0, 10.0, 20.0])
Q, _ = np.linalg.qr(rng.standard_normal((5, 5)))
A = Q @ np.diag(eigenvalues) @ Q.T
b = rng.standard_normal(5)
theta_star = np.linalg.solve(A, b)
theta0 = rng.standard_normal(5)
mu, L = eigenvalues.min(), eigenvalues.max()
kappa = glue("kappa", L / mu)


def grad(theta):
    return A @ theta - b


# %% [markdown]
# ## Gradient descent in five lines, and the library's SGD
#
# The teaching version; then the same run with `optimlab.optim.SGD` (no momentum), which must agree
# to rounding.

# %%
def gradient_descent(grad, theta0, lr, steps):
    """Iterates θ_0 … θ_steps of θ ← θ − η ∇f(θ)."""
    path = [np.array(theta0, dtype=float)]
    for _ in range(steps):
        path.append(path[-1] - lr * grad(path[-1]))
    return np.array(path)


def optimlab_path(grad, theta0, steps, **hyper):
    param = Parameter(np.array(theta0, dtype=float))
    optimizer = SGD([param], **hyper)
    path = [param.data.copy()]
    for _ in range(steps):
        param.grad = grad(param.data)
        optimizer.step()
        path.append(param.data.copy())
    return np.array(path)


lr, steps = 1 / L, 200
teaching = gradient_descent(grad, theta0, lr, steps)
library = optimlab_path(grad, theta0, steps, lr=lr)
print("max |teaching - optimlab| =", np.abs(teaching - library).max())
assert np.abs(teaching - library).max() <= 1e-14

# %% [markdown]
# ## Verification against PyTorch
#
# `torch.optim.SGD` in float64, with the gradient from autograd rather than from our formula.

# %%
def torch_path(theta0, steps, **hyper):
    theta = torch.tensor(theta0, dtype=torch.float64, requires_grad=True)
    A_t, b_t = torch.tensor(A), torch.tensor(b)
    optimizer = torch.optim.SGD([theta], **hyper)
    path = [theta.detach().numpy().copy()]
    for _ in range(steps):
        optimizer.zero_grad()
        (0.5 * theta @ A_t @ theta - b_t @ theta).backward()
        optimizer.step()
        path.append(theta.detach().numpy().copy())
    return np.array(path)


torch_error = np.abs(torch_path(theta0, steps, lr=lr) - library).max()
print(f"max |torch - optimlab| over {steps} steps = {torch_error:.2e}")
assert torch_error <= 1e-12
glue("torch_error", torch_error)

# %% [markdown]
# ## The closed form: $e_t = (I - \eta A)^t e_0$
#
# In the eigenbasis each coordinate of the error is multiplied by $1 - \eta\lambda_i$ per step.

# %%
errors = library - theta_star
t = np.arange(steps + 1)[:, None]
predicted = ((1 - lr * eigenvalues) ** t * (Q.T @ (theta0 - theta_star))) @ Q.T
closed_form_error = np.abs(predicted - errors).max()
print("max |closed form - iterates| =", closed_form_error)
assert closed_form_error <= 1e-12

# %% [markdown]
# ## The stable step size $2/L$
#
# Just below $2/L$ the iterates converge, just above they diverge; at exactly $2/L$ the component
# along the top eigenvector flips sign every step with constant magnitude.

# %%
def final_error(lr, steps=3000):
    return np.linalg.norm(gradient_descent(grad, theta0, lr, steps)[-1] - theta_star)


below, above = final_error(0.99 * 2 / L), final_error(1.01 * 2 / L)
print(f"eta = 0.99 * 2/L: error {below:.2e};  eta = 1.01 * 2/L: error {above:.2e}")
assert below < 1e-10 and above > 1e10

top = Q[:, -1]  # eigenvector of L
edge = (gradient_descent(grad, theta0, 2 / L, 50) - theta_star) @ top
assert np.allclose(edge, edge[0] * (-1.0) ** np.arange(51), rtol=1e-9)
print("component along the top eigenvector at eta = 2/L:", edge[:4], "...")

# %% [markdown]
# ## The best fixed step and its rate
#
# The rate is $\max_i |1 - \eta\lambda_i|$, smallest at $\eta = 2/(\mu + L)$ where it equals
# $(\kappa-1)/(\kappa+1)$. We measure the rate as the ratio of successive errors late in the run.

# %%
def measured_rate(lr, steps=200):
    norms = np.linalg.norm(gradient_descent(grad, theta0, lr, steps) - theta_star, axis=1)
    return (norms[-1] / norms[-101]) ** (1 / 100)


best_lr = 2 / (mu + L)
rate_best = glue("rate_best", measured_rate(best_lr))
rate_one_over_L = glue("rate_one_over_L", measured_rate(1 / L))
print(f"measured rate at 2/(mu+L): {rate_best:.6f}, predicted (kappa-1)/(kappa+1) = {(kappa - 1) / (kappa + 1):.6f}")
print(f"measured rate at 1/L:      {rate_one_over_L:.6f}, predicted 1 - 1/kappa = {1 - 1 / kappa:.6f}")
assert abs(rate_best - (kappa - 1) / (kappa + 1)) < 1e-6
assert abs(rate_one_over_L - (1 - 1 / kappa)) < 1e-6
# no other step size does better: scan a grid
grid = np.linspace(0.01, 1.99, 199) / L
assert all(np.max(np.abs(1 - g * eigenvalues)) >= (kappa - 1) / (kappa + 1) - 1e-12 for g in grid)

# %% [markdown]
# ## Steps grow linearly with the condition number

# %%
show(quadratics.gd_condition_number())

kappas = np.array([10, 30, 100, 300, 1000])
needed = []
for k in kappas:
    errs = np.linalg.norm(quadratics.gd_path(2 / (1 + k), 20 * k, np.diag([1.0, k]), (1.0, 1.0)), axis=1)
    needed.append(quadratics.steps_to_tolerance(errs, 1e-6))
slope = np.polyfit(np.log(kappas), np.log(needed), 1)[0]
print("kappa:", kappas, " steps to 1e-6:", needed, f" log-log slope {slope:.3f}")
assert 0.95 < slope < 1.05
glue("kappa_slope", slope)
glue("steps_kappa_1000", needed[-1])

# %% [markdown]
# ## The figures of the chapter

# %%
show(quadratics.gd_trajectories())
show(quadratics.gd_error_curves())

# %% [markdown]
# ## Saddle points
#
# $f(x, y) = \tfrac12x^2 - \tfrac12y^2 + \tfrac14y^4$ has a saddle at the origin (Hessian
# eigenvalues $1$ and $-1$) and minima at $(0, \pm 1)$. Started exactly on the $x$-axis, gradient
# descent converges to the saddle; an offset of $10^{-6}$ grows by a factor $1 + \eta$ per step until
# the quartic term takes over.

# %%
saddle_lr = 0.1
stuck = quadratics.saddle_path(0.0, lr=saddle_lr, steps=400)
assert np.linalg.norm(stuck[-1]) < 1e-15  # converged to the saddle, not a minimum
hessian_at_saddle = np.diag([1.0, -1.0])
assert np.linalg.eigvalsh(hessian_at_saddle).min() < 0

y0 = 1e-6
escaping = quadratics.saddle_path(y0, lr=saddle_lr, steps=400)
escape_step = int(np.flatnonzero(np.abs(escaping[:, 1]) > 0.5)[0])
linear_prediction = np.log(0.5 / y0) / np.log(1 + saddle_lr)
print(f"|y| > 0.5 after {escape_step} steps; the linearisation predicts {linear_prediction:.1f}")
assert linear_prediction <= escape_step <= linear_prediction + 5
assert abs(abs(escaping[-1, 1]) - 1) < 1e-12  # it ends at a minimum
glue("escape_step", escape_step)
glue("escape_prediction", linear_prediction)
show(quadratics.gd_saddle())

# %% [markdown]
# ## Exercises: the answers, checked
#
# **1.** For $A = \mathrm{diag}(2, 50)$: the largest stable step is $2/L = 0.04$, the best step
# $2/(\mu+L) = 1/26$ with rate $48/52 = 12/13$.

# %%
A1 = np.diag([2.0, 50.0])
runs = {lr: gradient_descent(lambda th: A1 @ th, (1.0, 1.0), lr, 2000)[-1] for lr in (0.0395, 0.0405)}
assert np.linalg.norm(runs[0.0395]) < 1e-10 and np.linalg.norm(runs[0.0405]) > 1e3
path1 = gradient_descent(lambda th: A1 @ th, (1.0, 1.0), 1 / 26, 200)
ratio = np.linalg.norm(path1[-1]) / np.linalg.norm(path1[-2])
print("exercise 1: measured rate", ratio, " 12/13 =", 12 / 13)
assert abs(ratio - 12 / 13) < 1e-12

# %% [markdown]
# **2.** With $\eta = 1/\lambda_i$ the $i$-th error component vanishes after one step, since
# $1 - \eta\lambda_i = 0$. On $\mathrm{diag}(1, 10)$ with $\eta = 1/10$, $\theta_2$ is zero after one step.

# %%
one_step = gradient_descent(lambda th: np.diag([1.0, 10.0]) @ th, (3.0, 4.0), 1 / 10, 1)[-1]
print("exercise 2:", one_step)
assert one_step[1] == 0.0 and one_step[0] == 3.0 * 0.9

# %% [markdown]
# **3.** Steps for a $10^{-6}$ reduction at $\kappa = 100$ with $\eta = 2/(\mu+L)$: the rate is
# $99/101$, so $\lceil \ln 10^{-6} / \ln(99/101) \rceil = 691$ steps (from a start with a
# component along the slowest direction).

# %%
predicted_steps = int(np.ceil(np.log(1e-6) / np.log(99 / 101)))
errs = np.linalg.norm(gradient_descent(lambda th: np.diag([1.0, 100.0]) @ th, (1.0, 0.0), 2 / 101, 1000), axis=1)
measured_steps = quadratics.steps_to_tolerance(errs, 1e-6)
print("exercise 3:", predicted_steps, measured_steps)
assert predicted_steps == measured_steps == 691
