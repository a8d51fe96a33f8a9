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
# # Notebook 3: momentum and Nesterov
#
# The executable companion of chapter 3. Every number quoted in the chapter is computed (and
# checked) here.

# %%
import numpy as np
import torch

from optimlab import Parameter
from optimlab.optim import SGD
from optimlab.plots import glue, momentum, show
from optimlab.problems import Quadratic

np.set_printoptions(precision=4, suppress=True)

# %% [markdown]
# ## A test problem
#
# A 6-dimensional quadratic with eigenvalues from $\mu = 0.01$ to $L = 1$ ($\kappa = 100$) in a random
# eigenbasis, minimum at $\theta^\star$.

# %%
problem = Quadratic.ill_conditioned(6, 100.0, seed=0)
eigenvalues, Q = np.linalg.eigh(problem.matrix)
mu, L = eigenvalues[0], eigenvalues[-1]
kappa = glue("kappa", L / mu)
theta0 = np.zeros(6)

# %% [markdown]
# ## Heavy ball in torch's convention, inline and in the library
#
# $b_t = \beta b_{t-1} + g_t$ (with $b_1 = g_1$), $\theta_t = \theta_{t-1} - \eta b_t$; Nesterov uses
# $g_t + \beta b_t$ in place of $b_t$.

# %%
def momentum_sgd(grad, theta0, lr, beta, steps, nesterov=False):
    """Iterates of torch-style SGD with momentum (teaching version)."""
    theta, buf = np.array(theta0, dtype=float), None
    path = [theta.copy()]
    for _ in range(steps):
        g = grad(theta)
        buf = g.copy() if buf is None else beta * buf + g  # b ← βb + g
        theta = theta - lr * (g + beta * buf if nesterov else buf)  # θ ← θ − η b (or g + βb)
        path.append(theta)
    return np.array(path)


def optimlab_run(grad, theta0, steps, **hyper):
    param = Parameter(np.array(theta0, dtype=float))
    optimizer = SGD([param], **hyper)
    path = [param.data.copy()]
    for _ in range(steps):
        param.grad = grad(param.data)
        optimizer.step()
        path.append(param.data.copy())
    return np.array(path), optimizer.state[param].get("momentum_buffer")


def torch_run(theta0, steps, **hyper):
    theta = torch.tensor(theta0, dtype=torch.float64, requires_grad=True)
    A_t, star_t = torch.tensor(problem.matrix), torch.tensor(problem.minimizer)
    optimizer = torch.optim.SGD([theta], **hyper)
    path = [theta.detach().numpy().copy()]
    for _ in range(steps):
        optimizer.zero_grad()
        (0.5 * (theta - star_t) @ A_t @ (theta - star_t)).backward()  # autograd, not our formula
        optimizer.step()
        path.append(theta.detach().numpy().copy())
    return np.array(path), optimizer.state[theta]["momentum_buffer"].numpy().copy()


steps, lr, beta = 300, 1.0, 0.9
worst = 0.0
for nesterov in (False, True):
    teaching = momentum_sgd(problem.grad, theta0, lr, beta, steps, nesterov)
    library, library_buf = optimlab_run(problem.grad, theta0, steps, lr=lr, momentum=beta, nesterov=nesterov)
    reference, reference_buf = torch_run(theta0, steps, lr=lr, momentum=beta, nesterov=nesterov)
    inline_error = np.abs(teaching - library).max()
    torch_error = max(np.abs(reference - library).max(), np.abs(reference_buf - library_buf).max())
    print(f"nesterov={nesterov}: |teaching - optimlab| = {inline_error:.1e}, "
          f"|torch - optimlab| (params and momentum_buffer, {steps} steps) = {torch_error:.1e}")
    assert inline_error <= 1e-14 and torch_error <= 1e-12
    worst = max(worst, torch_error)
glue("torch_error", worst)

# %% [markdown]
# ## A consistent gradient: the step grows to $\eta/(1-\beta)$
#
# With a constant gradient $g$, $b_t = (1 + \beta + \dots + \beta^{t-1})\,g = \frac{1-\beta^t}{1-\beta}g$.

# %%
g_const = np.array([1.0, -2.0])
path, _ = optimlab_run(lambda th: g_const, np.zeros(2), 200, lr=0.01, momentum=0.9)
steps_taken = -np.diff(path, axis=0)
t = np.arange(1, 201)[:, None]
assert np.allclose(steps_taken, 0.01 * (1 - 0.9**t) / (1 - 0.9) * g_const, rtol=1e-12, atol=0)
amplification = glue("amplification", (steps_taken[-1] / (0.01 * g_const))[0])
print("last step / (lr * g) =", amplification)
assert abs(amplification - 10) < 1e-8

# %% [markdown]
# ## torch's form and the averaging form
#
# $m_t = \beta m_{t-1} + (1-\beta) g_t$ with $m_0 = 0$ and $\theta_t = \theta_{t-1} - \alpha m_t$. Since
# $m_t = (1-\beta) b_t$ for all $t$, this is torch's method with $\eta = (1-\beta)\alpha$.

# %%
def averaging_momentum(grad, theta0, alpha, beta, steps):
    theta, m = np.array(theta0, dtype=float), np.zeros(len(theta0))
    path = [theta.copy()]
    for _ in range(steps):
        m = beta * m + (1 - beta) * grad(theta)
        theta = theta - alpha * m
        path.append(theta)
    return np.array(path)


alpha = 10.0
averaged = averaging_momentum(problem.grad, theta0, alpha, beta, steps)
torch_form, _ = optimlab_run(problem.grad, theta0, steps, lr=(1 - beta) * alpha, momentum=beta)
form_error = glue("form_error", np.abs(averaged - torch_form).max())
print("max |averaging form - torch form with lr = (1-beta) alpha| =", form_error)
assert form_error <= 1e-12

# torch's dampening=beta (b ← βb + (1−β)g) is *not* the averaging form: its first buffer is g, undamped.
dampened, _ = optimlab_run(problem.grad, theta0, steps, lr=alpha, momentum=beta, dampening=beta)
dampened_torch, _ = torch_run(theta0, steps, lr=alpha, momentum=beta, dampening=beta)
assert np.abs(dampened - dampened_torch).max() <= 1e-12  # optimlab follows torch here too
first_step_ratio = glue("first_step_ratio", np.linalg.norm(dampened[1] - theta0) / np.linalg.norm(averaged[1] - theta0))
dampening_gap = glue("dampening_gap", np.abs(dampened - averaged).max())
print(f"first step, dampening vs averaging: ratio {first_step_ratio:.6f}; largest gap over the run {dampening_gap:.3f}")
assert abs(first_step_ratio - 1 / (1 - beta)) < 1e-9 and dampening_gap > 1e-2

# %% [markdown]
# ## The eigen-direction recurrence
#
# Along eigenvector $q_i$, with $h = \eta\lambda_i$, the error obeys
# $e_t = (1 + \beta - h)e_{t-1} - \beta e_{t-2}$ with $e_1 = (1 - h)e_0$. We check that this scalar
# recurrence (through `momentum.iteration_matrix`) reproduces the library's iterates exactly.

# %%
def predicted_errors(e0, h, beta, steps, nesterov=False):
    first = (1 - h * (1 + beta)) if nesterov else (1 - h)
    errors = [e0, first * e0]
    matrix = momentum.iteration_matrix(h, beta, nesterov)
    for _ in range(steps - 1):
        errors.append(matrix[0] @ np.array(errors[-1:-3:-1]))
    return np.array(errors)


lr, beta = 1.2, 0.8  # inside both stability regions (checked below)
for nesterov in (False, True):
    path, _ = optimlab_run(problem.grad, theta0, 100, lr=lr, momentum=beta, nesterov=nesterov)
    coordinates = (path - problem.minimizer) @ Q  # error in the eigenbasis
    predicted = np.stack([predicted_errors(coordinates[0, i], lr * lam, beta, 100, nesterov)
                          for i, lam in enumerate(eigenvalues)], axis=1)
    recurrence_error = np.abs(predicted - coordinates).max()
    print(f"nesterov={nesterov}: max |recurrence - iterates| = {recurrence_error:.1e}")
    assert recurrence_error <= 1e-12

# %% [markdown]
# ## The stability region $0 < \eta\lambda < 2(1+\beta)$
#
# First from the spectral radius over a grid, then by running the optimizer just inside and just
# outside the boundary.

# %%
h_grid, beta_grid = np.meshgrid(np.linspace(0.001, 4.5, 900), np.linspace(0.0, 0.99, 100))
for nesterov in (False, True):
    rho = momentum.spectral_radius(h_grid, beta_grid, nesterov)
    bound = momentum.stability_bound(beta_grid, nesterov)
    clear = np.abs(h_grid - bound) > 1e-3  # rounding decides on the boundary itself
    assert np.array_equal((rho < 1)[clear], (h_grid < bound)[clear])


def final_distance(h, beta, nesterov=False, steps=1000):
    path, _ = optimlab_run(lambda th: th, np.ones(1), steps, lr=h, momentum=beta, nesterov=nesterov)
    return abs(path[-1, 0])


for b in (0.0, 0.5, 0.9):
    for nesterov in (False, True) if b > 0 else (False,):  # Nesterov needs momentum > 0
        edge = float(momentum.stability_bound(b, nesterov))
        inside, outside = final_distance(0.98 * edge, b, nesterov), final_distance(1.02 * edge, b, nesterov)
        assert inside < 1e-6 and outside > 1e6, (b, nesterov, inside, outside)  # both finite here
print("stable just inside and divergent just outside the boundary for beta = 0, 0.5, 0.9")
show(momentum.momentum_stability())

# %% [markdown]
# ## Tuned momentum: $\sqrt\kappa$ instead of $\kappa$
#
# Polyak's tuning $\eta = 4/(\sqrt L + \sqrt\mu)^2$, $\beta = \bigl(\frac{\sqrt\kappa-1}{\sqrt\kappa+1}\bigr)^2$
# gives every eigen-direction the spectral radius $\sqrt\beta = \frac{\sqrt\kappa-1}{\sqrt\kappa+1}$.

# %%
settings = momentum.tuned(kappa, L)
hb_lr, hb_beta, _ = settings["heavy ball"]
radii = momentum.spectral_radius(hb_lr * eigenvalues, hb_beta)
predicted_rate = (np.sqrt(kappa) - 1) / (np.sqrt(kappa) + 1)
print("spectral radius per eigen-direction:", radii, " predicted", predicted_rate)
assert np.allclose(radii, predicted_rate, rtol=0, atol=1e-6)

def measured_rate(errs):
    """Geometric mean ratio per step between 1e-2 and 1e-10 of the initial error (above rounding)."""
    window = np.flatnonzero((errs < 1e-2 * errs[0]) & (errs > 1e-10 * errs[0]))
    t1, t2 = window[0], window[-1]
    return (errs[t2] / errs[t1]) ** (1 / (t2 - t1))


rates, predicted = {}, {}
for name, (lr_, beta_, nesterov_) in settings.items():
    path, _ = optimlab_run(problem.grad, theta0, 2000, lr=lr_, momentum=beta_, nesterov=nesterov_)
    rates[name] = measured_rate(np.linalg.norm(path - problem.minimizer, axis=1))
    predicted[name] = momentum.spectral_radius(lr_ * eigenvalues, beta_, nesterov_).max()
print("measured: ", {k: round(v, 4) for k, v in rates.items()})
print("predicted:", {k: round(v, 4) for k, v in predicted.items()})
glue("rate_gd", rates["GD"])
glue("rate_hb", rates["heavy ball"])
glue("rate_nesterov", rates["Nesterov"])
glue("rate_hb_predicted", predicted["heavy ball"])
glue("rate_nesterov_predicted", predicted["Nesterov"])
assert abs(predicted["heavy ball"] - predicted_rate) < 1e-6
for name in rates:  # repeated roots at the tuned settings give t·ρ^t: the measurement runs slightly above ρ
    assert 0 <= rates[name] - predicted[name] < 0.02, name
assert rates["heavy ball"] < rates["Nesterov"] < rates["GD"]
show(momentum.momentum_trajectories())
show(momentum.momentum_rates())

# %% [markdown]
# ## Nesterov as a change of variables
#
# The look-ahead form evaluates the gradient at $\phi_{t-1} + \beta v_{t-1}$:
# $v_t = \beta v_{t-1} - \eta\nabla f(\phi_{t-1} + \beta v_{t-1})$, $\phi_t = \phi_{t-1} + v_t$.
# With $\theta_t = \phi_t + \beta v_t$ it becomes torch's formula.

# %%
def lookahead_nesterov(grad, phi0, lr, beta, steps):
    phi, v = np.array(phi0, dtype=float), np.zeros(len(phi0))
    thetas = [phi + beta * v]
    for _ in range(steps):
        v = beta * v - lr * grad(phi + beta * v)  # gradient at the look-ahead point
        phi = phi + v
        thetas.append(phi + beta * v)  # the change of variables
    return np.array(thetas)


lookahead = lookahead_nesterov(problem.grad, theta0, 1.0, 0.9, steps)
torch_nesterov, _ = optimlab_run(problem.grad, theta0, steps, lr=1.0, momentum=0.9, nesterov=True)
nesterov_form_error = glue("nesterov_form_error", np.abs(lookahead - torch_nesterov).max())
print("max |look-ahead form mapped by theta = phi + beta v  -  torch's Nesterov| =", nesterov_form_error)
assert nesterov_form_error <= 1e-12

# %% [markdown]
# ## Exercises: the answers, checked
#
# **1.** The largest stable learning rate of heavy ball with $\beta = 0.9$ when $L = 10$ is
# $2(1 + 0.9)/10 = 0.38$; plain gradient descent allows only $0.2$.

# %%
A10 = lambda th: 10.0 * th  # noqa: E731
assert abs(optimlab_run(A10, np.ones(1), 500, lr=0.37, momentum=0.9)[0][-1, 0]) < 1e-6
assert abs(optimlab_run(A10, np.ones(1), 500, lr=0.39, momentum=0.9)[0][-1, 0]) > 1e6
print("exercise 1: eta = 0.37 converges, 0.39 diverges")

# %% [markdown]
# **2.** For $\kappa = 100$, $L = 1$: $\beta = (9/11)^2 = 81/121 \approx 0.669$,
# $\eta = 4/(1 + 0.1)^2 = 400/121 \approx 3.306$, rate $9/11 \approx 0.818$ against $99/101 \approx 0.980$
# for gradient descent: about $\ln(0.980)/\ln(0.818) \approx 10$ times fewer steps.

# %%
lr2, beta2, _ = momentum.tuned(100.0, 1.0)["heavy ball"]
assert np.isclose(beta2, 81 / 121) and np.isclose(lr2, 400 / 121)
speedup = np.log(99 / 101) / np.log(9 / 11)
print(f"exercise 2: beta = {beta2:.4f}, lr = {lr2:.4f}, speed-up {1 / speedup:.2f}x fewer steps")
assert 9.5 < 1 / speedup < 10.5

# %% [markdown]
# **3.** With torch's `dampening = β` (so $b_t = \beta b_{t-1} + (1-\beta)g_t$) the first step is $\eta g_1$, ten times the averaging form's
# $\eta(1-\beta)g_1$ when $\beta = 0.9$ (computed above as `first_step_ratio`).

# %%
g1 = problem.grad(theta0)
first, _ = optimlab_run(problem.grad, theta0, 1, lr=0.1, momentum=0.9, dampening=0.9)
assert np.allclose(theta0 - first[1], 0.1 * g1, rtol=1e-15)
print("exercise 3: first step equals lr * g_1")
