"""GradScaler against torch.amp.GradScaler on the CPU device (usable in torch 2.13: same code path as
CUDA, with the CPU kernels of _amp_foreach_non_finite_check_and_unscale_ and _amp_update_scale_);
master weights against closed forms; an fp16 run whose gradients underflow without loss scaling."""

import math

import numpy as np
import pytest
import torch

from optimlab import Parameter
from optimlab.nn import Linear, MSELoss
from optimlab.optim import SGD
from optimlab.training import GradScaler, MasterWeights

STREAM_SHAPES = [(4, 3), (3,)]


def scaled_gradients(rng, t, scale, inject):
    """Gradients as an fp16 backward of S·L would give them: fp16(S·u) (overflowing to inf when
    S·u > 65504), cast up to fp32 master gradients; plus NaN/inf injected at chosen steps."""
    grads = []
    for shape in STREAM_SHAPES:
        spike = t % 97 == 0 and t < 300  # large gradients: S·u overflows fp16 while S ≳ 1600
        u = rng.normal(size=shape).astype(np.float32) * np.float32(40.0 if spike else 0.05)
        with np.errstate(over="ignore"):
            grads.append((u * np.float32(scale)).astype(np.float16).astype(np.float32))
    if t in inject:
        grads[t % 2].flat[0] = inject[t]
    return grads


def run_both(steps, inject, **kwargs):
    rng_ours, rng_torch = np.random.default_rng(7), np.random.default_rng(7)
    init = [np.random.default_rng(1).normal(size=s).astype(np.float32) for s in STREAM_SHAPES]
    params = [Parameter(a.copy()) for a in init]
    tparams = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    opt, topt = SGD(params, lr=1e-3, momentum=0.9), torch.optim.SGD(tparams, lr=1e-3, momentum=0.9)
    scaler, tscaler = GradScaler(**kwargs), torch.amp.GradScaler("cpu", **kwargs)
    record = []
    for t in range(steps):
        tscaler.scale(torch.ones(()))  # torch creates its scale tensor lazily, in scale()
        scale, tscale = scaler.get_scale(), tscaler.get_scale()
        for p, g in zip(params, scaled_gradients(rng_ours, t, scale, inject)):
            p.grad = g
        for p, g in zip(tparams, scaled_gradients(rng_torch, t, tscale, inject)):
            p.grad = torch.from_numpy(g)
        scaler.unscale_(opt)
        tscaler.unscale_(topt)
        unscaled_equal = all(np.array_equal(p.grad, q.grad.numpy(), equal_nan=True) for p, q in zip(params, tparams))
        stepped = scaler.step(opt)
        before = tparams[0].detach().clone()
        tscaler.step(topt)
        tstepped = not torch.equal(before, tparams[0].detach())
        scaler.update()
        tscaler.update()
        record.append((scale, tscale, stepped, tstepped, unscaled_equal))
    return record, params, tparams, scaler, tscaler


@pytest.mark.parametrize("steps, inject, kwargs", [
    # torch's defaults: backoffs at the injected NaN and the early overflows, growth 2000 finite steps later
    pytest.param(2400, {5: np.nan, 2350: np.inf, 2351: -np.inf}, {}, marks=pytest.mark.slow),
    (300, {5: np.nan, 250: np.inf, 251: -np.inf}, {}),  # the defaults again, backoffs only (fast)
    (400, {3: np.nan, 10: np.inf, 11: np.inf, 50: -np.inf},
     dict(init_scale=1000.0, growth_factor=3.0, backoff_factor=0.3, growth_interval=7)),
])
def test_scale_and_skip_sequence_matches_torch(steps, inject, kwargs):
    record, params, tparams, scaler, tscaler = run_both(steps, inject, **kwargs)
    scales = [r[0] for r in record]
    assert scales == [r[1] for r in record]  # the float32 scale sequence, exactly
    assert [r[2] for r in record] == [r[3] for r in record]  # the same steps skipped
    assert all(r[4] for r in record)  # the unscaled gradients bit for bit
    skipped = [t for t, r in enumerate(record) if not r[2]]
    assert set(inject) <= set(skipped) and len(skipped) > len(inject)  # injected and overflow skips
    assert len(set(scales)) > 3  # the scale moved (grew too, when steps > growth_interval)
    grew = any(later > earlier for earlier, later in zip(scales, scales[1:]))
    assert grew == (steps > kwargs.get("growth_interval", 2000))
    for p, q in zip(params, tparams):
        # SGD with momentum in float32; the same operations, possibly rounded in another order.
        np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert scaler.state_dict() == tscaler.state_dict()


def test_state_dict_round_trip_and_torch_format():
    torch_state = torch.amp.GradScaler("cpu", init_scale=512.0, growth_interval=5).state_dict()
    scaler = GradScaler()
    scaler.load_state_dict(torch_state)
    assert scaler.state_dict() == torch_state
    with pytest.raises(ValueError, match="_growth_tracker"):
        scaler.load_state_dict({**torch_state, "_growth_tracker": 5})
    with pytest.raises(ValueError, match="backoff_factor"):
        scaler.load_state_dict({**torch_state, "backoff_factor": 2.0})
    assert scaler.state_dict() == torch_state  # a rejected load changes nothing


@pytest.mark.parametrize("name, value, error", [
    ("init_scale", 0.0, ValueError), ("init_scale", -1.0, ValueError), ("init_scale", math.nan, ValueError),
    ("init_scale", math.inf, ValueError), ("init_scale", 1e39, ValueError), ("init_scale", "big", TypeError),
    ("growth_factor", 1.0, ValueError), ("growth_factor", 0.5, ValueError), ("growth_factor", -2.0, ValueError),
    ("backoff_factor", 0.0, ValueError), ("backoff_factor", 1.0, ValueError), ("backoff_factor", -0.5, ValueError),
    ("growth_interval", 0, ValueError), ("growth_interval", 2.5, TypeError), ("growth_interval", True, TypeError),
])
def test_scaler_rejects_bad_arguments(name, value, error):
    with pytest.raises(error, match=name):
        GradScaler(**{name: value})


def test_scaler_call_order_errors():
    p = Parameter(np.zeros(2, dtype=np.float32))
    opt, scaler = SGD([p], lr=0.1), GradScaler()
    with pytest.raises(RuntimeError, match="No inf checks"):
        scaler.update()
    with pytest.raises(RuntimeError, match="No inf checks"):
        scaler.step(opt)  # no gradients
    scaler = GradScaler()
    p.grad = np.ones(2, dtype=np.float32)
    scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match="already been called"):
        scaler.unscale_(opt)
    assert scaler.step(opt) is True
    with pytest.raises(RuntimeError, match="step\\(\\) has already been called"):
        scaler.step(opt)
    with pytest.raises(ValueError, match="new_scale"):
        scaler.update(new_scale=-1.0)
    scaler.update(new_scale=8.0)
    assert scaler.get_scale() == 8.0 and scaler.scale(1.5) == 12.0
    half = Parameter(np.zeros(2, dtype=np.float16), name="w16")
    half.grad = np.ones(2, dtype=np.float16)
    with pytest.raises(ValueError, match="FP16.*w16"):
        scaler.unscale_(SGD([half], lr=0.1))


def test_master_weights_keep_updates_that_fp16_loses():
    # SGD with lr·g = 1e-4 on θ = 1: in fp16, 1 − 1e-4 rounds back to 1 (half an ulp at 1 is 2^-11 ≈ 4.9e-4).
    fp16_only = Parameter(np.ones(3, dtype=np.float16))
    model = Parameter(np.ones(3, dtype=np.float16))
    master = MasterWeights([model])
    opt16, opt32 = SGD([fp16_only], lr=1e-4), SGD(master.master_params, lr=1e-4)
    for _ in range(100):
        fp16_only.grad = np.ones(3, dtype=np.float16)
        model.grad = np.ones(3, dtype=np.float16)
        assert master.step(opt32).stepped
    np.testing.assert_array_equal(fp16_only.data, np.ones(3, dtype=np.float16))
    # 100 float32 subtractions, each rounded by at most half an ulp (2^-24 relative): rtol 100·2^-24 < 1e-5.
    np.testing.assert_allclose(master.master_params[0].data, 0.99, rtol=1e-5)
    np.testing.assert_array_equal(model.data, master.master_params[0].data.astype(np.float16))
    assert model.data[0] < 1
    assert model.dtype == np.float16 and master.master_params[0].dtype == np.float32


def test_master_weights_skip_leaves_the_model_untouched():
    model = Parameter(np.ones(2, dtype=np.float16))
    master = MasterWeights([model])
    opt = SGD(master.master_params, lr=0.1)
    model.grad = np.array([np.inf, 1.0], dtype=np.float16)
    assert not master.step(opt, scaler=GradScaler()).stepped
    np.testing.assert_array_equal(model.data, np.ones(2, dtype=np.float16))
    assert opt.step_count == 0
    with pytest.raises(TypeError, match="master_dtype"):
        MasterWeights([model], master_dtype=np.int32)


def fp16_regression(use_scaler, steps=50):
    """Least squares with a mean over 4096 outputs and residuals ~1e-5: each output's gradient
    2r/N ~ 1e-8 is below fp16's smallest subnormal (2^-24 ≈ 6e-8), so the backward pass underflows."""
    rng = np.random.default_rng(0)
    n, d = 4096, 16
    x = rng.normal(size=(n, d))
    y = x @ (rng.normal(size=(d, 1)) * 1e-5)
    model = Linear(d, 1, bias=False, rng=1, dtype=np.float16)
    model.weight.data[...] = 0
    master = MasterWeights(model.parameters())
    opt = SGD(master.master_params, lr=0.1)
    scaler = GradScaler() if use_scaler else None
    loss_fn, x16, y16 = MSELoss(), x.astype(np.float16), y.astype(np.float16)

    def true_loss():  # float64 loss of the fp32 master weights
        return float(((x @ master.master_params[0].data.astype(np.float64).T - y) ** 2).mean())

    initial, zero_entries = true_loss(), []
    for _ in range(steps):
        model.zero_grad()
        loss_fn(model(x16), y16)
        model.backward(loss_fn.backward(scaler.get_scale() if scaler else 1.0))
        zero_entries.append(int((model.weight.grad == 0).sum()))
        master.step(opt, scaler=scaler)
    return initial, true_loss(), zero_entries


def test_loss_scaling_rescues_an_fp16_run_whose_gradients_underflow():
    initial, final, zeros = fp16_regression(use_scaler=False)
    # Measured: entries underflow more and more often, from step 42 of 50 all 16 are exactly 0, and the
    # loss stalls at 0.18 of its start.
    assert final > 0.1 * initial
    assert sum(zeros) > 100 and zeros[-5:] == [16] * 5
    initial, final, zeros = fp16_regression(use_scaler=True)
    # Measured: with S = 2^16 no entry underflows and the loss falls ~1e6-fold.
    assert final < 1e-4 * initial
    assert max(zeros) == 0
