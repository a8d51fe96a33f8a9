r"""Claims about Adam's moments: bias correction (1), the L2-vs-decoupled decay per weight (3),
Adam as momentum + RMSprop (12), scale invariance (13) and RAdam's switch-on step (15).

Every number here comes from the library's reference updates (``adam_update``, ``rmsprop_update``,
``radam_rho``) in float64.
"""

from __future__ import annotations

import numpy as np

from optimlab.claims.registry import CAVEAT, HOLDS, NOT_HERE, Verdict, claim, verdict_if
from optimlab.optim.adam import adam_init, adam_update
from optimlab.optim.radam import RHO_THRESHOLD, radam_rho
from optimlab.optim.rmsprop import rmsprop_init, rmsprop_update
from optimlab.problems import Quadratic
from optimlab.training.gradients import clip_grad_norm_
from optimlab.parameter import Parameter

ULP = float(np.finfo(np.float64).eps)  # 2⁻⁵², one unit in the last place at 1


def wide_gradient(n: int = 100_000, seed: int = 0) -> np.ndarray:
    """Gradients of random sign whose magnitudes span 10⁻⁶ … 10⁶ (log-uniform)."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=n) * 10.0 ** rng.uniform(-6, 6, size=n)


def first_adam_step(grad, *, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8) -> dict:
    """State and update of one Adam step from θ = 0: ``exp_avg`` m₁, ``corrected`` m̂₁ = m₁/(1 − β₁),
    ``step`` θ₁ − θ₀."""
    param = np.zeros_like(grad)
    state = adam_init(param)
    adam_update(param, grad, state, lr=lr, beta1=beta1, beta2=beta2, eps=eps)
    return {"exp_avg": state["exp_avg"], "corrected": state["exp_avg"] / (1 - beta1), "step": param.copy()}


@claim(1, "With β₁ = 0.9 the first moment after one step is one tenth of the gradient; bias correction "
          "restores it exactly", kind="E", topic="adam",
       criterion="max |m₁/(0.1 g) − 1| and max |m̂₁/g − 1| ≤ 2 ulp (4.4e-16) over 10⁵ gradients spanning 10⁻⁶…10⁶",
       scale="10⁵ coordinates, float64",
       judge=lambda e: verdict_if(e["m1_rel_error"] <= 2 * ULP and e["corrected_rel_error"] <= 2 * ULP,
                                  Verdict(HOLDS, f"m̂₁ equals g bit for bit in {e['corrected_exact_fraction']:.0%} "
                                                 "of coordinates, within one rounding elsewhere"),
                                  Verdict(NOT_HERE, "m₁ or m̂₁ is off by more than two roundings")))
def bias_correction_first_step() -> dict:
    g = wide_gradient()
    first = first_adam_step(g)
    return {
        "m1_rel_error": float(np.max(np.abs(first["exp_avg"] / (0.1 * g) - 1))),
        "corrected_rel_error": float(np.max(np.abs(first["corrected"] / g - 1))),
        "corrected_exact_fraction": float(np.mean(first["corrected"] == g)),
        "first_step_over_lr_min": float(np.min(np.abs(first["step"])) / 1e-3),
        "first_step_over_lr_max": float(np.max(np.abs(first["step"])) / 1e-3),
    }


def oscillating_decay_rates(decoupled: bool, scales, *, lr, weight_decay, steps) -> np.ndarray:
    """Per-coordinate decay rate −log(θ_T(λ)/θ_T(0))/T of Adam under the data gradient s·(−1)ᵗ, which
    sets √v̂ ≈ s and averages out of m; dividing by the λ = 0 run removes that residual drift."""
    finals = []
    for decay in (weight_decay, 0.0):
        param = np.ones_like(scales)
        state = adam_init(param)
        for t in range(steps):
            adam_update(param, scales * (-1.0) ** t, state, lr=lr, weight_decay=decay,
                        decoupled_weight_decay=decoupled)
        finals.append(param)
    return -np.log(finals[0] / finals[1]) / steps


@claim(3, "Adam with L2 in the loss decays each weight by about λ/√v̂ (less where gradients are large); "
          "AdamW decays all weights by the same factor", kind="E/N", topic="weight decay",
       criterion="Adam+L2: measured per-step decay rate / (ηλ/s) within 10% for gradient scales s = 10⁻²…10; "
                 "AdamW: rate / −log(1 − ηλ) within 1% for every s",
       scale="4 coordinates, gradient s·(−1)ᵗ, η = 10⁻³, λ = 10⁻³, 3000 steps",
       judge=lambda e: verdict_if(max(abs(r - 1) for r in e["l2_rate_over_prediction"]) <= 0.1
                                  and max(abs(r - 1) for r in e["adamw_rate_over_uniform"]) <= 0.01,
                                  Verdict(HOLDS), Verdict(NOT_HERE, "the measured decay rates miss the predictions")))
def l2_versus_decoupled_decay() -> dict:
    lr, weight_decay, steps = 1e-3, 1e-3, 3000
    scales = np.array([1e-2, 1e-1, 1.0, 10.0])
    l2 = oscillating_decay_rates(False, scales, lr=lr, weight_decay=weight_decay, steps=steps)
    adamw = oscillating_decay_rates(True, scales, lr=lr, weight_decay=weight_decay, steps=steps)
    return {
        "scales": scales.tolist(),
        "l2_rates": l2.tolist(),
        "l2_rate_over_prediction": (l2 / (lr * weight_decay / scales)).tolist(),
        "adamw_rates": adamw.tolist(),
        "adamw_rate_over_uniform": (adamw / -np.log1p(-lr * weight_decay)).tolist(),
    }


def _step_ratios(eps: float, steps: int, beta2: float) -> np.ndarray:
    """Per step t, Adam(β₁ = 0) update / RMSprop update on the same gradients (one coordinate each)."""
    rng = np.random.default_rng(1)
    adam_param, rms_param = np.zeros(64), np.zeros(64)
    adam_state, rms_state = adam_init(adam_param), rmsprop_init(rms_param)
    ratios = []
    for _ in range(steps):
        g = rng.normal(size=64)
        before_adam, before_rms = adam_param.copy(), rms_param.copy()
        adam_update(adam_param, g, adam_state, lr=1e-3, beta1=0.0, beta2=beta2, eps=eps)
        rmsprop_update(rms_param, g, rms_state, lr=1e-3, alpha=beta2, eps=eps)
        ratios.append(np.median((adam_param - before_adam) / (rms_param - before_rms)))
    return np.array(ratios)


@claim(12, "Adam = momentum + RMSprop + bias correction (with β₁ = 0 and no bias correction it reduces to RMSprop, "
           "up to where ε sits)", kind="E", topic="adam",
       criterion="with ε = 0, Adam(β₁ = 0)'s update / RMSprop's = √(1 − β₂ᵗ) to 10⁻¹² at every step; "
                 "with ε = 10⁻⁸ the ratio leaves that value (ε sits after the bias correction)",
       scale="64 coordinates, 300 steps, β₂ = α = 0.99, float64",
       judge=lambda e: verdict_if(e["eps0_max_rel_error"] <= 1e-12,
                                  Verdict(CAVEAT, "torch's Adam always bias-corrects v: with β₁ = 0 its step is "
                                                  f"RMSprop's × √(1 − β₂ᵗ) ({e['ratio_step1']:.2f}× at t = 1, "
                                                  f"{e['ratio_last']:.6f} at t = {e['steps']}); ε is added to the "
                                                  "corrected √v̂ in Adam, to √v in RMSprop"),
                                  Verdict(NOT_HERE, "the update ratio is not the bias-correction factor")))
def adam_reduces_to_rmsprop() -> dict:
    steps, beta2 = 300, 0.99
    t = np.arange(1, steps + 1)
    predicted = np.sqrt(1 - beta2**t)
    exact = _step_ratios(0.0, steps, beta2)
    with_eps = _step_ratios(1e-8, steps, beta2)
    return {
        "steps": steps,
        "eps0_max_rel_error": float(np.max(np.abs(exact / predicted - 1))),
        "eps_1e-8_max_rel_error": float(np.max(np.abs(with_eps / predicted - 1))),
        "ratio_step1": float(exact[0]),
        "ratio_last": float(exact[-1]),
    }


def _adam_run(grad_scale: float, *, eps: float, steps: int = 100, clip=None, seed: int = 0) -> np.ndarray:
    """Adam on an ill-conditioned quadratic whose gradient is multiplied by ``grad_scale``
    (``clip``: clip the scaled gradient to this global norm first); returns the final point."""
    problem = Quadratic.ill_conditioned(20, 100.0, seed=seed)
    param = Parameter(np.zeros(problem.dim))
    state = adam_init(param.data)
    for _ in range(steps):
        param.grad = grad_scale * problem.grad(param.data)
        if clip is not None:
            clip_grad_norm_([param], clip)
        adam_update(param.data, param.grad, state, lr=1e-2, eps=eps)
    return param.data


@claim(13, "Adam is invariant to rescaling the gradient, up to ε; so loss scaling, and sum vs mean accumulation, "
           "change Adam only through ε and clipping", kind="E/N", topic="adam",
       criterion="ε = 0: scaling g by 2¹⁰ changes nothing (bit for bit), by 6 (sum of 6 micro-batches vs mean) "
                 "≤ 10⁻¹³ relative; with ε = 10⁻⁸ a scale of 10⁻⁶ moves the result by > 1%; with clipping at "
                 "norm 1, ×6 moves it by > 1%",
       scale="20-dimensional quadratic (κ = 100), 100 Adam steps, float64",
       judge=lambda e: verdict_if(e["pow2_max_abs_diff"] == 0 and e["sum_vs_mean_rel_diff"] <= 1e-13
                                  and e["tiny_scale_eps_rel_diff"] > 0.01 and e["sum_vs_mean_clipped_rel_diff"] > 0.01,
                                  Verdict(HOLDS), Verdict(NOT_HERE, "a scale changed Adam where it should not, or "
                                                                    "ε/clipping did not")))
def adam_scale_invariance() -> dict:
    reference = _adam_run(1.0, eps=0.0)

    def rel(a, b):
        return float(np.linalg.norm(a - b) / np.linalg.norm(b))

    return {
        "pow2_max_abs_diff": float(np.max(np.abs(_adam_run(2.0**10, eps=0.0) - reference))),
        "sum_vs_mean_rel_diff": rel(_adam_run(6.0, eps=0.0), reference),
        "tiny_scale_eps_rel_diff": rel(_adam_run(1e-6, eps=1e-8), _adam_run(1.0, eps=1e-8)),
        "sum_vs_mean_clipped_rel_diff": rel(_adam_run(6.0, eps=1e-8, clip=1.0), _adam_run(1.0, eps=1e-8, clip=1.0)),
    }


def rectification_radicand(step: int, beta2: float) -> float:
    r"""(ρ_t − 4)(ρ_t − 2)ρ∞ / ((ρ∞ − 4)(ρ∞ − 2)ρ_t), the quantity under RAdam's square root."""
    rho_inf, rho_t = 2 / (1 - beta2) - 1, radam_rho(step, beta2)
    return (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)


def _first_step_above(threshold: float, beta2: float) -> int:
    step = 1
    while radam_rho(step, beta2) <= threshold:
        step += 1
    return step


@claim(15, "RAdam's rectification is undefined until ρ_t > 4 and torch switches it on only past 5", kind="E",
       topic="adam",
       criterion="first t with ρ_t > 4 and first t with ρ_t > 5 (torch's threshold in optimlab.optim.radam); the "
                 "radicand of r_t is negative exactly where 2 < ρ_t < 4",
       scale="β₂ = 0.999 and 0.99, closed form",
       judge=lambda e: verdict_if(e["negative_radicand_steps"] == e["steps_rho_between_2_and_4"]
                                  and e["torch_switch_step"] > e["defined_from_step"],
                                  Verdict(CAVEAT, f"at β₂ = 0.999 r_t is defined from t = {e['defined_from_step']} "
                                                  f"(ρ = {e['rho_defined']:.3f}) and torch switches on at "
                                                  f"t = {e['torch_switch_step']}; the radicand is negative only for "
                                                  "2 < ρ_t < 4 (at t = 1, 2 it is positive but meaningless, since "
                                                  "Var[1/√v̂] diverges for ρ ≤ 4)"),
                                  Verdict(NOT_HERE, "the thresholds do not fall where the claim says")))
def radam_switch() -> dict:
    beta2 = 0.999
    steps = range(1, 8)
    defined = _first_step_above(4, beta2)
    return {
        "rho": [radam_rho(t, beta2) for t in steps],
        "radicand": [rectification_radicand(t, beta2) for t in steps],
        "negative_radicand_steps": [t for t in steps if rectification_radicand(t, beta2) < 0],
        "steps_rho_between_2_and_4": [t for t in steps if 2 < radam_rho(t, beta2) < 4],
        "defined_from_step": defined,
        "rho_defined": radam_rho(defined, beta2),
        "torch_switch_step": _first_step_above(RHO_THRESHOLD, beta2),
        "torch_switch_step_beta2_0.99": _first_step_above(RHO_THRESHOLD, 0.99),
    }
