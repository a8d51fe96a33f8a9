"""Resume: stop at step k, save optimizer + scheduler state (through pickle), rebuild, continue.

Order A: build optimizer and scheduler, then load both states (torch's recommended order).
Order B: build the optimizer, load its state, then build the scheduler and load its state.
Both must reproduce the uninterrupted run exactly (bit for bit: the same floating-point
operations happen in the same order), for lrs, cycled momenta and the parameters themselves.
Torch gets order B wrong for LinearLR and SequentialLR (shown below with torch itself).
"""

import copy
import math
import pickle

import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler as L

import optimlab
import optimlab.schedules as S
from optimlab.optim import SGD, Adam

N = 90
TARGET = np.linspace(-1.0, 1.0, 4)


class Warmup:
    """A callable object: its __dict__ is saved with LambdaLR's state (torch's convention)."""

    def __init__(self, steps):
        self.steps = steps

    def __call__(self, t):
        return min(1.0, (t + 1) / self.steps)


BUILDS = {
    "Linear": lambda M, o: M.LinearLR(o, 0.1, 1.0, 30),
    "Constant": lambda M, o: M.ConstantLR(o, 0.25, 20),
    "Sequential": lambda M, o: M.SequentialLR(o, [M.LinearLR(o, 0.1, 1.0, 15), M.CosineAnnealingLR(o, 60, 1e-3)], [15]),
    "Chained": lambda M, o: M.ChainedScheduler([M.ConstantLR(o, 0.3, 10), M.ExponentialLR(o, 0.98)]),
    "Lambda": lambda M, o: M.LambdaLR(o, Warmup(25)),
    "Multiplicative": lambda M, o: M.MultiplicativeLR(o, lambda t: 0.97),
    "Step": lambda M, o: M.StepLR(o, 10, 0.5),
    "Cosine": lambda M, o: M.CosineAnnealingLR(o, 40, 0.001),
    "WarmRestarts": lambda M, o: M.CosineAnnealingWarmRestarts(o, 7, 2),
    "Cyclic": lambda M, o: M.CyclicLR(o, 0.01, 0.2, 12, 8, mode="triangular2"),
    "OneCycle": lambda M, o: M.OneCycleLR(o, 0.2, N + 5, three_phase=True),
    "Schedule": lambda M, o: M.ScheduleLR(o, S.warmup_cosine_decay(0.1, 10, 80)),
    "Plateau": lambda M, o: M.ReduceLROnPlateau(o, patience=2, factor=0.5),
}


def metric(t):
    return 1.0 / (1 + min(t, 20)) + 0.01 * math.sin(t)


def make(kind, data):
    params = [optimlab.Parameter(d.copy()) for d in data]
    groups = [{"params": [params[0]], "lr": 0.1}, {"params": [params[1]], "lr": 0.02}]
    return params, (SGD(groups, lr=0.1, momentum=0.9) if kind == "sgd" else Adam(groups, lr=0.1))


def train(params, opt, sched, start, stop, record):
    for t in range(start, stop):
        for p in params:
            p.grad = p.data - TARGET
        opt.step()
        sched.step(metric(t)) if isinstance(sched, S.ReduceLROnPlateau) else sched.step()
        g = opt.param_groups
        record.append([g[0]["lr"], g[1]["lr"], g[0].get("momentum", g[0].get("betas", (0,))[0])]
                      + [x for p in params for x in p.data])


def roundtrip(state):
    return pickle.loads(pickle.dumps(state))


@pytest.mark.parametrize("kind", ["sgd", "adam"])
@pytest.mark.parametrize("order", ["A", "B"])
@pytest.mark.parametrize("name", sorted(BUILDS))
def test_resume_continues_identically(name, order, kind):
    build = BUILDS[name]
    data = [np.full(4, 2.0), np.full(4, -3.0)]
    params, opt = make(kind, data)
    sched = build(S, opt)
    reference = []
    train(params, opt, sched, 0, N, reference)
    for k in (0, 1, 23, 61):
        params, opt = make(kind, data)
        sched = build(S, opt)
        prefix = []
        train(params, opt, sched, 0, k, prefix)
        saved_opt, saved_sched = roundtrip(opt.state_dict()), roundtrip(sched.state_dict())
        saved_params = [p.data.copy() for p in params]

        params, opt = make(kind, saved_params)
        if order == "A":
            sched = build(S, opt)
            opt.load_state_dict(saved_opt)
        else:
            opt.load_state_dict(saved_opt)
            sched = build(S, opt)
        sched.load_state_dict(saved_sched)
        resumed = prefix[:]
        train(params, opt, sched, k, N, resumed)
        np.testing.assert_array_equal(np.array(resumed), np.array(reference), err_msg=f"resumed at step {k}")


def test_state_dict_is_a_copy_and_saves_callable_objects():
    _, opt = make("sgd", [np.zeros(4), np.zeros(4)])
    warmup = Warmup(25)
    sched = S.LambdaLR(opt, warmup)
    state = sched.state_dict()
    assert state["lr_lambdas"] == [{"steps": 25}, {"steps": 25}]
    state["base_lrs"][0] = 123.0
    assert sched.base_lrs[0] == 0.1
    warmup.steps = 5
    sched.load_state_dict(state)
    assert warmup.steps == 25 and sched.base_lrs[0] == 123.0


def _torch_resume_order_b(build, k):
    """torch, order B: returns (uninterrupted lrs, resumed lrs) of group 0 after step k."""
    def make_torch():
        p = torch.zeros(2, requires_grad=True)
        return torch.optim.SGD([p], lr=0.1, momentum=0.9)
    opt = make_torch()
    sched = build(L, opt)
    lrs = []
    for t in range(N):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
        if t == k - 1:
            saved_opt, saved_sched = copy.deepcopy(opt.state_dict()), copy.deepcopy(sched.state_dict())
    opt2 = make_torch()
    opt2.load_state_dict(saved_opt)
    sched2 = build(L, opt2)
    sched2.load_state_dict(saved_sched)
    resumed = lrs[:k]
    for t in range(k, N):
        opt2.step()
        sched2.step()
        resumed.append(opt2.param_groups[0]["lr"])
    return np.array(lrs), np.array(resumed)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", ["Linear", "Sequential"])
def test_torch_gets_order_b_wrong_where_optimlab_does_not(name):
    """Documents the torch 2.13 behaviour the issue names (if this fails, torch has fixed it):
    LinearLR's constructor multiplies the loaded lr by start_factor again, and SequentialLR's
    resets it to initial_lr; neither load_state_dict repairs group['lr']."""
    reference, resumed = _torch_resume_order_b(BUILDS[name], k=10)
    assert not np.allclose(resumed, reference, rtol=1e-6)
