"""Questions on Adam (moments, bias correction, ε, AMSGrad, Adamax, NAdam, RAdam) and on weight
decay (L2 in the loss vs decoupled); every answer runs optimlab's optimizers."""

from __future__ import annotations

import math

import numpy as np

from optimlab.optim import SGD, Adam, Adamax, AdamW, NAdam
from optimlab.optim.nadam import nadam_momentum
from optimlab.optim.radam import RHO_THRESHOLD, radam_rectification, radam_rho
from optimlab.parameter import Parameter
from optimlab.problems import Quadratic
from optimlab.quiz.bank import letter, question
from optimlab.quiz.probes import first_move, run_steps, state_of


# -- Adam ------------------------------------------------------------------------------------------

@question("adam", "numeric",
          "Adam with β₁ = {beta1}; the first gradient is g₁ = {grad}. What is the first moment m₁ after the first "
          "step?",
          "m starts at zero and m₁ = β₁·0 + (1 − β₁)g₁ = {answer:.6g} (optimlab's Adam state 'exp_avg'): only "
          "{fraction:.4g} of the gradient, which is why Adam divides by 1 − β₁ᵗ.",
          params=dict(beta1=0.9, grad=4.0))
def adam_first_moment(beta1, grad):
    _, optimizer = run_steps(Adam, [0.0], [grad], lr=1e-3, betas=(beta1, 0.999))
    m1 = float(state_of(optimizer)["exp_avg"][0])
    return {"answer": m1, "fraction": m1 / grad}


@question("adam", "numeric",
          "Adam with β₁ = {beta1}; the first gradient is g₁ = {grad}. What is the bias-corrected first moment m̂₁?",
          "m̂₁ = m₁/(1 − β₁¹) with m₁ = {m1:.6g} from optimlab's Adam state, so m̂₁ = {answer:.6g}: bias correction "
          "restores the gradient exactly on the first step.",
          params=dict(beta1=0.9, grad=4.0))
def adam_corrected_first_moment(beta1, grad):
    _, optimizer = run_steps(Adam, [0.0], [grad], lr=1e-3, betas=(beta1, 0.999))
    state = state_of(optimizer)
    m1 = float(state["exp_avg"][0])
    return {"answer": m1 / (1 - beta1 ** state["step"]), "m1": m1}


@question("adam", "numeric",
          "Adam with learning rate η = {lr} and default β's and ε; the first gradient is g₁ = {grad}. How far does "
          "θ move on the first step?",
          "After bias correction m̂₁ = g and v̂₁ = g², so the move is η·g/(|g| + ε) = {answer:.6g} (optimlab's Adam), "
          "η itself up to ε: Adam's first step has the size of the learning rate whatever the gradient's scale.",
          params=dict(lr=0.001, grad=250.0))
def adam_first_step(lr, grad):
    return {"answer": float(-first_move(Adam, [grad], lr=lr)[0])}


@question("adam", "numeric",
          "Adam with learning rate η = {lr} and ε = {eps}; the first gradient is tiny, g₁ = {grad}. How far does θ "
          "move on the first step?",
          "torch's Adam adds ε outside the root: the move is η·g/(√v̂ + ε) = η·|g|/(|g| + ε) = {answer:.6g} "
          "(optimlab's Adam), only {fraction:.4g} of η: once |g| is comparable to ε, ε damps the step.",
          params=dict(lr=0.001, eps=1e-8, grad=1e-9))
def adam_epsilon_damping(lr, eps, grad):
    move = float(-first_move(Adam, [grad], lr=lr, eps=eps)[0])
    return {"answer": move, "fraction": move / lr}


@question("adam", "numeric",
          "Adam with β₂ = {beta2} sees gradients {grads} on its first two steps. What is the bias-corrected second "
          "moment v̂₂?",
          "v₂ = β₂(1 − β₂)g₁² + (1 − β₂)g₂² = {v2:.6g} (optimlab's Adam state 'exp_avg_sq') and v̂₂ = v₂/(1 − β₂²) "
          "= {answer:.6g}: a weighted mean of g₁² and g₂² with weights β₂ : 1.",
          params=dict(beta2=0.999, grads=(1.0, 3.0)))
def adam_corrected_second_moment(beta2, grads):
    _, optimizer = run_steps(Adam, [0.0], grads, lr=1e-3, betas=(0.9, beta2))
    state = state_of(optimizer)
    v2 = float(state["exp_avg_sq"][0])
    return {"answer": v2 / (1 - beta2 ** state["step"]), "v2": v2}


@question("adam", "numeric",
          "Adam with β₁ = {beta1}, β₂ = {beta2}, first gradient g = {grad}. Without bias correction, the first "
          "step would be how many times the learning rate?",
          "optimlab's Adam state after one step holds m₁ = (1 − β₁)g = {m1:.4g} and v₁ = (1 − β₂)g² = {v1:.4g}. "
          "Uncorrected, the step is η·m₁/√v₁ = η·(1 − β₁)/√(1 − β₂) = {answer:.4g}·η, against {corrected:.4g}·η "
          "with the correction: with these β's the first steps would be too large, not too small.",
          params=dict(beta1=0.9, beta2=0.999, grad=2.0))
def adam_without_bias_correction(beta1, beta2, grad):
    lr = 1e-3
    path, optimizer = run_steps(Adam, [0.0], [grad], lr=lr, betas=(beta1, beta2))
    state = state_of(optimizer)
    m1, v1 = float(state["exp_avg"][0]), float(state["exp_avg_sq"][0])
    return {"answer": m1 / (math.sqrt(v1) + 1e-8), "m1": m1, "v1": v1, "corrected": (path[0, 0] - path[1, 0]) / lr}


@question("adam", "numeric",
          "Adam with β₂ = {beta2} sees one gradient of {large}, then {small} on each of the next {steps} steps. "
          "By what factor is AMSGrad's last step smaller than Adam's?",
          "After the large gradient, v decays towards small² by β₂ per step, so Adam's step grows back; AMSGrad "
          "divides by the largest v seen so far and keeps it small. optimlab's Adam with amsgrad=False and True: "
          "last moves {adam:.4g} and {amsgrad:.4g}, a factor {answer:.4g}: AMSGrad's effective step size never "
          "grows.",
          params=dict(beta2=0.99, large=1.0, small=0.01, steps=100))
def amsgrad_last_step(beta2, large, small, steps):
    grads = [large] + [small] * steps
    moves = {}
    for name, amsgrad in (("adam", False), ("amsgrad", True)):
        path, _ = run_steps(Adam, [0.0], grads, lr=1e-3, betas=(0.9, beta2), amsgrad=amsgrad)
        moves[name] = float(path[-2, 0] - path[-1, 0])
    return {"answer": moves["adam"] / moves["amsgrad"], **moves}


@question("adam", "numeric",
          "Adamax with β₂ = {beta2} sees gradients {grads} on its first two steps. What is its infinity-norm "
          "accumulator u₂?",
          "torch's Adamax keeps u ← max(β₂u, |g| + ε): u₁ = {u1:.6g}, u₂ = max(β₂u₁, |g₂| + ε) = {answer:.6g} "
          "(optimlab's Adamax state 'exp_inf'). The max forgets slowly and needs no bias correction.",
          params=dict(beta2=0.999, grads=(3.0, -1.0)))
def adamax_infinity_norm(beta2, grads):
    u = [float(state_of(run_steps(Adamax, [0.0], grads[:n], betas=(0.9, beta2))[1])["exp_inf"][0]) for n in (1, 2)]
    return {"answer": u[1], "u1": u[0]}


@question("adam", "numeric",
          "torch's RAdam with β₂ = {beta2}: what is the length ρ_t of the approximated moving average at step "
          "{step}, and does RAdam take its adaptive step there?",
          "ρ_t = ρ_∞ − 2tβ₂ᵗ/(1 − β₂ᵗ) with ρ_∞ = 2/(1 − β₂) − 1 = {rho_inf:.6g}, so ρ = {answer:.4g} at step {step} "
          "(optimlab's radam_rho). The rectification needs ρ_t > 4 and torch switches it on only past "
          "{threshold:g}: {verdict}; the first adaptive step is step {first}, before it RAdam is momentum SGD.",
          params=dict(beta2=0.999, step=5))
def radam_rho_and_switch(beta2, step):
    first = 1
    while radam_rectification(first, beta2) is None:
        first += 1
    rho = radam_rho(step, beta2)
    verdict = "adaptive" if radam_rectification(step, beta2) is not None else "not yet adaptive"
    return {"answer": rho, "first": first, "rho_inf": 2 / (1 - beta2) - 1, "threshold": RHO_THRESHOLD,
            "verdict": verdict}


@question("adam", "numeric",
          "torch's NAdam with β₁ = {beta1} and momentum_decay ψ = {psi}: what is Dozat's momentum coefficient μ₁ "
          "on the first step?",
          "Dozat's schedule is μ_t = β₁(1 − ½·c^(tψ)) with c = {base:.4g}, so μ₁ = {answer:.6g} (optimlab's "
          "nadam_momentum) and μ₂ = {mu2:.6g}: NAdam "
          "warms its momentum up towards β₁ = {beta1}. optimlab's NAdam keeps the product of the μ's in its state "
          "('mu_product' = {mu_product:.6g} after one step).",
          params=dict(beta1=0.9, psi=0.004))
def nadam_first_momentum(beta1, psi):
    _, optimizer = run_steps(NAdam, [0.0], [1.0], betas=(beta1, 0.999), momentum_decay=psi)
    mu1 = nadam_momentum(1, beta1, psi)
    return {"answer": mu1, "mu2": nadam_momentum(2, beta1, psi), "base": (2 * (1 - mu1 / beta1)) ** (1 / psi),
            "mu_product": float(state_of(optimizer)["mu_product"])}


@question("adam", "choice",
          "Every gradient of an Adam run is multiplied by {scale} (a loss scale left in, or sum instead of mean "
          "over the batch). What happens to the trajectory?",
          "optimlab's Adam, {steps} steps on a quadratic, gradients as they are and times {scale}: the largest "
          "relative difference between the two trajectories is {difference:.2g}. m̂ and √v̂ scale alike, so the "
          "update m̂/(√v̂ + ε) is unchanged as long as √v̂ ≫ ε.",
          params=dict(scale=1000.0, steps=50),
          choices=("the steps grow by that factor", "nothing, up to the effect of ε", "the steps shrink by that factor"))
def adam_gradient_scale(scale, steps):
    problem = Quadratic.ill_conditioned(4, 10.0, seed=0)
    paths = []
    for factor in (1.0, scale):
        param = Parameter(np.zeros(problem.dim))
        optimizer = Adam([param], lr=0.01)
        for _ in range(steps):
            param.grad = factor * problem.grad(param.data)
            optimizer.step()
        paths.append(param.data.copy())
    difference = float(np.max(np.abs(paths[1] - paths[0])) / np.max(np.abs(paths[0])))
    ratio = np.linalg.norm(paths[1]) / np.linalg.norm(paths[0])
    pick = 1 if difference < 1e-3 else 0 if ratio > 1 else 2
    return {"answer": letter(pick), "difference": difference}


# -- weight decay ----------------------------------------------------------------------------------

@question("weight-decay", "numeric",
          "torch's AdamW with learning rate η = {lr} and weight_decay λ = {wd}, on a weight whose gradient is zero. "
          "What fraction of the weight does one step remove?",
          "AdamW decays before its adaptive step: θ ← (1 − ηλ)θ, and with g = 0 the Adam part is zero. optimlab's "
          "AdamW gives θ₁/θ₀ = {factor:.8g}, so it removes ηλ = {answer:.6g} of the weight per step: the decay is "
          "multiplied by the learning rate.",
          params=dict(lr=0.01, wd=0.1))
def adamw_decay_factor(lr, wd):
    path, _ = run_steps(AdamW, [1.0], [0.0], lr=lr, weight_decay=wd)
    factor = float(path[1, 0] / path[0, 0])
    return {"answer": 1 - factor, "factor": factor}


@question("weight-decay", "numeric",
          "Adam with L2 in the gradient (torch's Adam weight_decay λ = {wd}), learning rate η = {lr}, weight θ = "
          "{theta} and zero data gradient. How far does θ move on the first step?",
          "The L2 term enters the gradient, g = λθ, and Adam normalises it: the move is η·λθ/(|λθ| + ε) = "
          "{answer:.6g} (optimlab's Adam), the learning rate itself whatever λ is. AdamW would move it by ηλθ = "
          "{adamw:.4g}.",
          params=dict(wd=0.01, lr=0.001, theta=2.0))
def adam_l2_is_normalised(wd, lr, theta):
    adam = -first_move(Adam, [0.0], start=theta, lr=lr, weight_decay=wd)[0]
    adamw = -first_move(AdamW, [0.0], start=theta, lr=lr, weight_decay=wd)[0]
    return {"answer": float(adam), "adamw": float(adamw)}


@question("weight-decay", "numeric",
          "torch's AdamW, learning rate η = {lr}, weight_decay λ = {wd}, a weight whose gradient stays zero. After "
          "how many steps has it halved?",
          "Each step multiplies it by 1 − ηλ, so it halves after ln 2/(−ln(1 − ηλ)) ≈ ln 2/(ηλ) steps; optimlab's "
          "AdamW reached half at step {answer}.",
          params=dict(lr=0.01, wd=0.1))
def adamw_half_life(lr, wd):
    param = Parameter(np.ones(1))
    optimizer = AdamW([param], lr=lr, weight_decay=wd)
    steps = 0
    while param.data[0] > 0.5:
        param.grad = np.zeros(1)
        optimizer.step()
        steps += 1
    return {"answer": steps}


@question("weight-decay", "numeric",
          "Adam with L2 (λ = {wd}, η = {lr}); two weights whose data gradients alternate in sign with sizes "
          "{small} and {large}. How many times faster does the first decay than the second?",
          "With L2, the decay λθ is divided by √v̂ ≈ |g| like the rest of the gradient, so a weight decays at about "
          "ηλ/|g| per step. optimlab's Adam over {steps} steps (rates measured against λ = 0): {rate_small:.3g} and "
          "{rate_large:.3g} per step, a ratio {answer:.4g} (the gradient ratio is {gradient_ratio:.4g}). AdamW "
          "decays both by the same factor.",
          params=dict(wd=1e-3, lr=1e-3, small=0.01, large=1.0, steps=2000), rtol=0.05)
def adam_l2_decay_depends_on_gradient(wd, lr, small, large, steps):
    scales = np.array([small, large])
    finals = {}
    for decay in (wd, 0.0):
        grads = [scales * (-1.0) ** t for t in range(steps)]
        path, _ = run_steps(Adam, np.ones(2), grads, lr=lr, weight_decay=decay)
        finals[decay] = path[-1]
    rates = -np.log(finals[wd] / finals[0.0]) / steps
    return {"answer": float(rates[0] / rates[1]), "rate_small": float(rates[0]), "rate_large": float(rates[1]),
            "gradient_ratio": large / small}


@question("weight-decay", "numeric",
          "torch's AdamW with weight_decay λ = {wd}. You lower the learning rate from {lr_high} to {lr_low}. By what "
          "factor does the per-step decay rate of a zero-gradient weight change?",
          "torch multiplies the decay by η: θ ← (1 − ηλ)θ. optimlab's AdamW gives per-step decay rates "
          "−ln(θ₁/θ₀) = {rate_high:.4g} and {rate_low:.4g}, a factor {answer:.4g}: retuning η silently retunes the "
          "decay (the paper's fully decoupled form would keep it).",
          params=dict(wd=0.1, lr_high=0.01, lr_low=0.001))
def adamw_decay_follows_lr(wd, lr_high, lr_low):
    rates = [-math.log(run_steps(AdamW, [1.0], [0.0], lr=lr, weight_decay=wd)[0][1, 0]) for lr in (lr_high, lr_low)]
    return {"answer": rates[1] / rates[0], "rate_high": rates[0], "rate_low": rates[1]}


@question("weight-decay", "choice",
          "L2 in the loss (gradient g + λθ) against decoupled decay (θ ← (1 − ηλ)θ, then the step), λ = {wd}, "
          "η = {lr}. When are they the same method?",
          "optimlab's SGD over {steps} steps on a quadratic, largest difference between the two trajectories: "
          "{plain:.2g} without momentum, {momentum:.2g} with momentum {beta}. Without momentum both give "
          "θ − η(g + λθ); with momentum the L2 term is accumulated in the buffer while decoupled decay is not.",
          params=dict(wd=0.1, lr=0.05, steps=30, beta=0.9),
          choices=("always", "for plain SGD only", "never"))
def l2_versus_decoupled(wd, lr, steps, beta):
    problem = Quadratic.ill_conditioned(4, 10.0, seed=1)
    differences = []
    for momentum in (0.0, beta):
        finals = []
        for decoupled in (False, True):
            param = Parameter(np.ones(problem.dim))
            optimizer = SGD([param], lr=lr, momentum=momentum, weight_decay=0.0 if decoupled else wd)
            for _ in range(steps):
                param.grad = problem.grad(param.data)
                if decoupled:
                    param.data *= 1 - lr * wd
                optimizer.step()
            finals.append(param.data.copy())
        differences.append(float(np.max(np.abs(finals[1] - finals[0]))))
    same = [d < 1e-12 for d in differences]
    return {"answer": letter(0 if all(same) else 1 if same[0] else 2), "plain": differences[0],
            "momentum": differences[1]}
