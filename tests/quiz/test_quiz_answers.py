"""Every numeric answer of the bank recomputed by an independent route: torch 2.13 (float64) running
the same optimizer or scheduler, or the closed form of the textbook result, from the question's own
parameters. The choice questions' picks are checked against the textbook verdicts.

Tolerances: 1e-12 relative where both routes are exact float64 arithmetic of the same formula (torch,
closed forms); looser ones are stated where the bank's route is itself approximate (a bisection, an
experiment, ε in a denominator).
"""

import math

import numpy as np
import pytest
import torch

from optimlab.quiz import BANK

EXACT = 1e-12


def torch_run(optimizer_cls, grads, start=0.0, **hyper):
    """Parameters after each step of a torch optimizer on one float64 tensor, and the optimizer."""
    grads = [torch.as_tensor(np.asarray(g, dtype=np.float64)) for g in grads]
    param = torch.full_like(grads[0], start, requires_grad=True)
    optimizer = optimizer_cls([param], **hyper)
    path = [param.detach().clone()]
    for g in grads:
        param.grad = g.clone()
        optimizer.step()
        path.append(param.detach().clone())
    return torch.stack(path).numpy(), optimizer.state[param]


def torch_move(optimizer_cls, grads, start=0.0, **hyper):
    """θ_{T−1} − θ_T of the torch run: how far the last step moved, downhill positive."""
    path, _ = torch_run(optimizer_cls, grads, start, **hyper)
    return float(path[-2].ravel()[0] - path[-1].ravel()[0])


def torch_lr(scheduler_cls, lr, steps, **options):
    param = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([param], lr=lr)
    scheduler = scheduler_cls(optimizer, **options)
    for _ in range(steps):
        optimizer.step()
        scheduler.step()
    return optimizer.param_groups[0]["lr"]


def newton_schulz_float64(matrix, steps):
    """Muon's quintic iteration, written out here (Jordan et al.'s published coefficients)."""
    a, b, c = 3.4445, -4.7750, 2.0315
    x = matrix / np.linalg.norm(matrix)
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x


def _oracle_newton_schulz(p):
    from optimlab.quiz.modern import _matrix_with_singular_values  # the input matrix, not the answer

    matrix = _matrix_with_singular_values(np.geomspace(1.0, p["smallest"], p["size"]))
    return np.linalg.svd(newton_schulz_float64(matrix, p["steps"]), compute_uv=False).min()


def _oracle_loss_scale(p):
    # float16 rounds x to zero iff x ≤ half the smallest subnormal, 2⁻²⁵ (ties go to the even 0).
    return math.floor(math.log2(2.0**-25 / p["grad"])) + 1


ORACLES = {  # question id: (independent answer from the params, relative tolerance)
    "gd-iterate": (lambda p: p["start"] * (1 - p["lr"] * p["curvature"]) ** p["steps"], EXACT),
    "gd-divergence-threshold": (lambda p: 2 / max(p["eigenvalues"]), EXACT),
    "gd-condition-number-steps": (lambda p: math.ceil(math.log(1 / p["reduction"]) / math.log(1 - 1 / p["kappa"])), 0),
    "gd-best-fixed-rate": (lambda p: (p["L"] - p["mu"]) / (p["L"] + p["mu"]), 1e-9),
    "momentum-consistent-gradient": (lambda p: p["lr"] * p["grad"] * (1 - p["beta"] ** p["steps"]) / (1 - p["beta"]), 1e-9),
    "momentum-buffer": (lambda p: torch_run(torch.optim.SGD, [[g] for g in p["grads"]], lr=0.1,
                                            momentum=p["beta"])[1]["momentum_buffer"].item(), EXACT),
    # bisection over 16 halvings, each judged by |x| after 300 steps: ≈ 1e-3 of the edge
    "momentum-stability-edge": (lambda p: 2 * (1 + p["beta"]) / p["curvature"], 2e-3),
    "nesterov-first-step": (lambda p: torch_move(torch.optim.SGD, [[p["grad"]]], lr=p["lr"], momentum=p["beta"],
                                                 nesterov=True), EXACT),
    "adagrad-step-size": (lambda p: torch_move(torch.optim.Adagrad, [[p["grad"]]] * p["steps"], lr=p["lr"]), 1e-9),
    "rmsprop-first-step": (lambda p: torch_move(torch.optim.RMSprop, [[p["grad"]]], lr=p["lr"], alpha=p["alpha"]), 1e-9),
    "rmsprop-steady-step": (lambda p: torch_move(torch.optim.RMSprop, [[p["grad"]]] * p["steps"], lr=p["lr"],
                                                 alpha=p["alpha"]), 1e-9),
    "adadelta-first-step": (lambda p: torch_move(torch.optim.Adadelta, [[p["grad"]]], lr=p["lr"], rho=p["rho"],
                                                 eps=p["eps"]), 1e-9),
    "adam-first-moment": (lambda p: torch_run(torch.optim.Adam, [[p["grad"]]], betas=(p["beta1"], 0.999))[1]
                          ["exp_avg"].item(), EXACT),
    "adam-corrected-first-moment": (lambda p: p["grad"], 1e-15),  # m̂₁ = g exactly (up to one rounding)
    "adam-first-step": (lambda p: torch_move(torch.optim.Adam, [[p["grad"]]], lr=p["lr"]), 1e-9),
    "adam-epsilon-damping": (lambda p: torch_move(torch.optim.Adam, [[p["grad"]]], lr=p["lr"], eps=p["eps"]), 1e-9),
    "adam-corrected-second-moment": (lambda p: (p["beta2"] * p["grads"][0] ** 2 + p["grads"][1] ** 2)
                                     / (1 + p["beta2"]), 1e-9),
    # the bank adds ε = 1e-8 to √v₁ ≈ 0.06: a relative 2e-7
    "adam-without-bias-correction": (lambda p: (1 - p["beta1"]) / math.sqrt(1 - p["beta2"]), 1e-6),
    "amsgrad-last-step": (lambda p: torch_move(torch.optim.Adam, [[p["large"]]] + [[p["small"]]] * p["steps"],
                                               betas=(0.9, p["beta2"]))
                          / torch_move(torch.optim.Adam, [[p["large"]]] + [[p["small"]]] * p["steps"],
                                       betas=(0.9, p["beta2"]), amsgrad=True), 1e-9),
    "adamax-infinity-norm": (lambda p: torch_run(torch.optim.Adamax, [[g] for g in p["grads"]],
                                                 betas=(0.9, p["beta2"]))[1]["exp_inf"].item(), EXACT),
    "radam-rho-and-switch": (lambda p: (2 / (1 - p["beta2"]) - 1)
                             - 2 * p["step"] * p["beta2"] ** p["step"] / (1 - p["beta2"] ** p["step"]), 1e-9),
    "nadam-first-momentum": (lambda p: p["beta1"] * (1 - 0.5 * 0.96 ** p["psi"]), EXACT),  # Dozat (2016)
    "adamw-decay-factor": (lambda p: 1 - torch_run(torch.optim.AdamW, [[0.0]], start=1.0, lr=p["lr"],
                                                   weight_decay=p["wd"])[0][1, 0], 1e-9),
    "adam-l2-is-normalised": (lambda p: torch_move(torch.optim.Adam, [[0.0]], start=p["theta"], lr=p["lr"],
                                                   weight_decay=p["wd"]), 1e-9),
    "adamw-half-life": (lambda p: math.ceil(math.log(0.5) / math.log(1 - p["lr"] * p["wd"])), 0),
    # an experiment: decay rates ∝ 1/|g| only approximately (√v̂ averages the gradient's square)
    "adam-l2-decay-depends-on-gradient": (lambda p: p["large"] / p["small"], 0.02),
    "adamw-decay-follows-lr": (lambda p: math.log(1 - p["lr_low"] * p["wd"]) / math.log(1 - p["lr_high"] * p["wd"]),
                               1e-9),
    "warmup-value": (lambda p: p["peak"] * p["step"] / p["warmup"], 1e-9),
    "warmup-cosine-value": (lambda p: 0.5 * p["peak"] * (1 + math.cos(math.pi * (p["step"] - p["warmup"])
                                                                     / (p["total"] - p["warmup"]))), 1e-9),
    "cosine-half-way": (lambda p: p["minimum"] + 0.5 * (p["peak"] - p["minimum"])
                        * (1 + math.cos(math.pi * p["half"] / p["steps"])), 1e-9),
    "cosine-annealing-rises": (lambda p: torch_lr(torch.optim.lr_scheduler.CosineAnnealingLR, p["lr"], p["steps"],
                                                  T_max=p["t_max"]), 1e-9),
    "step-decay-value": (lambda p: torch_lr(torch.optim.lr_scheduler.StepLR, p["lr"], p["epoch"],
                                            step_size=p["step_size"], gamma=p["gamma"]), 1e-9),
    "one-cycle-start": (lambda p: torch_lr(torch.optim.lr_scheduler.OneCycleLR, p["max_lr"], 0, max_lr=p["max_lr"],
                                           total_steps=p["total"]), 1e-9),
    "inverse-sqrt-value": (lambda p: p["peak"] / math.sqrt(p["step"] / p["warmup"]), 1e-9),
    "wsd-cooldown-value": (lambda p: p["peak"] * (1 - (p["step"] - p["warmup"] - p["stable"]) / p["decay"]), 1e-9),
    "range-test-growth": (lambda p: (p["end_lr"] / p["start_lr"]) ** (1 / (p["num_steps"] - 1)), 1e-9),
    "swa-average": (lambda p: float(np.mean(p["values"][:p["count"]])), 1e-9),
    "ema-half-life": (lambda p: math.ceil(math.log(0.5) / math.log(p["decay"])), 0),
    "ema-warmup-decay": (lambda p: min(p["decay"], (1 + p["n"]) / (10 + p["n"])), EXACT),  # tf.train's num_updates
    "schedule-free-average-weight": (lambda p: 1 / p["step"], EXACT),
    "lookahead-sync": (lambda p: -p["alpha"] * p["k"] * p["lr"] * p["grad"], 1e-9),
    "lion-uniform-move": (lambda p: p["lr"], 1e-9),
    "lion-decay": (lambda p: p["lr"] * p["wd"] * p["theta"], 1e-9),
    "muon-lr-adjustment": (lambda p: p["lr"] * math.sqrt(max(1, p["rows"] / p["cols"])), EXACT),
    "newton-schulz-band": (_oracle_newton_schulz, 1e-9),
    "lars-step-norm": (lambda p: p["lr"] * p["k"] * p["norm"], 1e-9),
    "lamb-relative-step": (lambda p: p["lr"], 1e-9),
    "sophia-clipped-move": (lambda p: p["lr"], 1e-9),
    "sophia-newton-like-move": (lambda p: p["lr"] * (1 - p["beta1"]) * p["grad"] / (p["rho"] * p["bs"] * p["hessian"]),
                                1e-9),
    "adamw-state-memory": (lambda p: 2 * 4 * p["billions"], EXACT),  # two fp32 moments
    "adam8bit-state-memory": (lambda p: (2 + 2 * 4 / p["blocksize"]) * p["billions"], EXACT),
    "lion-state-memory": (lambda p: 4 * p["billions"], EXACT),
    "adafactor-state-saving": (lambda p: 2 * p["rows"] * p["cols"] / (p["rows"] + p["cols"]), EXACT),
    "shampoo-state-memory": (lambda p: 2 * (p["rows"] ** 2 + p["cols"] ** 2) * 4 / (p["rows"] * p["cols"]), EXACT),
    "loss-scale-power": (_oracle_loss_scale, 0),
    "clip-before-unscale": (lambda p: p["max_norm"] / p["scale"], 1e-5),  # float32 gradients
    "clip-factor": (lambda p: p["max_norm"] / (p["total_norm"] + 1e-6), 1e-12),  # torch's clip_coef
    "grad-scaler-dynamics": (lambda p: p["init_scale"] * p["backoff"] ** 2 * p["growth"] ** (p["good"] // p["interval"]),
                             EXACT),
    "adamw-bytes-per-step": (lambda p: 7 * 4 * p["millions"] * 1e6 / 1e9, EXACT),  # read θ g m v, write θ m v
    "adamw-step-time": (lambda p: 7 * 4 * p["millions"] * 1e6 / 1e9 / p["bandwidth"] * 1e3, EXACT),
    "adamw-over-sgd-bytes": (lambda p: (7 - 5) * 4 * p["millions"] * 1e6 / 1e9, EXACT),  # SGD: read θ g b, write θ b
    "adam8bit-bytes-per-step": (lambda p: (3 * 4 + 4 * 1 + 4 * 4 / p["blocksize"]) * p["millions"] * 1e6 / 1e9, EXACT),
    "adamw-low-precision-bytes": (lambda p: 7 * np.dtype(p["dtype"]).itemsize * p["millions"] * 1e6 / 1e9, EXACT),
}

# The textbook verdict of each choice question at its parameters (the bank computes its pick).
VERDICTS = {
    "gd-learning-rate-too-large": "c",  # |1 − ηL| = 1.5 > 1: sign flips, amplitude grows
    "momentum-versus-gd": "b",  # 1 − 1/√κ beats 1 − 1/κ
    "adagrad-only-shrinks": "a",  # a running sum only grows
    "adam-gradient-scale": "b",  # m̂/√v̂ is scale-invariant up to ε
    "l2-versus-decoupled": "b",  # the same for plain SGD only
    "range-test-suggestion": "b",  # the loss falls fastest before it bottoms out
    "sign-update-is-uniform": "c",  # sign(·) has magnitude 1
    "shampoo-first-step": "c",  # (GGᵀ)^(−1/4) G (GᵀG)^(−1/4) = UVᵀ
    "lamb-zero-weights": "b",  # trust ratio 1 when a norm is zero (optax, torch-optimizer)
    "layerwise-relative-step": "c",  # LARS: ‖Δθ‖ = ηk‖θ‖
    "lbfgs-iterations": "b",  # inexact (Wolfe) line searches: more than n, far fewer than GD
    "lbfgs-versus-momentum": "a",
    "least-state": "e",  # Adafactor: n + m numbers for an n×m matrix
    "optimizer-for-a-memory-budget": "c",  # 56 GB + 56 / 28 / ≈14 GB of state against 80 GB
    "fp16-master-weights": "b",  # below fp16's spacing at 1, accumulated in fp32
}


def test_every_numeric_and_choice_question_has_an_independent_check():
    kinds = {qid: q.kind for qid, q in BANK.items()}
    assert {q for q, k in kinds.items() if k == "numeric"} == set(ORACLES) | {"range-test-stops-past-edge"}
    assert {q for q, k in kinds.items() if k == "choice"} == set(VERDICTS)


@pytest.mark.parametrize("qid", sorted(ORACLES))
def test_numeric_answer_matches_independent_route(qid):
    question = BANK[qid]
    oracle, rtol = ORACLES[qid]
    answer = question.solve()[question.answer]
    assert math.isclose(answer, oracle(question.params), rel_tol=rtol, abs_tol=0), (answer, oracle(question.params))


@pytest.mark.parametrize("qid", sorted(VERDICTS))
def test_choice_pick_matches_the_textbook_verdict(qid):
    question = BANK[qid]
    assert question.solve()[question.answer] == VERDICTS[qid]


def test_range_test_stops_past_the_edge_of_stability():
    question = BANK["range-test-stops-past-edge"]
    values = question.solve()
    assert values["answer"] > 2 / question.params["curvature"]


def test_short_answer_evidence_shows_the_fp16_failure_and_its_fix():
    question = BANK["fp16-adam-epsilon"]
    values = question.solve()
    assert np.float16(question.params["eps"]) == 0 and values["eps_fp16"] == 0
    assert not math.isfinite(values["theta_bad"]) and math.isfinite(values["theta_fixed"])


def test_short_answer_evidence_for_accumulation_and_zero_grad():
    question = BANK["accumulation-without-mean"]
    values = question.solve()
    k = question.params["k"]
    assert math.isclose(values["ratio"], k, rel_tol=1e-12) and math.isclose(values["sgd_ratio"], k, rel_tol=1e-12)
    assert values["adam_change"] < 1e-3  # Adam: scale-invariant up to ε
    values = BANK["forgotten-zero-grad"].solve()
    assert values["with_zero"] < 0.01 < 1 < values["without_zero"]  # converges vs keeps circling
