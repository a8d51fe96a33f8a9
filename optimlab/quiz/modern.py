"""Questions on sign and matrix methods (Lion, Muon, Shampoo), large-batch methods (LARS, LAMB) and
curvature methods (L-BFGS, Sophia); every answer runs optimlab's optimizers."""

from __future__ import annotations

import numpy as np

from optimlab.optim import LAMB, LARS, LBFGS, SGD, Adam, Lion, Shampoo, SophiaG
from optimlab.optim.muon import adjusted_lr, newton_schulz
from optimlab.optim.sophia import sophia_init, sophia_update
from optimlab.parameter import Parameter
from optimlab.problems import Quadratic, run_optimizer
from optimlab.quiz.bank import letter, question
from optimlab.quiz.probes import first_below, first_move, polyak_momentum, run_steps
from optimlab.training import accumulate_gradients, split_batch


def _matrix_with_singular_values(singular_values, seed=0) -> np.ndarray:
    """U diag(σ) Vᵀ with random orthogonal U, V (a square matrix)."""
    rng = np.random.default_rng(seed)
    n = len(singular_values)
    u, _ = np.linalg.qr(rng.normal(size=(n, n)))
    v, _ = np.linalg.qr(rng.normal(size=(n, n)))
    return (u * np.asarray(singular_values)) @ v.T


def _relative_moves(optimizer_cls, norms, grad, **hyper) -> list[float]:
    """‖Δθ‖/‖θ‖ of one step for layers (separate parameters) of the given weight norms, same gradient."""
    params = [Parameter(np.full(4, norm / 2.0)) for norm in norms]  # ‖θ‖ = norm for four equal entries
    before = [p.data.copy() for p in params]
    optimizer = optimizer_cls(params, **hyper)
    for p in params:
        p.grad = np.full(4, grad)
    optimizer.step()
    return [float(np.linalg.norm(p.data - b) / np.linalg.norm(b)) for p, b in zip(params, before)]


# -- sign and matrix methods --------------------------------------------------------------------

@question("sign-matrix", "numeric",
          "Lion with learning rate η = {lr}, no weight decay; the first gradient is {grads}. How far does the "
          "coordinate with the smallest gradient move?",
          "Lion steps by η·sign(β₁m + (1 − β₁)g) in every coordinate, so the smallest and the largest gradient "
          "move their coordinates alike: {answer:.6g} and {largest:.6g} (optimlab's Lion). Its steps are as large "
          "as the lr everywhere, which is why Lion wants a smaller lr than AdamW.",
          params=dict(lr=1e-4, grads=(1e-6, 0.3, 500.0)))
def lion_uniform_move(lr, grads):
    moves = np.abs(first_move(Lion, np.array(grads), lr=lr))
    return {"answer": float(moves[0]), "largest": float(moves[-1])}


@question("sign-matrix", "numeric",
          "Lion (lion-pytorch's convention) with learning rate η = {lr} and weight_decay λ = {wd}; a weight θ = {theta} "
          "gets a zero gradient. By how much does θ shrink in one step?",
          "sign(0) = 0, so only the decay acts: θ ← (1 − ηλ)θ = {after:.8g}, a shrink of ηλθ = {answer:.6g} "
          "(optimlab's Lion). The decay is "
          "multiplied by the lr, so Lion's smaller lr needs a larger λ for the same decay.",
          params=dict(lr=1e-4, wd=1.0, theta=2.0))
def lion_decay(lr, wd, theta):
    path, _ = run_steps(Lion, [theta], [0.0], lr=lr, weight_decay=wd)
    return {"answer": float(path[0, 0] - path[1, 0]), "after": float(path[1, 0])}


@question("sign-matrix", "choice",
          "The gradients {grads} (two coordinates, two steps). Which optimizer moves both coordinates by exactly "
          "the same amount on every step?",
          "optimlab's optimizers at lr = {lr}, the largest ratio between the two coordinates' moves over both steps: "
          "SGD {sgd:.4g}, Adam {adam:.4g}, Lion {lion:.4g}. Lion's update is a sign; Adam's first step is close to "
          "uniform but its second is not.",
          params=dict(grads=((0.001, 5.0), (0.002, -5.0)), lr=1e-3),
          choices=("SGD", "Adam", "Lion"))
def sign_update_is_uniform(grads, lr):
    ratios = {}
    for name, optimizer_cls in (("sgd", SGD), ("adam", Adam), ("lion", Lion)):
        moves = np.abs(np.diff(run_steps(optimizer_cls, np.zeros(2), np.array(grads), lr=lr)[0], axis=0))
        ratios[name] = float(np.max(moves.max(axis=1) / moves.min(axis=1)))
    uniform = [i for i, ratio in enumerate(ratios.values()) if ratio == 1.0]
    assert len(uniform) == 1
    return {"answer": letter(uniform[0]), **ratios}


@question("sign-matrix", "numeric",
          "torch's Muon (default adjust_lr_fn) with lr η = {lr} on a {rows}×{cols} weight matrix. What learning rate "
          "multiplies the orthogonalised update?",
          "The orthogonalised update has unit singular values, so its RMS is about 1/√max(n, m); torch scales the lr "
          "by √max(1, n/m) = {scale:.4g}, giving {answer:.6g} (optimlab's adjusted_lr).",
          params=dict(lr=0.02, rows=3072, cols=768))
def muon_lr_adjustment(lr, rows, cols):
    value = adjusted_lr(lr, None, (rows, cols))
    return {"answer": value, "scale": value / lr}


@question("sign-matrix", "numeric",
          "Muon's Newton–Schulz iteration ({steps} steps, Muon's quintic coefficients, in float64) on a matrix whose "
          "singular values run from 1 down to {smallest}. What is the smallest singular value of the result?",
          "The quintic is tuned to push every singular value into a band around 1 quickly, not to converge to "
          "exactly 1: after {steps} steps optimlab's newton_schulz gives singular values from {answer:.4g} to "
          "{largest:.4g}. It is an approximate orthogonalisation (UVᵀ would have them all equal to 1).",
          params=dict(steps=5, smallest=0.01, size=16))
def newton_schulz_band(steps, smallest, size):
    matrix = _matrix_with_singular_values(np.geomspace(1.0, smallest, size))
    singular = np.linalg.svd(newton_schulz(matrix, steps=steps, ns_dtype=None), compute_uv=False)
    return {"answer": float(singular.min()), "largest": float(singular.max())}


@question("sign-matrix", "choice",
          "Shampoo (paper convention, ε = {eps}) takes its first step on a {size}×{size} gradient G = USVᵀ. What is "
          "its preconditioned direction L^(−1/4)·G·R^(−1/4), with L = εI + GGᵀ and R = εI + GᵀG?",
          "With ε ≪ σ², L^(−1/4) ≈ U S^(−1/2) Uᵀ and R^(−1/4) ≈ V S^(−1/2) Vᵀ, so the direction is U S^(−1/2) S "
          "S^(−1/2) Vᵀ = UVᵀ. optimlab's Shampoo: the largest entry-wise distance to UVᵀ is {to_polar:.2g}, to "
          "G/‖G‖ {to_normalised:.2g}, to sign(G) {to_sign:.2g}. Muon computes the same UVᵀ with Newton–Schulz, "
          "without storing L and R.",
          params=dict(eps=1e-8, size=6, lr=1.0),
          choices=("G/‖G‖ (the normalised gradient)", "sign(G)", "UVᵀ (the orthogonal factor of G)"))
def shampoo_first_step(eps, size, lr):
    grad = _matrix_with_singular_values(np.linspace(1.0, 3.0, size), seed=1)
    direction = -first_move(Shampoo, grad, lr=lr, epsilon=eps) / lr
    u, _, vt = np.linalg.svd(grad)
    distances = [float(np.max(np.abs(direction - candidate)))
                 for candidate in (grad / np.linalg.norm(grad), np.sign(grad), u @ vt)]
    return {"answer": letter(int(np.argmin(distances))), "to_normalised": distances[0], "to_sign": distances[1],
            "to_polar": distances[2]}


# -- large batches: LARS and LAMB ----------------------------------------------------------------

@question("large-batch", "numeric",
          "LARS without momentum, lr η = {lr}, trust coefficient k = {k}, no weight decay; a layer with ‖θ‖ = {norm} "
          "gets a gradient of norm {grad_norm}. What is the norm of its step?",
          "LARS scales the layer's gradient by the trust ratio k‖θ‖/‖g‖, so the step is η·k‖θ‖ = {answer:.6g} "
          "whatever ‖g‖ is (optimlab's LARS): each layer moves by a fixed fraction η·k = {fraction:.4g} of its norm.",
          params=dict(lr=1.0, k=0.001, norm=20.0, grad_norm=0.05))
def lars_step_norm(lr, k, norm, grad_norm):
    theta = np.full(4, norm / 2.0)  # four equal entries: ‖θ‖ = norm
    move = first_move(LARS, np.full(4, grad_norm / 2.0), start=theta, lr=lr, momentum=0.0, trust_coefficient=k)
    answer = float(np.linalg.norm(move))
    return {"answer": answer, "fraction": answer / norm}


@question("large-batch", "numeric",
          "LAMB with lr η = {lr} and no weight decay takes its first step on a layer with ‖θ‖ = {norm}. What is "
          "‖Δθ‖/‖θ‖?",
          "LAMB rescales the Adam direction r by ‖θ‖/‖r‖, so ‖Δθ‖ = η‖θ‖ and the ratio is {answer:.6g} (optimlab's "
          "LAMB; trust ratio {ratio:.4g} on this step): the lr is a relative step per layer.",
          params=dict(lr=0.01, norm=5.0))
def lamb_relative_step(lr, norm):
    param = Parameter(np.full(4, norm / 2.0))
    optimizer = LAMB([param], lr=lr)
    param.grad = np.array([0.1, -2.0, 0.5, 3.0])
    optimizer.step()
    (state,) = optimizer.state.values()
    return {"answer": float(np.linalg.norm(param.data - norm / 2.0) / norm), "ratio": state["trust_ratio"]}


@question("large-batch", "choice",
          "LAMB on a layer whose weights are all zero (a fresh bias), lr η = {lr}. What happens on the first step?",
          "‖θ‖ = 0 would make the trust ratio ‖θ‖/‖r‖ zero and freeze the layer forever, so the ratio is set to 1 "
          "when either norm is zero: optimlab's LAMB moved the layer by ‖Δθ‖ = {move:.4g} with trust ratio "
          "{ratio:.4g}, an ordinary Adam step.",
          params=dict(lr=0.01),
          choices=("the layer never moves (trust ratio 0)", "it takes a plain Adam step (trust ratio 1)",
                   "the step is NaN (0/0)"))
def lamb_zero_weights(lr):
    param = Parameter(np.zeros(4))
    optimizer = LAMB([param], lr=lr)
    param.grad = np.array([0.5, -1.0, 2.0, 0.1])
    optimizer.step()
    (state,) = optimizer.state.values()
    move = float(np.linalg.norm(param.data))
    pick = 2 if not np.isfinite(move) else 0 if move == 0 else 1
    return {"answer": letter(pick), "move": move, "ratio": state["trust_ratio"]}


@question("large-batch", "choice",
          "Two layers with weight norms {norms} get the same gradient. Which optimizer moves both by the same "
          "fraction of their norm?",
          "‖Δθ‖/‖θ‖ of one step, first layer over second (optimlab's optimizers): SGD {sgd:.4g}, Adam {adam:.4g}, "
          "LARS {lars:.4g}. SGD and Adam move both layers by the same absolute amount, so the small layer changes "
          "far faster; LARS's trust ratio makes the step proportional to the weight norm.",
          params=dict(norms=(0.5, 50.0), grad=0.1),
          choices=("SGD", "Adam", "LARS"))
def layerwise_relative_step(norms, grad):
    ratios = {}
    for name, optimizer_cls, hyper in (("sgd", SGD, {"lr": 0.01}), ("adam", Adam, {"lr": 0.01}),
                                       ("lars", LARS, {"lr": 1.0, "momentum": 0.0})):
        first, second = _relative_moves(optimizer_cls, norms, grad, **hyper)
        ratios[name] = first / second
    pick = int(np.argmin([abs(np.log(ratio)) for ratio in ratios.values()]))
    return {"answer": letter(pick), **ratios}


@question("large-batch", "short",
          "To simulate a large batch you accumulate {k} micro-batches, back-propagating each micro-batch's mean loss "
          "but forgetting to divide it by {k}. What goes wrong with SGD, and with Adam?",
          "The accumulated gradient is the sum of {k} micro-batch means, {ratio:.4g} times the full-batch gradient "
          "(optimlab's accumulate_gradients with reduction 'sum' against 'mean', least squares on {n} points). SGD's "
          "step is therefore {sgd_ratio:.4g} times too large, an lr silently multiplied by k; Adam's step changes by "
          "a relative {adam_change:.2g} only, since m̂/√v̂ is invariant to the gradient's scale (up to ε).",
          params=dict(k=4, n=64),
          keywords=(("larger", "bigger", "too large", "too big", "times", "×", "multipl", "scaled", "sum"),))
def accumulation_without_mean(k, n):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(n, 3)), rng.normal(size=n)
    moves = {}
    for optimizer_cls in (SGD, Adam):
        for reduction in ("mean", "sum"):
            param = Parameter(np.zeros(3))
            optimizer = optimizer_cls([param], lr=0.01)

            def loss_and_grad(batch, loss_scale):
                inputs, targets = batch
                residual = inputs @ param.data - targets
                param.accumulate_grad(loss_scale * inputs.T @ residual / len(targets))  # ∇ of the mean ½r²
                return float(np.mean(residual**2) / 2)

            accumulate_gradients(loss_and_grad, split_batch((x, y), k), reduction=reduction)
            moves[optimizer_cls.__name__, reduction, "grad"] = np.linalg.norm(param.grad)
            optimizer.step()
            moves[optimizer_cls.__name__, reduction] = param.data.copy()
    ratio = moves["SGD", "sum", "grad"] / moves["SGD", "mean", "grad"]
    sgd_ratio = np.linalg.norm(moves["SGD", "sum"]) / np.linalg.norm(moves["SGD", "mean"])
    adam_change = np.max(np.abs(moves["Adam", "sum"] / moves["Adam", "mean"] - 1))
    return {"answer": "", "ratio": float(ratio), "sgd_ratio": float(sgd_ratio), "adam_change": float(adam_change)}


# -- curvature: L-BFGS and Sophia ------------------------------------------------------------------

def _lbfgs_iterations(problem, tolerance) -> int:
    param = Parameter(np.zeros(problem.dim))
    optimizer = LBFGS([param], lr=1.0, max_iter=10 * problem.dim, tolerance_grad=tolerance, tolerance_change=0.0,
                      line_search_fn="strong_wolfe")

    def closure():
        param.grad = problem.grad(param.data)
        return problem.value(param.data)

    optimizer.step(closure)
    return optimizer.state[param]["n_iter"]


@question("curvature", "choice",
          "L-BFGS (torch's, strong-Wolfe line search) on a {dim}-dimensional quadratic with condition number "
          "{kappa}. About how many iterations until every gradient entry is below {tolerance}?",
          "With exact line searches L-BFGS would reproduce conjugate gradients and finish in at most n = {dim} "
          "iterations; the strong-Wolfe search accepts the first point that meets its conditions, so optimlab's "
          "LBFGS (as torch's) needed {iterations}, about {per_dimension:.2g} per dimension, while gradient descent "
          "with η = 1/L needs {gd_steps} steps for the same accuracy.",
          params=dict(dim=8, kappa=100.0, tolerance=1e-8),
          choices=("at most n", "a few times n", "about as many as gradient descent"))
def lbfgs_iterations(dim, kappa, tolerance):
    problem = Quadratic.ill_conditioned(dim, kappa, seed=0)
    path = run_optimizer(problem, SGD, int(40 * kappa), lr=1 / problem.eigenvalues[-1]).points
    gd_steps = first_below(problem, path, tolerance)
    iterations = _lbfgs_iterations(problem, tolerance)
    pick = 0 if iterations <= dim else 1 if iterations < gd_steps / 10 else 2
    return {"answer": letter(pick), "iterations": iterations, "per_dimension": iterations / dim, "gd_steps": gd_steps}


@question("curvature", "numeric",
          "SophiaG with lr η = {lr} and no weight decay, before any Hessian estimate (h = 0); the first gradient is "
          "g = {grad}. How far does θ move?",
          "Sophia steps η·clip(m/(ρ·B·h), 1) per coordinate; with h = 0 the ratio is clipped to 1, so the move is "
          "{answer:.6g}, the lr itself (optimlab's SophiaG). The clip is what keeps Sophia safe where the curvature "
          "estimate is tiny or stale.",
          params=dict(lr=1e-4, grad=3.0))
def sophia_clipped_move(lr, grad):
    return {"answer": float(-first_move(SophiaG, [grad], lr=lr, weight_decay=0.0)[0])}


@question("curvature", "numeric",
          "One SophiaG step (β₁ = {beta1}, ρ = {rho}, batch-size factor B = {bs}, lr η = {lr}, no decay) with first "
          "gradient g = {grad} and Hessian estimate h = {hessian}. How far does θ move?",
          "m₁ = (1 − β₁)g = {m1:.4g}, and |m₁|/(ρ·B·h) = {ratio:.4g} < 1, so the clip is inactive and the move is "
          "η·{ratio:.4g} = {answer:.6g} (optimlab's sophia_update): a Newton-like step m/h, scaled by 1/(ρB).",
          params=dict(beta1=0.965, rho=0.04, bs=5120, lr=1e-4, grad=50.0, hessian=0.02))
def sophia_newton_like_move(beta1, rho, bs, lr, grad, hessian):
    param = np.zeros(1)
    state = sophia_init(param)
    state["hessian"][...] = hessian
    sophia_update(param, np.full(1, grad), state, lr=lr, beta1=beta1, rho=rho, weight_decay=0.0, bs=bs)
    m1 = float(state["exp_avg"][0])
    return {"answer": float(-param[0]), "m1": m1, "ratio": float(-param[0]) / lr}


@question("curvature", "choice",
          "A {dim}-dimensional quadratic with condition number {kappa}. Which reaches a gradient below {tolerance} in "
          "fewer iterations?",
          "optimlab, same start: L-BFGS (strong Wolfe) took {lbfgs} iterations, heavy-ball momentum with Polyak's "
          "tuning {momentum} steps. Curvature pairs let L-BFGS build up the inverse Hessian within a small multiple of n iterations; "
          "momentum still pays about √κ per digit (each L-BFGS iteration costs a few function evaluations, though).",
          params=dict(dim=10, kappa=1e4, tolerance=1e-6),
          choices=("L-BFGS", "heavy-ball momentum", "they tie"))
def lbfgs_versus_momentum(dim, kappa, tolerance):
    problem = Quadratic.ill_conditioned(dim, kappa, seed=1)
    lr, beta = polyak_momentum(problem)
    path = run_optimizer(problem, SGD, int(20 * np.sqrt(kappa)), lr=lr, momentum=beta).points
    momentum = first_below(problem, path, tolerance)
    lbfgs = _lbfgs_iterations(problem, tolerance)
    return {"answer": letter(0 if lbfgs < momentum else 1 if momentum < lbfgs else 2), "lbfgs": lbfgs,
            "momentum": momentum}
