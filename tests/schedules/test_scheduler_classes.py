"""Each class equals the pure schedule it wraps; schedules drive optimlab optimizers directly; bad input.

Class vs pure function: relative error <= 1e-12 over 300 steps (the chainable classes update by
ratios of the pure function, a few ulps per step; the closed-form classes call it directly).
"""

import numpy as np
import pytest

import optimlab
import optimlab.schedules as S
from optimlab.optim import SGD, Adam

LRS = (0.1, 0.025)
STEPS = 300


def make_sgd(lrs=LRS):
    return SGD([{"params": [optimlab.Parameter(np.zeros(2))], "lr": lr} for lr in lrs], lr=lrs[0], momentum=0.9)


def lr_history(scheduler, optimizer, steps=STEPS, momentum=False):
    rows = []
    for _ in range(steps):
        rows.append([g["momentum"] if momentum else g["lr"] for g in optimizer.param_groups])
        optimizer.step()
        scheduler.step()
    return np.array(rows)


def pure_history(schedules, steps=STEPS):
    return np.array([[s(t) for s in schedules] for t in range(steps)])


PAIRS = {
    "Step": (lambda o: S.StepLR(o, 13, 0.7), lambda b: S.step_decay(b, 13, 0.7)),
    "MultiStep": (lambda o: S.MultiStepLR(o, [10, 100, 100], 0.5), lambda b: S.multistep(b, [10, 100, 100], 0.5)),
    "Constant": (lambda o: S.ConstantLR(o, 0.4, 30),
                 lambda b: S.join([S.constant(0.4 * b), S.constant(b)], [30])),
    "Linear": (lambda o: S.LinearLR(o, 0.1, 0.8, 50), lambda b: S.linear(0.1 * b, 0.8 * b, 50)),
    "Exponential": (lambda o: S.ExponentialLR(o, 0.985), lambda b: S.exponential(b, 0.985)),
    "Polynomial": (lambda o: S.PolynomialLR(o, 200, 1.7), lambda b: S.polynomial(b, 200, 1.7)),
    "Cosine": (lambda o: S.CosineAnnealingLR(o, 120, 0.002), lambda b: S.cosine(b, 120, 0.002, periodic=True)),
    "WarmRestarts": (lambda o: S.CosineAnnealingWarmRestarts(o, 9, 2, 1e-3),
                     lambda b: S.cosine_warm_restarts(b, 9, 2, 1e-3)),
    "Lambda": (lambda o: S.LambdaLR(o, lambda t: 0.5 ** (t / 50)), lambda b: S.exponential(b, 0.5 ** (1 / 50))),
    "Sequential": (lambda o: S.SequentialLR(o, [S.LinearLR(o, 0.2, 1.0, 25), S.CosineAnnealingLR(o, 200)], [25]),
                   lambda b: S.join([S.linear(0.2 * b, b, 25), S.cosine(b, 200, periodic=True)], [25])),
}


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_class_equals_its_pure_schedule(name):
    build, pure = PAIRS[name]
    opt = make_sgd()
    actual = lr_history(build(opt), opt)
    np.testing.assert_allclose(actual, pure_history([pure(b) for b in LRS]), rtol=1e-12, atol=0)


def test_cyclic_and_one_cycle_equal_their_pure_schedules():
    """Including the cycled momenta (one_cycle_momentum)."""
    opt = make_sgd()
    sched = S.CyclicLR(opt, 0.01, [0.1, 0.2], 20, 10, mode="exp_range", gamma=0.997,
                       base_momentum=0.8, max_momentum=0.9)
    lrs = lr_history(sched, opt)
    np.testing.assert_allclose(lrs, pure_history([S.cyclic(0.01, m, 20, 10, "exp_range", 0.997) for m in (0.1, 0.2)]),
                               rtol=1e-12, atol=0)
    opt = make_sgd()
    sched = S.OneCycleLR(opt, [0.1, 0.3], STEPS, pct_start=0.2, three_phase=True)
    lrs, momenta = [], []
    for _ in range(STEPS):
        lrs.append([g["lr"] for g in opt.param_groups])
        momenta.append([g["momentum"] for g in opt.param_groups])
        opt.step()
        sched.step()
    expected = pure_history([S.one_cycle(m, STEPS, 0.2, three_phase=True) for m in (0.1, 0.3)])
    np.testing.assert_allclose(np.array(lrs), expected, rtol=1e-12, atol=0)
    expected_m = pure_history([S.one_cycle_momentum(STEPS, 0.85, 0.95, 0.2, three_phase=True)] * 2)
    np.testing.assert_allclose(np.array(momenta), expected_m, rtol=1e-12, atol=0)


def test_chainable_update_follows_external_changes_as_torch_does():
    """A chainable scheduler rescales the current lr, so a manual change persists (torch semantics),
    while a closed-form one overwrites it."""
    opt = make_sgd()
    sched = S.ExponentialLR(opt, 0.9)
    opt.param_groups[0]["lr"] = 1.0
    sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.9, rel=1e-15)
    opt = make_sgd()
    sched = S.LambdaLR(opt, lambda t: 0.9 ** t)
    opt.param_groups[0]["lr"] = 1.0
    sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.09, rel=1e-15)


def _quadratic_run(lr, use_scheduler, kind=SGD):
    p = optimlab.Parameter(np.array([3.0, -2.0]))
    opt = kind([p], lr=lr if not use_scheduler else 0.0)
    sched = S.ScheduleLR(opt, lr) if use_scheduler else None
    lrs = []
    for _ in range(120):
        p.grad = 2.0 * p.data
        opt.step()
        if sched is not None:
            sched.step()
    return p.data.copy()


@pytest.mark.parametrize("kind", [SGD, Adam])
def test_optimizer_accepts_a_schedule_for_lr(kind):
    """Item 4: ``SGD(params, lr=schedule)`` (the optimizer evaluates it at its completed-step count)
    and ``ScheduleLR`` (a scheduler writing group['lr']) give the same trajectory."""
    schedule = S.warmup_cosine_decay(0.05, 10, 120)
    direct = _quadratic_run(schedule, use_scheduler=False, kind=kind)
    adapted = _quadratic_run(schedule, use_scheduler=True, kind=kind)
    np.testing.assert_array_equal(direct, adapted)
    assert not np.allclose(direct, _quadratic_run(0.05, use_scheduler=False, kind=kind))


class NoMomentum:
    def __init__(self):
        self.param_groups = [{"lr": 0.1, "params": []}]
        self.defaults = {"lr": 0.1}


BAD = [
    (lambda o: S.StepLR(o, 0), ValueError, "step_size"),
    (lambda o: S.StepLR(o, 1.5), TypeError, "step_size"),
    (lambda o: S.MultiStepLR(o, [30, 10]), ValueError, "milestones"),
    (lambda o: S.ConstantLR(o, 1.5), ValueError, "factor"),
    (lambda o: S.ConstantLR(o, 0.5, 0), ValueError, "total_iters"),
    (lambda o: S.LinearLR(o, 0.0), ValueError, "start_factor"),
    (lambda o: S.LinearLR(o, total_iters=0), ValueError, "total_iters"),
    (lambda o: S.ExponentialLR(o, -0.5), ValueError, "gamma"),
    (lambda o: S.PolynomialLR(o, total_iters=-1), ValueError, "total_iters"),
    (lambda o: S.CosineAnnealingLR(o, 0), ValueError, "T_max"),
    (lambda o: S.CosineAnnealingLR(o, 10.0), TypeError, "T_max"),
    (lambda o: S.CosineAnnealingWarmRestarts(o, 0), ValueError, "T_0"),
    (lambda o: S.CosineAnnealingWarmRestarts(o, 5, 0), ValueError, "T_mult"),
    (lambda o: S.CyclicLR(o, 0.1, 1.0, mode="sine"), ValueError, "mode"),
    (lambda o: S.CyclicLR(o, 0.1, 1.0, step_size_up=0), ValueError, "step_size_up"),
    (lambda o: S.CyclicLR(o, [0.1], 1.0), ValueError, "base_lr"),
    (lambda o: S.CyclicLR(NoMomentum(), 0.1, 1.0), ValueError, "cycle_momentum"),
    (lambda o: S.OneCycleLR(o, 0.1), ValueError, "total_steps"),
    (lambda o: S.OneCycleLR(o, 0.1, 0), ValueError, "total_steps"),
    (lambda o: S.OneCycleLR(o, 0.1, epochs=0, steps_per_epoch=5), ValueError, "epochs"),
    (lambda o: S.OneCycleLR(o, 0.1, 100, pct_start=1.0), ValueError, "pct_start"),
    (lambda o: S.OneCycleLR(o, 0.1, 100, pct_start=-0.1), ValueError, "pct_start"),
    (lambda o: S.OneCycleLR(o, 0.1, 100, anneal_strategy="cosine"), ValueError, "anneal_strategy"),
    (lambda o: S.LambdaLR(o, 0.5), TypeError, "lr_lambda"),
    (lambda o: S.LambdaLR(o, [abs]), ValueError, "lr_lambda"),
    (lambda o: S.SequentialLR(o, [S.ConstantLR(o), S.ExponentialLR(o, 0.9)], [5, 6]), ValueError, "milestones"),
    (lambda o: S.SequentialLR(o, [S.ConstantLR(o)] * 3, [6, 5]), ValueError, "milestones"),
    (lambda o: S.SequentialLR(o, [S.ConstantLR(make_sgd())], []), ValueError, "different optimizer"),
    (lambda o: S.SequentialLR(o, [S.ReduceLROnPlateau(o)], []), ValueError, "ReduceLROnPlateau"),
    (lambda o: S.SequentialLR(o, ["not a scheduler"], []), TypeError, "schedulers"),
    (lambda o: S.ChainedScheduler([]), ValueError, "at least one"),
    (lambda o: S.ReduceLROnPlateau(o, mode="avg"), ValueError, "mode"),
    (lambda o: S.ReduceLROnPlateau(o, threshold_mode="pct"), ValueError, "threshold_mode"),
    (lambda o: S.ReduceLROnPlateau(o, factor=1.0), ValueError, "factor"),
    (lambda o: S.ReduceLROnPlateau(o, patience=-1), ValueError, "patience"),
    (lambda o: S.ReduceLROnPlateau(o, min_lr=[0.1]), ValueError, "min_lr"),
    (lambda o: S.StepLR(object(), 3), TypeError, "param_groups"),
    (lambda o: S.StepLR(o, 3, last_epoch=5), ValueError, "initial_lr"),
    (lambda o: S.StepLR(o, 3, last_epoch=-2), ValueError, "last_epoch"),
]


@pytest.mark.parametrize("build, error, name", BAD, ids=[f"{i}-{b[2]}" for i, b in enumerate(BAD)])
def test_bad_arguments_name_the_argument(build, error, name):
    with pytest.raises(error, match=name):
        build(make_sgd())


def test_group_with_schedule_lr_cannot_also_be_scheduled():
    opt = SGD([optimlab.Parameter(np.zeros(2))], lr=S.constant(0.1))
    with pytest.raises(TypeError, match="schedule function"):
        S.StepLR(opt, 5)


def test_warm_restarts_rejects_negative_epoch():
    sched = S.CosineAnnealingWarmRestarts(make_sgd(), 5)
    with pytest.raises(ValueError, match="step"):
        sched.step(-1)
