r"""Claims about per-coordinate step sizes: AdaGrad's only shrink, RMSprop's do not (10), and RMSprop's
zero-initialised average makes its first steps too large (11).

The effective step size of coordinate :math:`i` at step :math:`t` is measured from the real update,
:math:`s_{t,i} = (\theta_{t-1,i} - \theta_{t,i})/g_{t,i}`: AdaGrad's is :math:`\eta/(\sqrt{\sum_{k\le t}
g_{k,i}^2}+\epsilon)`, RMSprop's :math:`\eta/(\sqrt{v_{t,i}}+\epsilon)` with
:math:`v_t = \alpha v_{t-1} + (1-\alpha)g_t^2`, :math:`v_0 = 0`. Classes from ``optimlab.optim`` (each
checked against torch elsewhere), float64.
"""

from __future__ import annotations

import numpy as np

from optimlab.claims.registry import CAVEAT, HOLDS, NOT_HERE, Verdict, claim, verdict_if
from optimlab.optim import Adagrad, Adam, RMSprop
from optimlab.parameter import Parameter
from optimlab.problems import Quadratic, run_optimizer


def step_sizes(optimizer_cls, grads: np.ndarray, **hyper) -> np.ndarray:
    """(T, n) effective step sizes (θ_{t−1} − θ_t)/g_t of ``optimizer_cls`` fed the gradients ``grads``.

    θ is reset to 0 before every step: without weight decay these updates do not depend on θ, and
    reading −θ_t instead of differencing two iterates keeps the measurement free of cancellation."""
    param = Parameter(np.zeros(grads.shape[1]))
    optimizer = optimizer_cls([param], **hyper)
    sizes = np.empty_like(grads)
    for t, grad in enumerate(grads):
        param.data[...] = 0.0
        param.grad = grad
        optimizer.step()
        sizes[t] = -param.data / grad
    return sizes


def gradient_streams(steps: int = 4000, n: int = 64, seed: int = 0) -> dict:
    """Three gradient streams: ``stationary`` N(0, 1); ``shrinking`` N(0, 1) then 100× smaller from
    ``steps/2``; ``summable`` N(0, 1)/t (Σg² converges, as on a run that converges linearly)."""
    noise = np.random.default_rng(seed).normal(size=(steps, n))
    t = np.arange(1, steps + 1)[:, None]
    return {"stationary": noise, "shrinking": np.where(t > steps // 2, 0.01, 1.0) * noise, "summable": noise / t}


@claim(10, "AdaGrad's per-parameter step size can only shrink and goes to zero; RMSprop's does not", kind="E",
       topic="adaptive",
       criterion="AdaGrad: s_t ≤ s_{t−1}(1 + 10⁻¹²) at every step in three gradient streams, and under stationary "
                 "gradients median s_T/s_1 < 0.05; RMSprop: s rises > 10× when the gradients shrink 100×. "
                 "'Goes to zero' is tested on gradients ∝ 1/t: it holds if s_T/s_{T/2} < 0.9 there",
       scale="64 coordinates, T = 4000 steps, η = 0.01, α = 0.99, float64",
       judge=lambda e: verdict_if(e["adagrad_max_rise"] <= 1e-12 and e["adagrad_stationary_final_over_first"] < 0.05
                                  and e["rmsprop_shrinking_rise"] > 10,
                                  verdict_if(e["adagrad_summable_late_ratio"] < 0.9, Verdict(HOLDS),
                                             Verdict(CAVEAT, "AdaGrad's step size never grows and falls like 1/√t "
                                                             "under stationary gradients, but it goes to zero only "
                                                             "if Σg² diverges: with gradients ∝ 1/t it freezes "
                                                             f"({e['adagrad_summable_late_ratio']:.6f} of its value "
                                                             "at T/2). RMSprop's rose "
                                                             f"{e['rmsprop_shrinking_rise']:.0f}× when the gradients "
                                                             "shrank 100×")),
                                  Verdict(NOT_HERE, "AdaGrad's step size grew, or RMSprop's did not recover")))
def adagrad_versus_rmsprop_step_size() -> dict:
    streams = gradient_streams()
    half = len(streams["stationary"]) // 2
    adagrad = {name: step_sizes(Adagrad, grads, lr=0.01) for name, grads in streams.items()}
    rmsprop = {name: step_sizes(RMSprop, grads, lr=0.01) for name, grads in streams.items()}
    return {
        "adagrad_max_rise": float(max(np.max(s[1:] / s[:-1]) - 1 for s in adagrad.values())),
        "adagrad_stationary_final_over_first": float(np.median(adagrad["stationary"][-1] / adagrad["stationary"][0])),
        "adagrad_shrinking_late_ratio": float(np.median(adagrad["shrinking"][-1] / adagrad["shrinking"][half])),
        "adagrad_summable_late_ratio": float(np.median(adagrad["summable"][-1] / adagrad["summable"][half])),
        "rmsprop_stationary_final_over_lr": float(np.median(rmsprop["stationary"][-1]) / 0.01),
        "rmsprop_shrinking_rise": float(np.median(rmsprop["shrinking"][-1] / rmsprop["shrinking"][half])),
    }


@claim(11, "RMSprop is unstable in its first steps because its average starts at zero", kind="N", topic="adaptive",
       criterion="the first step |Δθ|/η is 1/√(1 − α) = 10 in every coordinate (within 1%: ε = 10⁻⁸ only "
                 "lowers it where |g| is tiny; Adam's bias-corrected first step is ≤ η), against a steady-state "
                 "median < 1.5; unstable means the loss from a start near "
                 "the minimum rises > 10× in the first steps where Adam's does not",
       scale="64 N(0, 1) gradient coordinates, 4000 steps; 20-dimensional quadratic (κ = 100) from θ* + 0.01·N(0, I) "
             "and from 0, η = 0.01, α = 0.99, 300 steps, float64",
       judge=lambda e: verdict_if(0.99 <= e["first_step_min"] and e["first_step_max"] <= 1
                                  and e["steady_step_over_lr"] < 1.5
                                  and e["adam_first_step_over_lr"] <= 1,
                                  verdict_if(e["near_start_rmsprop_peak"] > 10 > e["near_start_adam_peak"],
                                             Verdict(CAVEAT, "the first step is too large by 1/√(1 − αᵗ) (10× at "
                                                             "t = 1): from near the minimum the loss jumped "
                                                             f"{e['near_start_rmsprop_peak']:.0f}× (Adam: "
                                                             f"{e['near_start_adam_peak']:.1f}×) and was still "
                                                             f"×{e['near_start_rmsprop_final']:.1f} after 300 steps; "
                                                             "from a far start the big steps helped (loss × "
                                                             f"{e['far_start_rmsprop_after_5']:.2f} after 5 steps, "
                                                             f"Adam × {e['far_start_adam_after_5']:.2f})"),
                                             Verdict(NOT_HERE, "the first steps are large but did not destabilise "
                                                               "the run")),
                                  Verdict(NOT_HERE, "the first step is not 1/√(1 − α) times the steady one")))
def rmsprop_first_steps() -> dict:
    grads = gradient_streams()["stationary"]
    rms = step_sizes(RMSprop, grads, lr=0.01) * np.abs(grads) / 0.01  # |Δθ|/η
    adam = step_sizes(Adam, grads[:1], lr=0.01) * np.abs(grads[:1]) / 0.01
    problem = Quadratic.ill_conditioned(20, 100.0, seed=0)
    near = problem.minimizer + 0.01 * np.random.default_rng(1).normal(size=problem.dim)

    def loss_curve(cls, start):
        values = run_optimizer(problem, cls, 300, start=start, lr=0.01).values
        return values / values[0]

    return {
        "first_step_min": float(np.min(rms[0]) * np.sqrt(1 - 0.99)),  # in units of 1/√(1 − α)
        "first_step_max": float(np.max(rms[0]) * np.sqrt(1 - 0.99)),
        "steady_step_over_lr": float(np.median(rms[-100:])),
        "adam_first_step_over_lr": float(np.max(adam)),
        "near_start_rmsprop_peak": float(loss_curve(RMSprop, near).max()),
        "near_start_adam_peak": float(loss_curve(Adam, near).max()),
        "near_start_rmsprop_final": float(loss_curve(RMSprop, near)[-1]),
        "far_start_rmsprop_after_5": float(loss_curve(RMSprop, None)[5]),
        "far_start_adam_after_5": float(loss_curve(Adam, None)[5]),
    }
