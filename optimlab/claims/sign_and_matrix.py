r"""Claims about update shapes beyond the diagonal: Lion's sign update (18), Muon's Newton–Schulz
orthogonalisation (33) and Adafactor's factored second moment (34).

Lion: :math:`c_t = \beta_1 m_{t-1} + (1-\beta_1)g_t`, :math:`\theta_t = \theta_{t-1} - \eta(\operatorname{sign}c_t
+ \lambda\theta_{t-1})` (Chen et al., 2023). Muon's quintic iteration :math:`X \leftarrow aX + (bA + cA^2)X`,
:math:`A = XX^\top`, acts on each singular value as :math:`p(\sigma) = a\sigma + b\sigma^3 + c\sigma^5`
(Jordan et al., 2024). Adafactor keeps row and column means of :math:`G^2` and rebuilds
:math:`\hat V = RC/\operatorname{mean}R` (Shazeer & Stern, 2018). Everything runs through
``optimlab.optim`` (Lion, ``muon.newton_schulz``, Adafactor, each checked against its oracle elsewhere).
"""

from __future__ import annotations

import numpy as np

from optimlab.claims.registry import CAVEAT, HOLDS, NOT_HERE, Verdict, claim, verdict_if
from optimlab.optim import Adafactor, Adam, Lion
from optimlab.optim.muon import NS_COEFFICIENTS, newton_schulz
from optimlab.parameter import Parameter


def lion_step_magnitudes(grads: np.ndarray, start: np.ndarray, **hyper) -> np.ndarray:
    """(T, n) |θ_t − θ_{t−1}|/η of ``Lion(**hyper)`` fed ``grads`` from ``start``."""
    param = Parameter(start.copy())
    optimizer = Lion([param], **hyper)
    magnitudes = np.empty_like(grads)
    for t, grad in enumerate(grads):
        before = param.data.copy()
        param.grad = grad
        optimizer.step()
        magnitudes[t] = np.abs(param.data - before) / hyper["lr"]
    return magnitudes


@claim(18, "Lion's update has the same magnitude, lr, in every coordinate", kind="E", topic="sign and matrix",
       criterion="without weight decay (from θ₀ = 0, so that |Δθ| is read to 10⁻¹⁴) |Δθ|/η = 1 to 10⁻¹² in every "
                 "coordinate whose gradient history is not all zero, and 0 where it is; with λ = 0.1 (from "
                 "θ₀ ~ N(0, 1)) the magnitudes |sign c + λθ| spread over [1 − λ|θ|, 1 + λ|θ|]",
       scale="1000 coordinates (100 with zero gradient, like unused embedding rows), 20 steps, η = 10⁻⁴, float64",
       judge=lambda e: verdict_if(e["sign_part_max_error"] <= 1e-12 and e["zero_gradient_max_step"] == 0,
                                  verdict_if(e["decay_spread"] > 1e-3,
                                             Verdict(CAVEAT, "exactly η for the sign part; coordinates whose "
                                                             "gradients were all zero don't move (sign 0 = 0), and "
                                                             "decoupled weight decay adds ηλθ: with λ = 0.1 the "
                                                             f"magnitudes span {e['decay_min']:.3f}…"
                                                             f"{e['decay_max']:.3f} η"),
                                             Verdict(HOLDS)),
                                  Verdict(NOT_HERE, "the step is not η in every coordinate")))
def lion_uniform_magnitude() -> dict:
    rng = np.random.default_rng(0)
    grads, start = rng.normal(size=(20, 1000)), rng.normal(size=1000)
    grads[:, :100] = 0.0
    plain = lion_step_magnitudes(grads, np.zeros(1000), lr=1e-4)
    decayed = lion_step_magnitudes(grads[:, 100:], start[100:], lr=1e-4, weight_decay=0.1)
    return {
        "sign_part_max_error": float(np.max(np.abs(plain[:, 100:] - 1))),
        "zero_gradient_max_step": float(np.max(plain[:, :100])),
        "decay_min": float(decayed.min()),
        "decay_max": float(decayed.max()),
        "decay_spread": float(decayed.max() - decayed.min()),
    }


def newton_schulz_scalar_map(x: np.ndarray, steps: int = 5) -> np.ndarray:
    """p composed ``steps`` times, p(σ) = aσ + bσ³ + cσ⁵ with Muon's coefficients."""
    a, b, c = NS_COEFFICIENTS
    for _ in range(steps):
        x = a * x + b * x**3 + c * x**5
    return x


@claim(33, "Newton–Schulz with Muon's coefficients maps a matrix's singular values near 1 in 5 steps (an "
           "approximate orthogonalisation, not an exact one)", kind="N", topic="sign and matrix",
       criterion="float64: the singular values after 5 steps equal p⁵(σ/‖G‖_F) to 10⁻¹⁰; for σ/‖G‖_F ≥ 10⁻² p⁵ lies "
                 "in [0.6, 1.2] and not at 1 (polar factor UVᵀ missed by > 1%) (tall random matrices, bfloat16 as "
                 "Muon runs it: all singular values in [0.6, 1.2]); 'near 1' fails for the small singular values of a square random matrix",
       scale="Gaussian 256×64, 512×128 and 256×256 matrices; the scalar map on 2001 points of [10⁻⁶, 1]",
       judge=lambda e: verdict_if(e["scalar_vs_matrix_max_error"] <= 1e-10 and 0.6 <= e["map_min_above_1e-2"]
                                  and e["map_max_above_1e-2"] <= 1.2
                                  and 0.6 <= e["tall_sv_min"] and e["tall_sv_max"] <= 1.2
                                  and e["polar_rel_error"] > 0.01,
                                  verdict_if(e["square_sv_min"] < 0.6,
                                             Verdict(CAVEAT, f"singular values ≥ 1% of ‖G‖_F land in "
                                                             f"[{e['map_min_above_1e-2']:.2f}, "
                                                             f"{e['map_max_above_1e-2']:.2f}] (never exactly 1); a "
                                                             f"small one grows at most {e['max_gain']:.0f}× in 5 "
                                                             "steps, so a square random matrix keeps "
                                                             f"{e['square_fraction_below_0.6']:.1%} of its singular "
                                                             f"values below 0.6 (smallest {e['square_sv_min']:.3f})"),
                                             Verdict(HOLDS)),
                                  Verdict(NOT_HERE, "the singular values do not land near 1")))
def newton_schulz_singular_values() -> dict:
    rng = np.random.default_rng(0)
    x = np.logspace(-6, 0, 2001)
    mapped = newton_schulz_scalar_map(x)
    evidence = {"map_max": float(mapped.max()), "map_min_above_1e-2": float(mapped[x >= 1e-2].min()),
                "map_max_above_1e-2": float(mapped[x >= 1e-2].max()), "max_gain": float(NS_COEFFICIENTS[0] ** 5)}
    tall, square = [rng.normal(size=(256, 64)), rng.normal(size=(512, 128))], rng.normal(size=(256, 256))
    scalar_errors = []
    for matrix in tall + [square]:
        sigma = np.linalg.svd(matrix, compute_uv=False)
        exact = np.linalg.svd(newton_schulz(matrix, ns_dtype=None), compute_uv=False)  # sorted; p⁵ is not monotone
        predicted = np.sort(newton_schulz_scalar_map(sigma / np.linalg.norm(matrix)))[::-1]
        scalar_errors.append(np.max(np.abs(exact - predicted)))
    evidence["scalar_vs_matrix_max_error"] = float(max(scalar_errors))
    tall_sv = np.concatenate([np.linalg.svd(newton_schulz(m).astype(np.float64), compute_uv=False) for m in tall])
    evidence["tall_sv_min"], evidence["tall_sv_max"] = float(tall_sv.min()), float(tall_sv.max())
    square_sv = np.linalg.svd(newton_schulz(square).astype(np.float64), compute_uv=False)
    evidence["square_sv_min"] = float(square_sv.min())
    evidence["square_fraction_below_0.6"] = float(np.mean(square_sv < 0.6))
    u, _, vt = np.linalg.svd(tall[0], full_matrices=False)
    polar = u @ vt
    evidence["polar_rel_error"] = float(np.linalg.norm(newton_schulz(tall[0], ns_dtype=None) - polar)
                                        / np.linalg.norm(polar))
    return evidence


def _first_adafactor_steps(grads) -> np.ndarray:
    """|Δθ| of the last of Adafactor's steps over ``grads`` (T, n, m), from θ = 1, without weight decay."""
    param = Parameter(np.ones(grads.shape[1:]))
    optimizer = Adafactor([param], lr=1e-2)
    for grad in grads:
        before = param.data.copy()
        param.grad = grad
        optimizer.step()
    return np.abs(param.data - before)


@claim(34, "Adafactor's factored second moment needs O(n+m) memory for an n×m matrix instead of O(nm), and is exact "
           "for rank-one squared gradients", kind="E", topic="sign and matrix",
       criterion="measured state: n + m floats for every n×m tried (Adam: 2nm); with V̂ = G² exactly the step "
                 "U = G/√V̂ is ±1, so every |Δθ| is equal: max/min − 1 ≤ 10⁻¹² for a rank-one G (one step, and ten "
                 "steps of ±G), > 1 for a full-rank G and for ten different rank-one gradients",
       scale="n×m ∈ {64×32, 256×256, 1024×128} for memory; 64×32, float64, for exactness",
       judge=lambda e: verdict_if(all(f == n + m for (n, m), f in zip(e["shapes"], e["adafactor_floats"]))
                                  and e["rank_one_spread"] <= 1e-12 and e["rank_one_repeated_spread"] <= 1e-12
                                  and e["full_rank_spread"] > 1,
                                  verdict_if(e["rank_one_varying_spread"] > 1,
                                             Verdict(CAVEAT, "exact when the running average of G² is rank one: "
                                                             "one step, or a gradient with fixed factors; ten "
                                                             "different rank-one gradients average to a higher rank "
                                                             "and the step magnitudes then spread "
                                                             f"{e['rank_one_varying_spread']:.1f}×"),
                                             Verdict(HOLDS)),
                                  Verdict(NOT_HERE, "the factored estimate is not n + m floats or not exact")))
def adafactor_factored_moment() -> dict:
    shapes = [(64, 32), (256, 256), (1024, 128)]
    floats, adam_floats = [], []
    for shape in shapes:
        for cls, out in ((Adafactor, floats), (Adam, adam_floats)):
            param = Parameter(np.zeros(shape, dtype=np.float32))
            optimizer = cls([param])
            param.grad = np.ones(shape, dtype=np.float32)
            optimizer.step()
            out.append(optimizer.state_bytes() // 4)
    rng = np.random.default_rng(0)

    def spread(step):
        return float(step.max() / step.min() - 1)

    a, b = rng.normal(size=64), rng.normal(size=32)
    rank_one = np.outer(a, b)
    signs = np.where(rng.random(10) < 0.5, -1.0, 1.0)[:, None, None]
    varying = np.stack([np.outer(rng.normal(size=64), rng.normal(size=32)) for _ in range(10)])
    return {
        "shapes": shapes,
        "adafactor_floats": floats,
        "adam_floats": adam_floats,
        "rank_one_spread": spread(_first_adafactor_steps(rank_one[None])),
        "rank_one_repeated_spread": spread(_first_adafactor_steps(signs * rank_one)),
        "full_rank_spread": spread(_first_adafactor_steps(rng.normal(size=(1, 64, 32)))),
        "rank_one_varying_spread": spread(_first_adafactor_steps(varying)),
    }
