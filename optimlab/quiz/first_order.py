"""Questions on gradient descent, momentum and the early adaptive methods (AdaGrad, RMSprop,
Adadelta); every answer runs optimlab's optimizers."""

from __future__ import annotations

import math

import numpy as np

from optimlab.optim import SGD, Adadelta, Adagrad, Adam, RMSprop
from optimlab.parameter import Parameter
from optimlab.problems import Quadratic, run_optimizer
from optimlab.quiz.bank import letter, question
from optimlab.quiz.probes import first_below, first_move, polyak_momentum, run_steps, state_of


def _diagonal(eigenvalues) -> Quadratic:
    return Quadratic(np.diag(np.asarray(eigenvalues, dtype=float)), np.zeros(len(eigenvalues)))


def _steps_to(path: np.ndarray, distance: float) -> int:
    """The first iterate index whose distance to the origin (the minimum) is at most ``distance``."""
    return int(np.argmax(np.linalg.norm(path, axis=1) <= distance))


# -- gradient descent on quadratics -----------------------------------------------------------

@question("gd", "numeric",
          "Gradient descent with learning rate η = {lr} on f(x) = ½·h·x² with h = {curvature}, from x₀ = {start}. "
          "What is x after {steps} steps?",
          "Each step is x ← x − ηhx, so it multiplies x by 1 − ηh = {factor:.6g}; after {steps} steps "
          "x = (1 − ηh)^{steps} · x₀ = {answer:.6g} (optimlab's SGD on the quadratic).",
          params=dict(lr=0.1, curvature=4.0, start=1.0, steps=5))
def gd_iterate(lr, curvature, start, steps):
    path = run_optimizer(_diagonal([curvature]), SGD, steps, start=[start], lr=lr).points[:, 0]
    return {"answer": path[-1], "factor": path[1] / path[0]}


@question("gd", "numeric",
          "Gradient descent on a quadratic whose Hessian has eigenvalues {eigenvalues}. Above what learning rate "
          "does it diverge?",
          "Along an eigenvector with eigenvalue λ the error is multiplied by 1 − ηλ per step, which shrinks it only "
          "while |1 − ηλ| < 1, i.e. η < 2/λ for every λ: the limit is 2/λ_max = {answer:.4g}. optimlab's SGD, "
          "{steps} steps from the all-ones point: at η = {below_lr:.4g} the distance to the minimum is {below:.3g}, "
          "at η = {above_lr:.4g} it is {above:.3g}.",
          params=dict(eigenvalues=(0.5, 2.0, 8.0), margin=0.02, steps=300))
def gd_divergence_threshold(eigenvalues, margin, steps):
    problem = _diagonal(eigenvalues)
    limit = 2 / problem.eigenvalues[-1]
    distance = {}
    for side, lr in (("below", limit * (1 - margin)), ("above", limit * (1 + margin))):
        final = run_optimizer(problem, SGD, steps, start=np.ones(problem.dim), lr=lr).final
        distance[side], distance[side + "_lr"] = float(np.linalg.norm(final)), lr
    assert distance["below"] < 1 < distance["above"]
    return {"answer": limit, **distance}


@question("gd", "numeric",
          "Gradient descent with η = 1/L on a quadratic with condition number κ = {kappa}. How many steps until "
          "the error along the flattest direction has shrunk {reduction}-fold?",
          "With η = 1/L the error along the eigenvalue μ = L/κ shrinks by 1 − μ/L = 1 − 1/κ per step, so it needs "
          "ln({reduction})/(−ln(1 − 1/κ)) ≈ κ·ln({reduction}) = {estimate:.1f} steps; optimlab's SGD crossed the mark "
          "at step {answer}. Gradient descent's cost grows linearly with κ.",
          params=dict(kappa=100.0, reduction=10.0), rtol=0.02)
def gd_condition_number_steps(kappa, reduction):
    problem = _diagonal([1.0, 1.0 / kappa])
    lr = 1 / problem.eigenvalues[-1]
    path = run_optimizer(problem, SGD, int(10 * kappa * math.log(reduction)), start=[0.0, 1.0], lr=lr).points
    return {"answer": _steps_to(path, 1 / reduction), "estimate": kappa * math.log(reduction)}


@question("gd", "numeric",
          "Quadratic with smallest and largest eigenvalues μ = {mu} and L = {L}. With the best fixed learning rate "
          "η = 2/(μ + L), by what factor does gradient descent shrink the error per step?",
          "The factors along the extreme eigenvectors are |1 − ημ| and |1 − ηL|; η = 2/(μ + L) = {lr:.4g} makes them "
          "equal to (L − μ)/(L + μ) = (κ − 1)/(κ + 1) = {answer:.6g}, the best any fixed step achieves. "
          "Measured on optimlab's SGD: ‖x_(t+1)‖/‖x_t‖ = {answer:.6g}.",
          params=dict(mu=1.0, L=9.0))
def gd_best_fixed_rate(mu, L):
    lr = 2 / (mu + L)
    path = run_optimizer(_diagonal([L, mu]), SGD, 10, start=[1.0, 1.0], lr=lr).points
    norms = np.linalg.norm(path, axis=1)
    return {"answer": norms[-1] / norms[-2], "lr": lr}


@question("gd", "choice",
          "Gradient descent on f(x) = ½·L·x² with L = {L} and learning rate η = {factor}/L. What happens?",
          "With η = {factor}/L each step multiplies x by 1 − ηL = {multiplier:.4g}. optimlab's SGD from x₀ = 1: "
          "x₁ = {x1:.4g}, x₂ = {x2:.4g}, x₃ = {x3:.4g}: the sign flips every step and |x| grows, so it diverges "
          "(the limit is η < 2/L).",
          params=dict(L=4.0, factor=2.5),
          choices=("it converges, slowly", "it oscillates around the minimum and converges",
                   "it oscillates with growing amplitude and diverges", "it lands on the minimum in one step"))
def gd_learning_rate_too_large(L, factor):
    x = run_optimizer(_diagonal([L]), SGD, 3, start=[1.0], lr=factor / L).points[:, 0]
    oscillates, grows = bool(np.all(x[1:] * x[:-1] < 0)), bool(abs(x[-1]) > abs(x[0]))
    pick = 3 if x[1] == 0 else 2 if oscillates and grows else 1 if oscillates else 0
    return {"answer": letter(pick), "multiplier": x[1] / x[0], "x1": x[1], "x2": x[2], "x3": x[3]}


# -- momentum and Nesterov ----------------------------------------------------------------------

@question("momentum", "numeric",
          "SGD with momentum β = {beta} (torch's form b ← βb + g, θ ← θ − ηb), learning rate η = {lr}, and the same "
          "gradient g = {grad} at every step. How far does θ move on step {steps}?",
          "The buffer is the geometric sum b_t = (1 + β + … + β^(t−1))·g = (1 − β^t)/(1 − β)·g, so the move on step "
          "t is η·g·(1 − β^t)/(1 − β) = {answer:.6g}; it tends to η·g/(1 − β) = {limit:.6g}: momentum multiplies the "
          "effective step along a consistent gradient by 1/(1 − β) = {gain:.4g}.",
          params=dict(beta=0.9, lr=0.01, grad=1.0, steps=20))
def momentum_consistent_gradient(beta, lr, grad, steps):
    path, _ = run_steps(SGD, [0.0], [grad] * steps, lr=lr, momentum=beta)
    long_path, _ = run_steps(SGD, [0.0], [grad] * (steps * 50), lr=lr, momentum=beta)
    limit = float(long_path[-2, 0] - long_path[-1, 0])
    return {"answer": float(path[-2, 0] - path[-1, 0]), "limit": limit, "gain": limit / (lr * grad)}


@question("momentum", "numeric",
          "torch-style momentum with β = {beta} receives the gradients {grads} on its first three steps. What is "
          "the momentum buffer after the third step?",
          "torch starts the buffer at the first gradient, b₁ = g₁ = {b1:.6g}, then b ← βb + g: b₂ = {b2:.6g}, "
          "b₃ = {answer:.6g} (read from optimlab's SGD state 'momentum_buffer').",
          params=dict(beta=0.9, grads=(1.0, -2.0, 3.0)))
def momentum_buffer(beta, grads):
    param_buffers = []
    for steps in range(1, len(grads) + 1):
        _, optimizer = run_steps(SGD, [0.0], grads[:steps], lr=0.1, momentum=beta)
        param_buffers.append(float(state_of(optimizer)["momentum_buffer"][0]))
    return {"answer": param_buffers[2], "b1": param_buffers[0], "b2": param_buffers[1]}


@question("momentum", "numeric",
          "Heavy-ball momentum with β = {beta} on f(x) = ½·λx² with λ = {curvature}. Above what learning rate "
          "does it diverge?",
          "The iteration (x_(t+1), x_t) is linear with characteristic polynomial z² − (1 + β − ηλ)z + β; both roots "
          "lie inside the unit circle exactly when 0 < ηλ < 2(1 + β). Bisecting the learning rate on optimlab's SGD "
          "(does |x| shrink over {steps} steps?) finds the edge at η = {answer:.4g}, and 2(1 + β)/λ = {formula:.4g}.",
          params=dict(beta=0.9, curvature=1.0, steps=300))
def momentum_stability_edge(beta, curvature, steps):
    problem = _diagonal([curvature])

    def converges(lr):
        with np.errstate(over="ignore", invalid="ignore"):  # the runs past the edge overflow
            return abs(run_optimizer(problem, SGD, steps, start=[1.0], lr=lr, momentum=beta).final[0]) < 1

    low, high = 0.0, 1.0 / curvature
    while converges(high):
        low, high = high, 2 * high
    for _ in range(16):
        middle = (low + high) / 2
        low, high = (middle, high) if converges(middle) else (low, middle)
    return {"answer": low, "formula": 2 * (1 + beta) / curvature}


@question("momentum", "numeric",
          "SGD with Nesterov momentum (torch: θ ← θ − η(g + βb)), β = {beta}, learning rate η = {lr}, first "
          "gradient g = {grad}. How far does θ move on the first step?",
          "On step one b₁ = g, so the move is η(g + βg) = η(1 + β)g = {answer:.6g} (optimlab's SGD with "
          "nesterov=True), {ratio:.4g} times plain SGD's first step.",
          params=dict(beta=0.9, lr=0.1, grad=2.0))
def nesterov_first_step(beta, lr, grad):
    move = -first_move(SGD, [grad], lr=lr, momentum=beta, nesterov=True)[0]
    return {"answer": move, "ratio": move / -first_move(SGD, [grad], lr=lr)[0]}


@question("momentum", "choice",
          "A quadratic with condition number κ = {kappa}. Which first brings every gradient entry below "
          "{tolerance}?",
          "From the same start, gradient descent with η = 1/L needed {gd_steps} steps; heavy ball with Polyak's "
          "tuning η = 4/(√L + √μ)² = {hb_lr:.4g}, β = ((√κ − 1)/(√κ + 1))² = {hb_beta:.4g} needed {hb_steps} "
          "(optimlab's SGD both times). The rate improves from about 1 − 1/κ to about 1 − 1/√κ per step.",
          params=dict(kappa=100.0, tolerance=1e-6),
          choices=("gradient descent with η = 1/L", "heavy-ball momentum with Polyak's η and β",
                   "both need the same number of steps"))
def momentum_versus_gd(kappa, tolerance):
    problem = Quadratic.ill_conditioned(6, kappa, seed=0)
    hb_lr, hb_beta = polyak_momentum(problem)
    steps = int(12 * kappa)
    gd = run_optimizer(problem, SGD, steps, lr=1 / problem.eigenvalues[-1]).points
    hb = run_optimizer(problem, SGD, steps, lr=hb_lr, momentum=hb_beta).points
    gd_steps, hb_steps = first_below(problem, gd, tolerance), first_below(problem, hb, tolerance)
    return {"answer": letter(0 if gd_steps < hb_steps else 1 if hb_steps < gd_steps else 2),
            "gd_steps": gd_steps, "hb_steps": hb_steps, "hb_lr": hb_lr, "hb_beta": hb_beta}


@question("momentum", "short",
          "A training loop with plain SGD (η = {lr}) never calls zero_grad(): each step's gradient is added to "
          "p.grad. What goes wrong?",
          "p.grad becomes the sum of every gradient so far, b_t = b_(t−1) + g_t: heavy-ball momentum with β = 1, "
          "which never forgets. On a quadratic with eigenvalues {eigenvalues}, {steps} steps of optimlab's SGD from "
          "the all-ones point end at distance {with_zero:.3g} from the minimum when the gradients are cleared, "
          "and {without_zero:.3g} when they accumulate: the iterate keeps circling and overshooting instead of "
          "settling.",
          params=dict(lr=0.1, eigenvalues=(1.0, 0.1), steps=500),
          keywords=(("accumulat", "sum", "add", "pile", "previous", "old", "stale", "momentum"),))
def forgotten_zero_grad(lr, eigenvalues, steps):
    problem = _diagonal(eigenvalues)
    distances = {}
    for name, clear in (("with_zero", True), ("without_zero", False)):
        param = Parameter(np.ones(problem.dim))
        optimizer = SGD([param], lr=lr)
        for _ in range(steps):
            if clear:
                optimizer.zero_grad()
            param.accumulate_grad(problem.grad(param.data))
            optimizer.step()
        distances[name] = float(np.linalg.norm(param.data - problem.minimizer))
    assert distances["without_zero"] > 10 * distances["with_zero"]
    return {"answer": "", **distances}


# -- AdaGrad, RMSprop, Adadelta -----------------------------------------------------------------

@question("adaptive", "numeric",
          "AdaGrad with learning rate η = {lr} sees the same gradient g = {grad} at every step. How far does θ move "
          "on step {steps}?",
          "AdaGrad divides by the root of the sum of all squared gradients, √(t·g²) = √t·|g|, so step t moves "
          "η/√t = {answer:.6g} whatever g is (optimlab's Adagrad): the step size only shrinks.",
          params=dict(lr=0.1, grad=3.0, steps=25))
def adagrad_step_size(lr, grad, steps):
    path, _ = run_steps(Adagrad, [0.0], [grad] * steps, lr=lr)
    return {"answer": float(path[-2, 0] - path[-1, 0])}


@question("adaptive", "numeric",
          "RMSprop with α = {alpha} and learning rate η = {lr}, first gradient g = {grad}. How far does θ move on "
          "the first step?",
          "The average starts at zero, so v₁ = (1 − α)g² and the move is ηg/√((1 − α)g²) = η/√(1 − α) = "
          "{answer:.6g}: {ratio:.4g} times η. RMSprop has no bias correction, so its first steps are too large.",
          params=dict(alpha=0.99, lr=0.001, grad=0.5))
def rmsprop_first_step(alpha, lr, grad):
    move = -first_move(RMSprop, [grad], lr=lr, alpha=alpha)[0]
    return {"answer": move, "ratio": move / lr}


@question("adaptive", "numeric",
          "RMSprop with α = {alpha}, learning rate η = {lr}, and the same gradient g = {grad} at every step. How far "
          "does θ move on step {steps}?",
          "After t steps v_t = (1 − α^t)g², so the move is η/√(1 − α^t) = {answer:.6g} (optimlab's RMSprop), close "
          "to η: unlike AdaGrad's, RMSprop's step does not decay to zero.",
          params=dict(alpha=0.99, lr=0.001, grad=0.5, steps=300), rtol=0.03)
def rmsprop_steady_step(alpha, lr, grad, steps):
    path, _ = run_steps(RMSprop, [0.0], [grad] * steps, lr=lr, alpha=alpha)
    return {"answer": float(path[-2, 0] - path[-1, 0])}


@question("adaptive", "numeric",
          "Adadelta with ρ = {rho}, ε = {eps}, lr = {lr} and first gradient g = {grad}. How far does θ move on the "
          "first step?",
          "Adadelta's step is √(u + ε)/√(v + ε)·g with both averages starting at zero: v₁ = (1 − ρ)g², u₀ = 0, so "
          "the move is lr·√ε·g/√((1 − ρ)g² + ε) = {answer:.6g} (optimlab's Adadelta). The numerator starts at √ε, "
          "which is why Adadelta creeps at first.",
          params=dict(rho=0.9, eps=1e-6, lr=1.0, grad=1.0))
def adadelta_first_step(rho, eps, lr, grad):
    return {"answer": float(-first_move(Adadelta, [grad], lr=lr, rho=rho, eps=eps)[0])}


@question("adaptive", "choice",
          "A coordinate sees large gradients ({large}) for {steps} steps, then small ones ({small}) for {steps} "
          "more. Whose per-coordinate step size |Δθ/g| never grows?",
          "optimlab's optimizers with lr = {lr} (defaults otherwise): the largest increase of |Δθ/g| from one step "
          "to the next is {adagrad:.3g} for AdaGrad, {rmsprop:.3g} for RMSprop and {adam:.3g} for Adam. AdaGrad's "
          "denominator is a running sum, so it can only grow; the moving averages forget the large gradients.",
          params=dict(large=10.0, small=0.1, steps=20, lr=0.01),
          choices=("AdaGrad", "RMSprop", "Adam"))
def adagrad_only_shrinks(large, small, steps, lr):
    grads = np.array([large] * steps + [small] * steps)
    growth = {}
    for name, optimizer_cls in (("adagrad", Adagrad), ("rmsprop", RMSprop), ("adam", Adam)):
        path, _ = run_steps(optimizer_cls, [0.0], grads, lr=lr)
        step_size = np.abs(np.diff(path[:, 0])) / grads
        growth[name] = float(np.max(np.diff(step_size)))
    never_grows = [i for i, value in enumerate(growth.values()) if value <= 0]
    assert len(never_grows) == 1
    return {"answer": letter(never_grows[0]), **growth}
