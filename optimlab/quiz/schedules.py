"""Questions on learning-rate schedules and warmup, the learning-rate range test, and schedule-free
methods and weight averaging; every answer runs optimlab's schedules, optimizers and averagers."""

from __future__ import annotations

import math

import numpy as np

from optimlab.optim import SGD
from optimlab.optim.schedule_free import schedule_free_init, schedule_free_weights
from optimlab.optim.lookahead import Lookahead
from optimlab.parameter import Parameter
from optimlab.problems import Quadratic
from optimlab.quiz.bank import letter, question
from optimlab.quiz.probes import run_steps
from optimlab.schedules import (CosineAnnealingLR, cosine, inverse_sqrt, one_cycle, step_decay, warmup_cosine_decay,
                                warmup_linear_decay, warmup_stable_decay)
from optimlab.training import EMA, SWA, lr_range_test


# -- schedules and warmup ----------------------------------------------------------------------

@question("schedules", "numeric",
          "Linear warmup to a peak learning rate of {peak} over {warmup} steps, then linear decay to zero at step "
          "{total}. What is the learning rate at step {step}?",
          "During warmup η_t = η_peak·t/W, so at step {step} it is {answer:.6g} (optimlab's warmup_linear_decay); "
          "the peak is reached at step W = {warmup}.",
          params=dict(peak=3e-4, warmup=1000, total=10000, step=250))
def warmup_value(peak, warmup, total, step):
    return {"answer": warmup_linear_decay(peak, warmup, total)(step)}


@question("schedules", "numeric",
          "Warmup over {warmup} steps to a peak of {peak}, then a cosine decay to zero at step {total}. What is the "
          "learning rate at step {step}?",
          "After warmup η_t = ½η_peak(1 + cos(π(t − W)/(T − W))); at step {step} the decay is {progress:.4g} of the "
          "way through, giving {answer:.6g} (optimlab's warmup_cosine_decay).",
          params=dict(peak=1e-3, warmup=500, total=5500, step=3000))
def warmup_cosine_value(peak, warmup, total, step):
    return {"answer": warmup_cosine_decay(peak, warmup, total)(step), "progress": (step - warmup) / (total - warmup)}


@question("schedules", "numeric",
          "Cosine decay from {peak} to a minimum of {minimum} over {steps} steps. What is the learning rate half way, "
          "at step {half}?",
          "η_t = η_min + ½(η_0 − η_min)(1 + cos(πt/T)); at t = T/2 the cosine is zero, so η is the mean of the two "
          "ends, {answer:.6g} (optimlab's cosine), and it reaches η_min = {end:.4g} at step T.",
          params=dict(peak=0.1, minimum=0.001, steps=1000, half=500))
def cosine_half_way(peak, minimum, steps, half):
    schedule = cosine(peak, steps, minimum)
    return {"answer": schedule(half), "end": schedule(steps)}


@question("schedules", "numeric",
          "torch's CosineAnnealingLR with base lr {lr}, eta_min = 0 and T_max = {t_max}, stepped {steps} times "
          "(past T_max). What learning rate does the optimizer have now?",
          "torch's recursion keeps following the cosine past T_max instead of holding η_min: it reached {at_t_max:.3g} "
          "at step T_max and is back up to {answer:.6g} at step {steps} (optimlab's CosineAnnealingLR, which "
          "matches torch). Use a schedule that holds its minimum, or stop at T_max.",
          params=dict(lr=0.1, t_max=100, steps=150))
def cosine_annealing_rises(lr, t_max, steps):
    optimizer = SGD([Parameter(np.zeros(1))], lr=lr)
    scheduler = CosineAnnealingLR(optimizer, T_max=t_max)
    values = [optimizer.param_groups[0]["lr"]]
    for _ in range(steps):
        optimizer.step()
        scheduler.step()
        values.append(optimizer.param_groups[0]["lr"])
    return {"answer": values[steps], "at_t_max": values[t_max]}


@question("schedules", "numeric",
          "Step decay: start at {lr}, multiply by γ = {gamma} every {step_size} epochs. What is the learning rate at "
          "epoch {epoch}?",
          "The rate has been cut ⌊{epoch}/{step_size}⌋ = {cuts} times, so η = {lr}·γ^{cuts} = {answer:.6g} "
          "(optimlab's step_decay).",
          params=dict(lr=0.1, gamma=0.1, step_size=30, epoch=75))
def step_decay_value(lr, gamma, step_size, epoch):
    value = step_decay(lr, step_size, gamma)(epoch)
    return {"answer": value, "cuts": round(math.log(value / lr) / math.log(gamma))}


@question("schedules", "numeric",
          "torch's OneCycleLR (and optimlab's one_cycle) with max_lr = {max_lr} and the default div_factor. What "
          "learning rate does it start from?",
          "One-cycle starts at max_lr/div_factor = {answer:.6g}, climbs to max_lr = {peak:.4g} at step {peak_step} "
          "(the first {pct:.0%} of {total} steps) and anneals to {final:.3g}, far below the start (optimlab's "
          "one_cycle).",
          params=dict(max_lr=0.05, total=1000))
def one_cycle_start(max_lr, total):
    schedule = one_cycle(max_lr, total)
    values = [schedule(t) for t in range(total)]
    peak_step = int(np.argmax(values))
    return {"answer": values[0], "peak": values[peak_step], "peak_step": peak_step, "pct": (peak_step + 1) / total,
            "final": values[-1]}


@question("schedules", "numeric",
          "Inverse-square-root schedule (Hugging Face's) with peak {peak} after {warmup} warmup steps. What is the "
          "learning rate at step {step}?",
          "After warmup η_t = η_peak/√(t/W) (timescale W), so at step {step} it is η_peak/√{ratio:.4g} = "
          "{answer:.6g} (optimlab's inverse_sqrt): quadrupling the step halves the rate.",
          params=dict(peak=1e-3, warmup=4000, step=16000))
def inverse_sqrt_value(peak, warmup, step):
    return {"answer": inverse_sqrt(peak, warmup)(step), "ratio": step / warmup}


@question("schedules", "numeric",
          "Warmup-stable-decay: {warmup} warmup steps to {peak}, {stable} stable steps, then a linear cooldown to zero "
          "over {decay} steps. What is the learning rate at step {step}?",
          "At step {step} the cooldown is {progress:.4g} of the way through, so η = η_peak·(1 − p) = {answer:.6g} "
          "(optimlab's warmup_stable_decay). Because the stable phase has no end date, a run can be extended and "
          "cooled down later.",
          params=dict(warmup=100, peak=2e-3, stable=800, decay=100, step=960))
def wsd_cooldown_value(warmup, peak, stable, decay, step):
    return {"answer": warmup_stable_decay(peak, warmup, stable, decay)(step),
            "progress": (step - warmup - stable) / decay}


# -- the learning-rate range test -------------------------------------------------------------

def _quadratic_range_test(eigenvalues, start_lr, end_lr, num_steps, noise, **options):
    """``lr_range_test`` of SGD on a quadratic whose gradients carry N(0, noise²) noise, as mini-batches do."""
    problem = Quadratic(np.diag(eigenvalues), np.zeros(len(eigenvalues)), noise_std=noise, seed=0)
    param = Parameter(np.ones(problem.dim))
    optimizer = SGD([param], lr=start_lr)

    def closure():
        param.grad = problem.grad(param.data)
        return problem.value(param.data)

    with np.errstate(over="ignore", invalid="ignore"):
        return lr_range_test(optimizer, closure, start_lr=start_lr, end_lr=end_lr, num_steps=num_steps, **options)


@question("lr-finder", "numeric",
          "An LR range test sweeps the learning rate exponentially from {start_lr} to {end_lr} in {num_steps} steps. "
          "By what factor does the learning rate grow per step?",
          "An exponential sweep multiplies by (end/start)^(1/(N − 1)) = {answer:.6g} per step (the ratio of "
          "consecutive learning rates in optimlab's lr_range_test on a quadratic); on a log axis the points are "
          "evenly spaced.",
          params=dict(start_lr=1e-6, end_lr=10.0, num_steps=100))
def range_test_growth(start_lr, end_lr, num_steps):
    result = _quadratic_range_test([0.1], start_lr, end_lr, num_steps, noise=0.0)
    return {"answer": float(result.lrs[1] / result.lrs[0])}


@question("lr-finder", "numeric",
          "An LR range test with plain SGD on f(x) = ½·h·x², h = {curvature}, with gradient noise of standard "
          "deviation {noise}, sweeping from {start_lr} to {end_lr} in {num_steps} steps. At what learning rate does the test stop?",
          "Gradient descent on this quadratic diverges once η > 2/h = {edge:.4g}; the loss then grows by |1 − ηh| per "
          "step and the smoothed loss passes {threshold}× its minimum a few sweep steps later: optimlab's lr_range_test stopped "
          "at η = {answer:.4g} ({ratio:.3g}× the edge). The range test finds the edge of stability, not the best "
          "rate.",
          params=dict(curvature=10.0, noise=0.1, start_lr=1e-4, end_lr=10.0, num_steps=100, threshold=4.0), rtol=0.4)
def range_test_stops_past_edge(curvature, noise, start_lr, end_lr, num_steps, threshold):
    result = _quadratic_range_test([curvature], start_lr, end_lr, num_steps, noise, diverge_threshold=threshold)
    assert result.diverged
    return {"answer": float(result.lrs[-1]), "edge": 2 / curvature, "ratio": float(result.lrs[-1]) * curvature / 2}


@question("lr-finder", "choice",
          "An LR range test of SGD on a quadratic with Hessian eigenvalues {eigenvalues} and gradient noise of "
          "standard deviation {noise}, {num_steps} steps from "
          "{start_lr} to {end_lr}. Which is larger: the suggestion (the learning rate where the smoothed loss falls "
          "fastest) or the learning rate at the smoothed loss's minimum?",
          "optimlab's lr_range_test: the smoothed loss falls fastest at η = {suggestion:.3g} and is lowest at "
          "η = {at_minimum:.3g}, where the loss is about to blow up (divergence starts at 2/λ_max = {edge:.3g}; the "
          "smoothed curve lags behind it). Training at the minimum's rate is training on the edge; the "
          "steepest-descent point is the usual pick.",
          params=dict(eigenvalues=(1.0, 0.01), noise=0.1, num_steps=100, start_lr=1e-4, end_lr=10.0),
          choices=("the suggestion", "the learning rate at the minimum", "they coincide"))
def range_test_suggestion(eigenvalues, noise, num_steps, start_lr, end_lr):
    result = _quadratic_range_test(eigenvalues, start_lr, end_lr, num_steps, noise)
    at_minimum = float(result.lrs[int(np.argmin(result.smoothed))])
    pick = 0 if result.suggestion > at_minimum else 1 if result.suggestion < at_minimum else 2
    return {"answer": letter(pick), "suggestion": result.suggestion, "at_minimum": at_minimum,
            "edge": 2 / max(eigenvalues)}


# -- schedule-free methods and averaging ------------------------------------------------------

@question("averaging", "numeric",
          "SWA averages the weights after each of {count} epochs; the weight's values were {values}. What is the "
          "averaged weight?",
          "SWA keeps θ̄ ← θ̄ + (θ − θ̄)/(n + 1), the running form of the plain mean, so θ̄ = {answer:.6g} "
          "(optimlab's SWA): every snapshot counts the same.",
          params=dict(count=4, values=(1.0, 3.0, 2.0, 6.0)))
def swa_average(count, values):
    param = Parameter(np.zeros(1))
    average = SWA([param])
    for value in values[:count]:
        param.data[...] = value
        average.update()
    return {"answer": float(average.averaged[0][0])}


@question("averaging", "numeric",
          "An EMA of the weights with decay β = {decay}. After how many updates has a snapshot's weight in the "
          "average fallen below one half?",
          "Each update multiplies an old snapshot's weight by β, so it halves after ln 2/(−ln β) ≈ {estimate:.4g} "
          "updates; optimlab's EMA, fed one snapshot of 1 and zeros after it, fell to one half at update {answer}.",
          params=dict(decay=0.999))
def ema_half_life(decay):
    param = Parameter(np.zeros(1))
    average = EMA([param], decay=decay)
    average.update()  # the first update copies: start from an average of zero
    param.data[...] = 1.0
    average.update()
    impulse = float(average.averaged[0][0])
    param.data[...] = 0.0
    updates = 0
    while average.averaged[0][0] > impulse / 2:
        average.update()
        updates += 1
    return {"answer": updates, "estimate": math.log(2) / -math.log(decay)}


@question("averaging", "numeric",
          "EMA with decay β = {decay} and warmup (β_n = min(β, (1 + n)/(10 + n))). What decay does the update after "
          "{n} averages use?",
          "(1 + n)/(10 + n) = {warm:.6g} at n = {n}, below β, so the average follows the weights faster early on: "
          "β_n = {answer:.6g} (optimlab's EMA.decay_at).",
          params=dict(decay=0.999, n=90))
def ema_warmup_decay(decay, n):
    average = EMA([Parameter(np.zeros(1))], decay=decay, warmup=True)
    return {"answer": average.decay_at(n), "warm": (1 + n) / (10 + n)}


@question("averaging", "numeric",
          "Schedule-free SGD (no warmup, weight_lr_power 2, r = 0): with what weight c_t does step {step} enter the "
          "running average x?",
          "c_t = w_t/Σw_s with w_t = η_max², constant without warmup, so c_t = 1/t = {answer:.6g} (optimlab's "
          "schedule_free_weights): x is the plain average of the z iterates, which is why no decay schedule is "
          "needed.",
          params=dict(step=8, lr=0.1))
def schedule_free_average_weight(step, lr):
    state = schedule_free_init(np.zeros(1))
    for _ in range(step):
        _, weight = schedule_free_weights(state, lr=lr)
    return {"answer": weight}


@question("averaging", "numeric",
          "Lookahead (k = {k}, α = {alpha}, slow weights starting at θ₀ = 0 as in the paper) around SGD with lr "
          "η = {lr}; the gradient is g = {grad} at every step. Where is the weight after the first synchronisation?",
          "The fast weights take k steps to −kηg = {fast:.4g}; the slow weights then move α of the way, "
          "φ ← φ + α(θ − φ) = {answer:.6g}, and the fast weights restart there (optimlab's Lookahead).",
          params=dict(k=5, alpha=0.5, lr=0.1, grad=1.0))
def lookahead_sync(k, alpha, lr, grad):
    param = Parameter(np.zeros(1))
    inner = SGD([param], lr=lr)
    optimizer = Lookahead(inner, k=k, alpha=alpha, slow_start="initial")
    for _ in range(k):
        param.grad = np.full(1, grad)
        optimizer.step()
    fast, _ = run_steps(SGD, [0.0], [grad] * k, lr=lr)  # the same k steps without Lookahead
    return {"answer": float(param.data[0]), "fast": float(fast[-1, 0])}
