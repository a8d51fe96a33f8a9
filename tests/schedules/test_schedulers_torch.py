"""Every scheduler class against torch 2.13's, driving an optimlab and a torch optimizer side by side.

The same constructor call is made with ``M = optimlab.schedules`` and ``M = torch.optim.lr_scheduler``
(the names and arguments are the same). Both optimizers have two param groups with different lrs;
every step compares every group's lr (and momentum / beta1 where cycled) with a relative error
<= 1e-12, the issue's acceptance bound. The recursions agree with torch to a few ulps per step
(the chainable updates are the same ratios), so 320 steps stay far inside it.
"""

import math
import warnings

import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler as L

import optimlab
import optimlab.schedules as S
from optimlab.optim import SGD, Adam

# torch warns when its scheduler steps without an optimizer step; the edge-case tests below do that
pytestmark = pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before")

STEPS = 320
RTOL = 1e-12
LRS = (0.1, 0.025)


def make_optimizers(kind, lrs=LRS):
    ours = [optimlab.Parameter(np.zeros(3)) for _ in lrs]
    theirs = [torch.zeros(3, dtype=torch.float64, requires_grad=True) for _ in lrs]
    if kind == "sgd":
        return (SGD([{"params": [p], "lr": lr} for p, lr in zip(ours, lrs)], lr=lrs[0], momentum=0.9),
                torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(theirs, lrs)], lr=lrs[0], momentum=0.9))
    return (Adam([{"params": [p], "lr": lr} for p, lr in zip(ours, lrs)], lr=lrs[0]),
            torch.optim.Adam([{"params": [p], "lr": lr} for p, lr in zip(theirs, lrs)], lr=lrs[0]))


def snapshot(optimizer):
    """lr and the cycled momentum of every group."""
    out = []
    for g in optimizer.param_groups:
        out += [float(g["lr"]), float(g["betas"][0] if "betas" in g else g["momentum"])]
    return out


def assert_rel_close(actual, expected, where):
    actual, expected = np.asarray(actual, float), np.asarray(expected, float)
    err = np.abs(actual - expected)
    bad = err > RTOL * np.abs(expected)
    assert not bad.any(), f"{where}: ours {actual[bad]} torch {expected[bad]}"


def run_side_by_side(build, kind="sgd", steps=STEPS, metric=None):
    ours_opt, torch_opt = make_optimizers(kind)
    ours, theirs = build(S, ours_opt), build(L, torch_opt)
    history = []
    for t in range(steps + 1):
        assert_rel_close(snapshot(ours_opt), snapshot(torch_opt), f"step {t}")
        assert_rel_close(ours.get_last_lr(), theirs.get_last_lr(), f"get_last_lr at step {t}")
        history.append(ours.get_last_lr())
        if t == steps:
            break
        ours_opt.step()
        torch_opt.step()
        args = () if metric is None else (metric(t),)
        ours.step(*args)
        theirs.step(*args)
    return np.array(history)


CONFIGS = {
    "Lambda": lambda M, o: M.LambdaLR(o, lambda t: 1 / math.sqrt(1 + t)),
    "Lambda-per-group": lambda M, o: M.LambdaLR(o, [lambda t: 0.99 ** t, lambda t: 1 + (t % 10)]),
    "Multiplicative": lambda M, o: M.MultiplicativeLR(o, lambda t: 0.995),
    "Multiplicative-per-group": lambda M, o: M.MultiplicativeLR(o, [lambda t: 0.99, lambda t: 1.0 if t % 3 else 0.9]),
    "Step-30": lambda M, o: M.StepLR(o, 30, 0.5),
    "Step-1": lambda M, o: M.StepLR(o, 1, 0.99),
    "Step-7": lambda M, o: M.StepLR(o, step_size=7, gamma=0.3),
    "MultiStep": lambda M, o: M.MultiStepLR(o, [50, 120, 120, 200], 0.3),
    "MultiStep-early": lambda M, o: M.MultiStepLR(o, [1, 2, 3], 0.9),
    "Constant-default": lambda M, o: M.ConstantLR(o),
    "Constant": lambda M, o: M.ConstantLR(o, factor=0.5, total_iters=40),
    "Linear-default": lambda M, o: M.LinearLR(o),
    "Linear-warmup": lambda M, o: M.LinearLR(o, start_factor=0.05, total_iters=40),
    "Linear-to-zero": lambda M, o: M.LinearLR(o, 1.0, 0.0, 250),
    "Exponential": lambda M, o: M.ExponentialLR(o, 0.99),
    "Exponential-fast": lambda M, o: M.ExponentialLR(o, gamma=0.9),
    "Polynomial-linear": lambda M, o: M.PolynomialLR(o, total_iters=100),
    "Polynomial-square": lambda M, o: M.PolynomialLR(o, 250, 2.0),
    "Polynomial-sqrt": lambda M, o: M.PolynomialLR(o, 300, 0.5),
    "Cosine-past-Tmax": lambda M, o: M.CosineAnnealingLR(o, T_max=100),
    "Cosine-eta-min": lambda M, o: M.CosineAnnealingLR(o, 50, eta_min=0.001),
    "Cosine-long": lambda M, o: M.CosineAnnealingLR(o, 320, 1e-5),
    "WarmRestarts": lambda M, o: M.CosineAnnealingWarmRestarts(o, 10),
    "WarmRestarts-mult2": lambda M, o: M.CosineAnnealingWarmRestarts(o, 7, T_mult=2, eta_min=0.001),
    "WarmRestarts-mult3": lambda M, o: M.CosineAnnealingWarmRestarts(o, 1, 3),
    "Sequential-warmup-cosine": lambda M, o: M.SequentialLR(
        o, [M.LinearLR(o, 0.1, 1.0, 20), M.CosineAnnealingLR(o, 100, 0.001)], milestones=[20]),
    "Sequential-three": lambda M, o: M.SequentialLR(
        o, [M.ConstantLR(o, 0.2, 5), M.ExponentialLR(o, 0.98), M.StepLR(o, 25, 0.5)], [10, 100]),
    "Sequential-lambda-poly": lambda M, o: M.SequentialLR(
        o, [M.LambdaLR(o, lambda t: (t + 1) / 30), M.PolynomialLR(o, 200, 1.5)], [30]),
    "Chained-constant-exp": lambda M, o: M.ChainedScheduler([M.ConstantLR(o, 0.1, 20), M.ExponentialLR(o, 0.99)]),
    "Chained-linear-cosine": lambda M, o: M.ChainedScheduler(
        [M.LinearLR(o, 0.2, 1.0, 30), M.CosineAnnealingLR(o, 150, 0.002)], optimizer=o),
    "Chained-three": lambda M, o: M.ChainedScheduler(
        [M.StepLR(o, 40, 0.7), M.MultiStepLR(o, [100, 250], 0.5), M.PolynomialLR(o, 300, 1.0)]),
}

CYCLING = {
    "Cyclic-triangular": lambda M, o: M.CyclicLR(o, 0.01, 0.1, step_size_up=20),
    "Cyclic-triangular2": lambda M, o: M.CyclicLR(o, [0.01, 0.001], [0.1, 0.05], 20, 35, mode="triangular2"),
    "Cyclic-exp-range": lambda M, o: M.CyclicLR(o, 0.001, 0.1, 25, mode="exp_range", gamma=0.995,
                                                base_momentum=0.7, max_momentum=0.95),
    "Cyclic-scale-fn": lambda M, o: M.CyclicLR(o, 0.001, 0.1, 15, scale_fn=lambda x: 1 / (1 + 0.01 * x),
                                               scale_mode="iterations"),
    "Cyclic-no-momentum": lambda M, o: M.CyclicLR(o, 0.001, 0.1, 15, cycle_momentum=False),
    "OneCycle-cos": lambda M, o: M.OneCycleLR(o, 0.1, total_steps=STEPS),
    "OneCycle-linear": lambda M, o: M.OneCycleLR(o, [0.1, 0.3], total_steps=STEPS, anneal_strategy="linear",
                                                 pct_start=0.25, div_factor=10.0, final_div_factor=100.0),
    "OneCycle-three-phase": lambda M, o: M.OneCycleLR(o, 0.1, epochs=8, steps_per_epoch=40, three_phase=True,
                                                      base_momentum=0.8, max_momentum=0.9),
    "OneCycle-no-momentum": lambda M, o: M.OneCycleLR(o, 0.1, STEPS, cycle_momentum=False),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_matches_torch(name):
    run_side_by_side(CONFIGS[name])


@pytest.mark.parametrize("kind", ["sgd", "adam"])
@pytest.mark.parametrize("name", sorted(CYCLING))
def test_cycling_matches_torch_with_momentum(name, kind):
    # OneCycleLR: steps 0..T-1 are the ones updates use; step T is test_one_cycle_final_step
    run_side_by_side(CYCLING[name], kind, steps=STEPS - 1 if name.startswith("OneCycle") else STEPS)


def _metric(t):
    """A loss that improves, plateaus, improves a little (below/above the threshold), and wobbles."""
    if t < 40:
        return 1.0 / (1 + t)
    if t < 120:
        return 1 / 40 * (1 - 1e-5 * (t - 40)) + 1e-4 * (t % 7 == 0)
    return 0.02 * (1 + 0.5 * math.sin(t / 5.0))


@pytest.mark.parametrize("kwargs", [
    {},
    {"patience": 3, "factor": 0.5},
    {"patience": 0, "cooldown": 5, "factor": 0.7, "min_lr": [0.01, 0.001]},
    {"mode": "max", "patience": 2, "threshold": 0.01},
    {"threshold_mode": "abs", "threshold": 1e-3, "patience": 4, "eps": 1e-3},
    {"mode": "max", "threshold_mode": "abs", "patience": 1, "min_lr": 0.005},
])
def test_reduce_on_plateau_matches_torch(kwargs):
    metric = (lambda t: -_metric(t)) if kwargs.get("mode") == "max" else _metric
    history = run_side_by_side(lambda M, o: M.ReduceLROnPlateau(o, **kwargs), metric=metric)
    assert len(np.unique(history[:, 0])) > 1, "the metric sequence must trigger at least one reduction"


def test_warm_restarts_fractional_epochs_match_torch():
    ours_opt, torch_opt = make_optimizers("sgd")
    ours, theirs = S.CosineAnnealingWarmRestarts(ours_opt, 5, 2, 0.001), L.CosineAnnealingWarmRestarts(torch_opt, 5, 2, 0.001)
    iters = 8
    for epoch in range(40):
        for i in range(iters):
            ours.step(epoch + i / iters)
            theirs.step(epoch + i / iters)
            assert_rel_close(ours.get_last_lr(), theirs.get_last_lr(), f"epoch {epoch + i / iters}")
            assert (ours.T_i, ours.last_epoch) == (theirs.T_i, theirs.last_epoch)


def test_warm_restarts_exact_cycle_boundary_where_torch_rounds():
    """Deviation: at epoch 121 (T_0=1, T_mult=3) a new cycle starts; torch's log() rounds to 4.999...
    and puts the epoch at the end of the previous cycle (eta_min). Ours restarts (base lr)."""
    ours_opt, torch_opt = make_optimizers("sgd")
    ours, theirs = S.CosineAnnealingWarmRestarts(ours_opt, 1, 3), L.CosineAnnealingWarmRestarts(torch_opt, 1, 3)
    ours.step(121)
    theirs.step(121)
    assert ours.get_last_lr() == list(LRS)
    assert theirs.get_last_lr() == [0.0, 0.0]  # torch's rounding (if this fails, torch fixed it)


def test_constant_factor_zero_where_torch_divides_by_zero():
    ours_opt, torch_opt = make_optimizers("sgd")
    ours, theirs = S.ConstantLR(ours_opt, 0.0, 3), L.ConstantLR(torch_opt, 0.0, 3)
    for _ in range(2):
        ours.step()
        theirs.step()
    ours.step()
    assert ours.get_last_lr() == list(LRS)
    with pytest.raises(ZeroDivisionError):
        theirs.step()


def test_one_cycle_raises_past_total_steps_like_torch():
    ours_opt, torch_opt = make_optimizers("sgd")
    ours, theirs = S.OneCycleLR(ours_opt, 0.1, 10), L.OneCycleLR(torch_opt, 0.1, 10)
    for _ in range(10):  # to step 10 = total_steps is allowed
        ours.step()
        theirs.step()
    before = ours.state_dict()
    with pytest.raises(ValueError, match="total_steps=10"):
        ours.step()
    with pytest.raises(ValueError):
        theirs.step()
    assert ours.state_dict()["last_epoch"] == before["last_epoch"] == 10  # unchanged by the failed step


@pytest.mark.parametrize("anneal", ["cos", "linear"])
def test_one_cycle_final_step_holds_min_lr(anneal):
    """Deviation: the extra step to T (no update uses it) holds min_lr; torch extrapolates the last
    phase, which for 'linear' gives a negative lr here."""
    ours_opt, torch_opt = make_optimizers("sgd")
    kwargs = dict(max_lr=0.1, total_steps=20, anneal_strategy=anneal, div_factor=10.0, final_div_factor=100.0)
    ours, theirs = S.OneCycleLR(ours_opt, **kwargs), L.OneCycleLR(torch_opt, **kwargs)
    for _ in range(20):
        ours.step()
        theirs.step()
    min_lr = 0.1 / 10 / 100
    assert ours.get_last_lr() == [pytest.approx(min_lr, rel=1e-12)] * 2
    assert theirs.get_last_lr()[0] != pytest.approx(min_lr, rel=1e-3)
    if anneal == "linear":
        assert theirs.get_last_lr()[0] < 0


def test_schedulers_drive_a_torch_optimizer_too():
    """Duck typing: the classes only need torch-style param_groups."""
    _, torch_opt = make_optimizers("sgd")
    scheduler = S.CosineAnnealingLR(torch_opt, 10)
    for _ in range(10):
        torch_opt.step()
        scheduler.step()
    assert torch_opt.param_groups[0]["lr"] == 0.0
