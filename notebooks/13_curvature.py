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
# # Notebook 13: curvature (Newton, L-BFGS, Sophia)
#
# The executable companion of chapter 13. Every number quoted in the chapter is computed (and
# checked) here.

# %%
import numpy as np
import torch

from optimlab.optim import SophiaG
from optimlab.optim.functional import lbfgs_direction
from optimlab.optim.sophia import gnb_sample_labels
from optimlab.plots import curvature, glue, show
from optimlab.problems import Quadratic, Rosenbrock, Saddle
from optimlab.verify.side_by_side import SOPHIA_CONFIGS, sophia_check

np.set_printoptions(precision=4, suppress=True)
rng = np.random.default_rng(0)
rosenbrock = Rosenbrock()

# %% [markdown]
# ## Newton's method
#
# Minimise the local model $f(\theta + d) \approx f + g^\top d + \frac12 d^\top H d$: $d = -H^{-1}g$. First, the
# Rosenbrock Hessian used below is checked against central differences of the library's gradient.

# %%
def hessian_by_differences(grad, point, h=1e-5):
    columns = [(grad(point + h * e) - grad(point - h * e)) / (2 * h) for e in np.eye(len(point))]
    return np.array(columns).T


for point in (rosenbrock.start, np.array([0.3, -0.4]), np.array([1.0, 1.0])):
    exact = curvature.rosenbrock_hessian(rosenbrock, point)
    # central differences: error O(h²·f''''), here below 1e-6 relative
    assert np.allclose(exact, hessian_by_differences(rosenbrock.grad, point), rtol=1e-6, atol=1e-6)
print("closed-form Rosenbrock Hessian = central differences of optimlab's gradient")

# On a quadratic the model is exact: one Newton step lands on the minimiser, whatever the conditioning.
quadratic = Quadratic.ill_conditioned(10, 1e6, seed=0)
one_step = curvature.newton_path(quadratic.grad, lambda p: quadratic.matrix, np.zeros(10), 1)[-1]
newton_quadratic_error = glue("newton_quadratic_error",
                              np.abs(one_step - quadratic.minimizer).max() / np.abs(quadratic.minimizer).max())
print(f"kappa = 1e6 quadratic: one Newton step, relative error {newton_quadratic_error:.1e}")
assert newton_quadratic_error <= 1e-8  # solving with κ = 10⁶ loses about 6 of the 16 digits

# Affine invariance: on f̃(z) = f(Az), ∇f̃ = Aᵀ∇f(Az) and ∇²f̃ = AᵀHA, and Newton's iterates are z_k = A⁻¹θ_k.
A_map = np.array([[3.0, 1.0], [-0.5, 0.2]])


def hessian_rosenbrock(p):
    return curvature.rosenbrock_hessian(rosenbrock, p)


theta_path = curvature.newton_path(rosenbrock.grad, hessian_rosenbrock, rosenbrock.start, 4)
z_path = curvature.newton_path(lambda z: A_map.T @ rosenbrock.grad(A_map @ z),
                               lambda z: A_map.T @ hessian_rosenbrock(A_map @ z) @ A_map,
                               np.linalg.solve(A_map, rosenbrock.start), 4)
affine_error = np.abs(z_path @ A_map.T - theta_path).max() / np.abs(theta_path).max()
print(f"Newton on f(Az), mapped back by A, vs Newton on f: relative difference {affine_error:.1e}")
# The same iterates up to rounding in the 2×2 solves: κ(AᵀHA) reaches 1.8·10⁵ on this path, so each
# solve may lose κ·ε ≈ 2·10⁻¹¹ (measured 4e-12 on one machine, below 1e-12 on another).
assert affine_error <= 1e-10


# %% [markdown]
# ### Quadratic convergence on Rosenbrock
#
# Near the minimiser the error squares at each step: $\|e_{k+1}\| \le C\|e_k\|^2$.

# %%
paths = curvature.rosenbrock_paths()
newton = paths["Newton"]
errors = np.linalg.norm(newton - rosenbrock.minimizer, axis=1)
values = np.array([rosenbrock.value(p) for p in newton])
print("Newton errors:", errors)
print("Newton f:     ", values)
converged = int(np.flatnonzero(errors < 1e-12)[0])
glue("newton_steps", converged)
glue("newton_overshoot", values[1:converged].max())
assert values[1:converged].max() > values[0]  # pure Newton is not a descent method: it overshoots on the way
local = errors[converged - 3:converged]  # the last steps before rounding: e_{k+1}/e_k² stays bounded
constants = local[1:] / local[:-1] ** 2
print("e_{k+1} / e_k^2 near the end:", constants)
assert np.all(constants < 10) and local[-1] < 1e-5

# %% [markdown]
# ### Newton goes to any stationary point
#
# On the saddle $f = \frac12x^2 - \frac12y^2 + \frac14y^4$ (a saddle at the origin, minima at $(0,\pm1)$), the
# Newton step near the origin points *to* the saddle: $H$ has a negative eigenvalue, so $-H^{-1}g$ climbs
# along that direction.

# %%
saddle = Saddle()


def saddle_hessian(p):
    return np.diag([1.0, -1.0 + 3 * p[1] ** 2])


newton_saddle = curvature.newton_path(saddle.grad, saddle_hessian, saddle.start, 5)
print("Newton from", saddle.start, "->", newton_saddle[-1])
glue("newton_saddle_distance", np.linalg.norm(newton_saddle[-1] - saddle.saddle_point))
assert np.linalg.norm(newton_saddle[-1] - saddle.saddle_point) < 1e-12

# %% [markdown]
# ## L-BFGS
#
# The two-loop recursion applies the BFGS inverse-Hessian estimate built from the pairs
# $s_i = \theta_{i+1} - \theta_i$, $y_i = g_{i+1} - g_i$ to $-g$, in $O(md)$ work. Inline version, then the
# library's `lbfgs_direction`, then the defining property of the estimate, the secant equation
# $H y_k = s_k$ for the newest pair.

# %%
def two_loop(g, pairs, gamma):
    """−H g for the L-BFGS estimate with initial H₀ = γI; pairs = [(s_i, y_i)], oldest first."""
    q, alphas = -g.copy(), []
    for s, y in reversed(pairs):
        alpha = (s @ q) / (y @ s)
        q -= alpha * y
        alphas.append(alpha)
    r = gamma * q
    for (s, y), alpha in zip(pairs, reversed(alphas)):
        beta = (y @ r) / (y @ s)
        r += (alpha - beta) * s
    return r


dim, history = 12, 5
A = Quadratic.ill_conditioned(dim, 100.0, seed=1).matrix
pairs = []
for _ in range(history):
    s = rng.normal(size=dim)
    pairs.append((s, A @ s))  # on a quadratic, y = A s
s_last, y_last = pairs[-1]
gamma = (s_last @ y_last) / (y_last @ y_last)
g = rng.normal(size=dim)
old_dirs, old_stps = [y for _, y in pairs], [s for s, _ in pairs]
ro = [1 / (y @ s) for s, y in pairs]
library = lbfgs_direction(g, old_dirs, old_stps, ro, gamma, [None] * history)
two_loop_error = np.abs(two_loop(g, pairs, gamma) - library).max() / np.abs(library).max()
secant = lbfgs_direction(y_last, old_dirs, old_stps, ro, gamma, [None] * history)  # = −H y_k
secant_error = glue("secant_error", np.abs(-secant - s_last).max() / np.abs(s_last).max())
print(f"|inline two-loop - lbfgs_direction| = {two_loop_error:.1e};  |H y_k - s_k| / |s_k| = {secant_error:.1e}")
assert two_loop_error <= 1e-14 and secant_error <= 1e-12

# %% [markdown]
# ### Against torch on Rosenbrock
#
# optimlab's `LBFGS` and `torch.optim.LBFGS`, one iteration per `step`, from $(-1.2, 1)$: with a fixed
# step ($\eta = 0.1$) and with the strong-Wolfe line search.

# %%
torch_errors = {}
for line_search, lr in ((None, 0.1), ("strong_wolfe", 1.0)):
    ours = curvature.lbfgs_path(rosenbrock, rosenbrock.start, 40, line_search_fn=line_search, lr=lr)
    theirs = curvature.lbfgs_path(rosenbrock, rosenbrock.start, 40, torch.optim.LBFGS, line_search_fn=line_search, lr=lr)
    torch_errors[line_search] = np.abs(ours - theirs).max()
print("max |optimlab - torch| over 40 iterations:", torch_errors)
glue("torch_error", max(torch_errors.values()))
# Iterates are O(1). The valley's conditioning (κ ≈ 2500 at the minimum) amplifies last-bit differences
# of the line search's arithmetic to ~1e-12 mid-run before both converge to the same point: 1e-11.
assert max(torch_errors.values()) <= 1e-11

lbfgs = paths["L-BFGS"]
lbfgs_values = np.array([rosenbrock.value(p) for p in lbfgs])
lbfgs_iterations = glue("lbfgs_iterations", int(np.flatnonzero(lbfgs_values < 1e-10)[0]))
gd_values = np.array([rosenbrock.value(p) for p in paths["GD (η = 10⁻³)"]])
glue("gd_final", gd_values[-1])
glue("gd_steps", len(gd_values) - 1)
print(f"L-BFGS below 1e-10 after {lbfgs_iterations} iterations; GD at f = {gd_values[-1]:.2e} after {len(gd_values) - 1} steps")
assert lbfgs_iterations < 40 and gd_values[-1] > 1e-4
show(curvature.curvature_rosenbrock(paths))

# %% [markdown]
# ## Sophia
#
# Per coordinate: $\theta \leftarrow \theta - \eta\,\mathrm{sign}(m)\min(|m|/(\rho B h + 10^{-15}), 1)$. Where the
# curvature estimate is large the step is the Newton-like $\eta\,m/(\rho B h)$; where it is small, zero or
# negative, the step is clipped to $\eta$.

# %%
h = np.array([0.0, 1e-3, 0.05, 0.1, 1.0, 10.0])  # the GNB estimate is an average of squares: h ≥ 0
steps = curvature.sophia_step(1.0, h, lr=0.1)
expected = -0.1 * np.minimum(1.0 / (h + 1e-15), 1.0)
print("h:", h, "\nstep:", steps)
assert np.allclose(steps, expected, rtol=1e-15, atol=0)
glue("sophia_step_h10", -steps[-1])
show(curvature.sophia_clipping())

# %% [markdown]
# ### The Gauss–Newton–Bartlett estimator
#
# For a softmax cross-entropy with logits $z$ and $p = \mathrm{softmax}(z)$, the gradient on a label $\hat y$ drawn
# from $p$ is $p - e_{\hat y}$, and $\mathbb E_{\hat y\sim p}[(p - e_{\hat y})(p - e_{\hat y})^\top] = \mathrm{diag}(p) - pp^\top$,
# the Hessian of the loss in the logits (the Gauss–Newton matrix in that space). Exact by enumeration,
# then `gnb_sample_labels` drawing from $p$.

# %%
logits = rng.normal(size=6)
p = np.exp(logits - logits.max())
p /= p.sum()
eye = np.eye(6)
expectation = sum(p[k] * np.outer(p - eye[k], p - eye[k]) for k in range(6))
assert np.allclose(expectation, np.diag(p) - np.outer(p, p), rtol=0, atol=1e-15)
draws = 200_000
labels = gnb_sample_labels(np.broadcast_to(logits, (draws, 6)), np.random.default_rng(1))
frequencies = np.bincount(labels, minlength=6) / draws
standard_errors = np.sqrt(p * (1 - p) / draws)
print("p:          ", p, "\nfrequencies:", frequencies)
assert np.all(np.abs(frequencies - p) < 4 * standard_errors)  # a 4-σ binomial band per class

# %% [markdown]
# ### Against the authors' implementation
#
# `optimlab.optim.SophiaG` against `SophiaG` from the `sophia-opt` package (torch), 30 steps, float64,
# parameters, momentum and Hessian estimate compared (with the estimator refreshed every step).

# %%
config = next(c for c in SOPHIA_CONFIGS if c.get("hessian_interval") == 1)
result = sophia_check(config, steps=30, dtype=np.float64, seed=0, build=SophiaG)
print(f"SophiaG({config}) vs sophia_opt.SophiaG: relative error {result.error:.1e}")
glue("sophia_error", result.error)
assert result.ok(1e-12), result.problems  # float64: a few ulp per step, accumulated over 30 steps

# %% [markdown]
# ## Exercises: the answers, checked
#
# **1.** Newton on $f(x) = x^4$ from $x_0 = 1$: $x_{k+1} = x_k - 4x_k^3/(12x_k^2) = \frac23x_k$. Convergence is only linear,
# because $f''(0) = 0$: quadratic convergence needs a non-singular Hessian at the minimum.

# %%
quartic = curvature.newton_path(lambda x: 4 * x**3, lambda x: np.array([[12 * x[0] ** 2]]), [1.0], 10)[:, 0]
assert np.allclose(quartic[1:] / quartic[:-1], 2 / 3, rtol=1e-14)
print("exercise 1: ratios", quartic[1:4] / quartic[:3])

# %% [markdown]
# **2.** L-BFGS with history $m$ in $d$ dimensions stores $2m$ vectors: $2md$ numbers, against $d^2$ for the full
# inverse Hessian. For $d = 10^6$ and $m = 10$: $2\times10^7$ numbers (160 MB in float64) against $10^{12}$ (8 TB).

# %%
d, m = 10**6, 10
assert 2 * m * d * 8 == 160 * 10**6 and d * d * 8 == 8 * 10**12
print("exercise 2: 160 MB vs 8 TB")

# %% [markdown]
# **3.** SophiaG with $\eta = 0.1$, $\rho B = 1$, $\beta_1 = 0$, $g = 1$: where $h = 10$ the step is $0.1/10 = 0.01$; where
# $h = 0.05$ it would be $2$, and is clipped to $\eta = 0.1$.

# %%
both = np.abs(curvature.sophia_step(1.0, np.array([10.0, 0.05]), lr=0.1))
print("exercise 3:", both)
assert np.allclose(both, [0.01, 0.1], rtol=1e-14)
