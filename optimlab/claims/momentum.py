r"""Claims about momentum (chapter 3): the 1/(1 − β) amplification (5), torch's form vs the averaging
form (6), Nesterov as a change of variables (7) and heavy ball's stability interval (8).

Runs use ``optimlab.optim.SGD`` (checked against torch elsewhere) on quadratics in float64.
"""

from __future__ import annotations

import numpy as np

from optimlab.claims.registry import CAVEAT, HOLDS, NOT_HERE, Verdict, claim, verdict_if
from optimlab.optim import SGD
from optimlab.problems import Quadratic, run_optimizer


def momentum_steps(beta: float, steps: int, *, lr: float = 1.0, grad: float = 1.0) -> np.ndarray:
    """Step sizes θ_{t−1} − θ_t of ``SGD(momentum=β)`` under a constant gradient, t = 1 … steps."""
    quadratic_free = _ConstantGradient(grad)
    path = run_optimizer(quadratic_free, SGD, steps, lr=lr, momentum=beta).points[:, 0]
    return path[:-1] - path[1:]


class _ConstantGradient:
    """f(θ) = g·θ in one dimension: the gradient is g everywhere."""

    dim, start = 1, np.zeros(1)

    def __init__(self, grad: float):
        self.g = float(grad)

    def value(self, x):
        return self.g * x[0]

    def grad(self, x):
        return np.full(1, self.g)


@claim(5, "Momentum multiplies the effective step along a consistent gradient by 1/(1−β)", kind="E",
       topic="momentum",
       criterion="steps of SGD(momentum = β) under a constant g equal η g (1 − βᵗ)/(1 − β) to 10⁻¹² relative at "
                 "every t (θ reaches 3·10⁵, so differencing iterates costs ≈ |θ|·2⁻⁵² on steps ≤ 100); after 300 steps the step / (η g) is 1/(1 − β) to 10⁻¹²",
       scale="β = 0.5, 0.9, 0.99 (the last needs ≈ 3000 steps to reach 1/(1 − β)), float64",
       judge=lambda e: verdict_if(e["max_partial_sum_rel_error"] <= 1e-12 and e["beta_0.9_final_rel_error"] <= 1e-12,
                                  Verdict(CAVEAT, "only asymptotically: after t steps the factor is (1 − βᵗ)/(1 − β); "
                                                  f"at β = 0.99 it is {e['beta_0.99_at_100']:.1f}, not 100, after 100 "
                                                  "steps"),
                                  Verdict(NOT_HERE, "the step does not follow the geometric sum")))
def momentum_amplification() -> dict:
    evidence, errors = {}, []
    for beta, steps in ((0.5, 300), (0.9, 300), (0.99, 3000)):
        taken = momentum_steps(beta, steps)
        t = np.arange(1, steps + 1)
        errors.append(np.max(np.abs(taken / ((1 - beta**t) / (1 - beta)) - 1)))
        evidence[f"beta_{beta}_final_rel_error"] = float(abs(taken[-1] * (1 - beta) - 1))
        if beta == 0.99:
            evidence["beta_0.99_at_100"] = float(taken[99])
    evidence["max_partial_sum_rel_error"] = float(max(errors))
    return evidence


def averaging_form_path(problem, steps: int, *, lr: float, beta: float) -> np.ndarray:
    r"""Iterates of the averaging form v_t = βv_{t−1} + (1 − β)g_t, θ_t = θ_{t−1} − ηv_t, v₀ = 0."""
    theta, velocity, points = problem.start.copy(), np.zeros(problem.dim), [problem.start.copy()]
    for _ in range(steps):
        velocity = beta * velocity + (1 - beta) * problem.grad(theta)
        theta = theta - lr * velocity
        points.append(theta)
    return np.stack(points)


@claim(6, "PyTorch's momentum (v ← βv + g) and the averaging form (v ← βv + (1−β)g) are the same method with the "
          "learning rate rescaled by (1−β)", kind="E", topic="momentum",
       criterion="torch form with lr η vs the averaging form with lr η/(1 − β): max |Δθ| ≤ 10⁻¹² over 300 steps; "
                 "torch's own dampening = β option compared to the averaging form with lr η/(1 − β)",
       scale="20-dimensional quadratic (κ = 100), β = 0.9, float64",
       judge=lambda e: verdict_if(e["max_abs_diff"] <= 1e-12,
                                  verdict_if(e["dampening_max_abs_diff"] > 1e-6,
                                             Verdict(CAVEAT, "torch's SGD(dampening=β) is not the averaging form: it "
                                                             "sets its first buffer to g₁ undamped "
                                                             f"(|Δθ| up to {e['dampening_max_abs_diff']:.2g})"),
                                             Verdict(HOLDS)),
                                  Verdict(NOT_HERE, "the two forms' iterates differ")))
def momentum_forms() -> dict:
    problem, beta, lr, steps = Quadratic.ill_conditioned(20, 100.0, seed=0), 0.9, 0.1, 300
    torch_form = run_optimizer(problem, SGD, steps, lr=lr, momentum=beta).points
    averaging = averaging_form_path(problem, steps, lr=lr / (1 - beta), beta=beta)
    dampened = run_optimizer(problem, SGD, steps, lr=lr / (1 - beta), momentum=beta, dampening=beta).points
    return {
        "max_abs_diff": float(np.max(np.abs(torch_form - averaging))),
        "dampening_max_abs_diff": float(np.max(np.abs(dampened - averaging))),
    }


def lookahead_nesterov_path(problem, steps: int, *, lr: float, beta: float) -> tuple[np.ndarray, np.ndarray]:
    r"""Sutskever's form: v_t = βv_{t−1} − η∇f(φ_{t−1} + βv_{t−1}), φ_t = φ_{t−1} + v_t. Returns (φ, v)."""
    phi, velocity = problem.start.copy(), np.zeros(problem.dim)
    phis, velocities = [phi.copy()], [velocity.copy()]
    for _ in range(steps):
        velocity = beta * velocity - lr * problem.grad(phi + beta * velocity)
        phi = phi + velocity
        phis.append(phi)
        velocities.append(velocity)
    return np.stack(phis), np.stack(velocities)


@claim(7, "PyTorch's Nesterov formula is the look-ahead-gradient form after a change of variables", kind="E",
       topic="momentum",
       criterion="SGD(nesterov=True) iterates θ_t equal φ_t + βv_t of the look-ahead form to 10⁻¹² (max abs) over "
                 "300 steps; θ_t = φ_t itself does not hold (> 10⁻³)",
       scale="20-dimensional quadratic (κ = 100), β = 0.9, η = 0.5, float64",
       judge=lambda e: verdict_if(e["change_of_variables_max_diff"] <= 1e-12 and e["without_change_max_diff"] > 1e-3,
                                  Verdict(HOLDS), Verdict(NOT_HERE, "θ_t ≠ φ_t + βv_t")))
def nesterov_change_of_variables() -> dict:
    problem, beta, lr, steps = Quadratic.ill_conditioned(20, 100.0, seed=0), 0.9, 0.5, 300
    theta = run_optimizer(problem, SGD, steps, lr=lr, momentum=beta, nesterov=True).points
    phi, velocity = lookahead_nesterov_path(problem, steps, lr=lr, beta=beta)
    return {
        "change_of_variables_max_diff": float(np.max(np.abs(theta - (phi + beta * velocity)))),
        "without_change_max_diff": float(np.max(np.abs(theta - phi))),
    }


@claim(8, "Heavy-ball momentum on a quadratic is stable exactly when 0 < ηλ < 2(1+β) for every eigenvalue λ",
       kind="E", topic="momentum",
       criterion="spectral radius of the 2×2 error map < 1 on a grid inside (0, 2(1 + β)) and > 1 just outside "
                 "(ηλ = 2(1 + β)(1 ± 10⁻⁴)); SGD on a quadratic with ηλ_max = 2(1 + β)(1 ∓ 1%) converges / diverges",
       scale="β ∈ [0, 0.99] (50 values), 200 ηλ values each; 10-dimensional quadratic (κ = 10, β = 0.5), 1000 steps",
       judge=lambda e: verdict_if(e["max_radius_inside"] < 1 and e["min_radius_outside"] > 1
                                  and e["final_error_inside"] < e["start_error"] < e["final_error_outside"],
                                  Verdict(HOLDS, "at ηλ = 2(1 + β) itself the radius is "
                                                 f"{e['radius_at_bound']:.12f}: no decay"),
                                  Verdict(NOT_HERE, "the stability region differs")))
def heavy_ball_stability() -> dict:
    from optimlab.plots.momentum import spectral_radius, stability_bound

    betas = np.linspace(0, 0.99, 50)
    bounds = stability_bound(betas)
    h_inside = bounds[:, None] * np.linspace(1e-4, 1 - 1e-4, 200)[None, :]
    beta_grid = np.broadcast_to(betas[:, None], h_inside.shape)
    problem, beta = Quadratic.ill_conditioned(10, 10.0, seed=0), 0.5
    lam_max = problem.eigenvalues[-1]

    def final_error(fraction):
        lr = fraction * float(stability_bound(beta)) / lam_max
        final = run_optimizer(problem, SGD, 1000, lr=lr, momentum=beta).final
        return float(np.linalg.norm(final - problem.minimizer))

    return {
        "max_radius_inside": float(spectral_radius(h_inside, beta_grid).max()),
        "min_radius_outside": float(spectral_radius(bounds * (1 + 1e-4), betas).min()),
        "radius_at_bound": float(spectral_radius(bounds, betas).max()),
        "start_error": float(np.linalg.norm(problem.start - problem.minimizer)),
        "final_error_inside": final_error(0.99),
        "final_error_outside": final_error(1.01),
    }
