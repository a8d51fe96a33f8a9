"""Global-norm clipping folded into the step equals clipping the gradients and then stepping.

Oracles: optimlab's own ``clip_grad_norm_`` + ``step()`` (two separate passes), and torch's
``clip_grad_norm_`` + ``torch.optim.Adam``/``AdamW``. Tolerances, relative to each tensor's running
size: float64 1e-12 (the same formula; only the norm's summation order differs, a few ulp, carried
over 30 steps), float32 1e-5 (single-precision rounding of the same operations).
"""

import math

import numpy as np
import pytest
import torch

import optimlab.optim as optim
from optimlab import Parameter
from optimlab.kernels import cpu_compiler_available, cpu_kernels
from optimlab.training import clip_grad_norm_, get_total_norm
from optimlab.training.fused_clip import clip_grad_norm_and_step, grad_norm
from optimlab.verify.parity import RunningScale, TrajectoryProblem

STEPS = 30
MAX_NORM = 2.0
CONFIGS = [
    (optim.AdamW, torch.optim.AdamW, {"lr": 0.05, "weight_decay": 0.1}),
    (optim.Adam, torch.optim.Adam, {"lr": 0.05, "weight_decay": 0.1, "amsgrad": True}),
    (optim.Adam, torch.optim.Adam, {"lr": 0.05, "maximize": True}),
]
IDS = ["AdamW", "Adam-L2-amsgrad", "Adam-maximize"]
TOLERANCE = {np.float64: 1e-12, np.float32: 1e-5}
needs_compiler = pytest.mark.skipif(not cpu_compiler_available(), reason="needs a C++ compiler (g++)")


def _run_ours(cls, config, dtype, fused_clip: bool, kernel: bool = False, seed: int = 0):
    """Parameters and state after every step, and the norms the clipping saw."""
    problem = TrajectoryProblem(seed=seed)
    params = [Parameter(x.astype(dtype)) for x in problem.initial]
    optimizer = cls(params, **config)
    if fused_clip:
        optimizer.flatten()
    trace, norms = [], []
    with cpu_kernels(kernel):
        for step in range(STEPS):
            for p, g in zip(params, problem.grads([p.data for p in params], step)):
                p.grad = g
            if fused_clip:
                norms.append(clip_grad_norm_and_step(optimizer, MAX_NORM))
            else:
                norms.append(clip_grad_norm_(params, MAX_NORM))
                optimizer.step()
            trace.append([p.data.copy() for p in params]
                         + [optimizer.state[p][k].copy() for p in params for k in ("exp_avg", "exp_avg_sq")])
    return trace, norms


def _run_torch(torch_cls, config, seed: int = 0):
    problem = TrajectoryProblem(seed=seed)
    params = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in problem.initial]
    optimizer = torch_cls(params, **config)
    trace = []
    for step in range(STEPS):
        values = [p.detach().numpy().copy() for p in params]
        for p, g in zip(params, problem.grads(values, step)):
            p.grad = torch.tensor(g)
        torch.nn.utils.clip_grad_norm_(params, MAX_NORM)
        optimizer.step()
        trace.append([p.detach().numpy().copy() for p in params]
                     + [optimizer.state[p][k].numpy().copy() for p in params for k in ("exp_avg", "exp_avg_sq")])
    return trace


def _max_error(trace, expected) -> float:
    scales = RunningScale()
    return max(scales.error(i, a, b) for ours, theirs in zip(trace, expected) for i, (a, b) in enumerate(zip(ours, theirs)))


@pytest.mark.parametrize("cls, torch_cls, config", CONFIGS, ids=IDS)
def test_fused_clip_equals_clip_then_step(cls, torch_cls, config):
    fused, fused_norms = _run_ours(cls, config, np.float64, fused_clip=True)
    separate, separate_norms = _run_ours(cls, config, np.float64, fused_clip=False)
    assert any(n > MAX_NORM for n in separate_norms)
    if not config.get("maximize"):  # descending, the norm also falls below max_norm: the unclipped branch
        assert any(n < MAX_NORM for n in separate_norms)
    assert np.allclose(fused_norms, separate_norms, rtol=1e-12, atol=0)
    assert _max_error(fused, separate) <= 1e-12


@pytest.mark.parametrize("cls, torch_cls, config", CONFIGS, ids=IDS)
def test_fused_clip_matches_torch_clip_grad_norm_and_step(cls, torch_cls, config):
    fused, _ = _run_ours(cls, config, np.float64, fused_clip=True)
    assert _max_error(fused, _run_torch(torch_cls, config)) <= 1e-12


@needs_compiler
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("cls, torch_cls, config", CONFIGS, ids=IDS)
def test_kernel_with_folded_clip_coefficient_equals_reference(cls, torch_cls, config, dtype):
    """The compiled kernel body (grad_scale among its scalars) against the NumPy clip-then-step."""
    kernel, _ = _run_ours(cls, config, dtype, fused_clip=True, kernel=True)
    reference, _ = _run_ours(cls, config, dtype, fused_clip=False)
    assert _max_error(kernel, reference) <= TOLERANCE[dtype]


def test_gradients_are_read_not_written_and_the_norm_is_the_global_norm():
    params = [Parameter(np.ones((3, 2))), Parameter(np.arange(4.0))]
    optimizer = optim.AdamW(params).flatten()
    grads = [np.full((3, 2), 3.0), np.arange(4.0) * 5]
    for p, g in zip(params, grads):
        p.grad = g
    given = [g.copy() for g in grads]
    expected = math.sqrt(6 * 9.0 + 25 * (0 + 1 + 4 + 9))
    assert grad_norm(optimizer) == pytest.approx(expected, rel=1e-15)
    assert clip_grad_norm_and_step(optimizer, 1.0) == pytest.approx(get_total_norm(given), rel=1e-15)
    assert all(np.array_equal(g, before) for g, before in zip(grads, given))


def test_non_finite_gradient_poisons_the_step_as_torch_does_or_raises():
    params = [Parameter(np.ones(3))]
    optimizer = optim.AdamW(params).flatten()
    params[0].grad = np.array([1.0, np.inf, 0.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_and_step(optimizer, 1.0, error_if_nonfinite=True)
    assert np.array_equal(params[0].data, np.ones(3))  # nothing stepped
    torch_param = torch.ones(3, dtype=torch.float64, requires_grad=True)
    torch_param.grad = torch.tensor([1.0, math.inf, 0.0], dtype=torch.float64)
    torch.nn.utils.clip_grad_norm_([torch_param], 1.0)
    torch.optim.AdamW([torch_param]).step()
    with np.errstate(invalid="ignore"):  # 0 · inf
        assert clip_grad_norm_and_step(optimizer, 1.0) == math.inf
    assert np.array_equal(np.isnan(params[0].data), torch.isnan(torch_param.detach()).numpy())


def test_bad_inputs_are_rejected_naming_the_value():
    params = [Parameter(np.ones(3))]
    params[0].grad = np.ones(3)
    with pytest.raises(TypeError, match="SGD cannot fold"):
        clip_grad_norm_and_step(optim.SGD(params, lr=0.1), 1.0)
    with pytest.raises(ValueError, match="max_norm must be positive and finite, got -1.0"):
        clip_grad_norm_and_step(optim.AdamW(params), -1.0)
    with pytest.raises(TypeError, match="max_norm must be a real number"):
        clip_grad_norm_and_step(optim.AdamW(params), "1")
    with pytest.raises(ValueError, match="grad_scale must be non-negative and finite, got -0.5"):
        optim.AdamW(params).step(grad_scale=-0.5)
    with pytest.raises(TypeError, match="Lion cannot fold grad_scale=0.5"):
        optim.Lion(params).step(grad_scale=0.5)
