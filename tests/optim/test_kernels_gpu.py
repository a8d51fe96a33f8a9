"""Every kernel under CuPy on a GPU against the NumPy reference (``gpu`` marker; skipped cleanly
where CuPy or a usable GPU is missing, e.g. in CI). Run on a GPU machine by ``bench/gpu_check.sh``.

Tolerances as the CPU-compiled kernels' (tests/optim/test_kernels_cpu.py): float64 1e-12 and float32
1e-5 relative to each tensor's running size, parameters and every state entry after each of 50
steps (the same formula; CUDA may contract a·b + c into one FMA, which rounds once instead of twice:
a few ulp per step). The 8-bit block kernel is built without FMA contraction (``--fmad=false``) and
with IEEE division and square root (NVRTC's defaults), so its codes are expected to be identical.
"""

import numpy as np
import pytest

from optimlab import Parameter
from optimlab.backend import BackendUnavailableError, cupy_module
from optimlab.verify.oracle_cases import ORACLE_NAMES, oracle_cases
from optimlab.verify.parity import RunningScale, TrajectoryProblem
from optimlab.verify.side_by_side import SIDE_BY_SIDE
from optimlab.verify.torch_cases import EXTRA_CONFIGS, TorchCase, sixteen_bit_case, torch_cases
from eight_bit_checks import assert_identical_steps


def _cupy_or_none():
    try:
        return cupy_module()
    except BackendUnavailableError:
        return None


cp = _cupy_or_none()
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(cp is None, reason="needs CuPy and a usable CUDA GPU")]



def _kernel_cases() -> list:
    """Every configuration the CPU kernel tests run (torch twins with a kernel, and the other
    optimizers' oracle cases); none without a GPU, so that CI does not build them."""
    if cp is None:
        return []
    try:
        twins = torch_cases()
    except ImportError:  # torch's optimizer database imports expecttest, which a GPU machine may lack
        twins = [TorchCase(name, tuple(sorted(config.items())), "extra") for name, configs in EXTRA_CONFIGS.items()
                 for config in configs]
    others = oracle_cases([name for name in ORACLE_NAMES if name not in SIDE_BY_SIDE and name != "LBFGS"])
    return [case for case in twins if case.has_kernel] + others


CASES = _kernel_cases()
TOLERANCE = {np.float64: 1e-12, np.float32: 1e-5}


def _run(cls, config, dtype, on_gpu: bool, steps: int, flatten: bool = False, shapes=None):
    problem = TrajectoryProblem(0, shapes) if shapes else TrajectoryProblem(0)
    to_device = cp.asarray if on_gpu else np.asarray
    params = [Parameter(to_device(x.astype(dtype))) for x in problem.initial]
    optimizer = cls(params, **config)
    if flatten:
        optimizer.flatten()
    for step in range(steps):

        def closure(step=step):
            values = [cp.asnumpy(p.data) if on_gpu else p.data for p in params]
            for p, g in zip(params, problem.grads(values, step)):
                p.grad = to_device(g)
            return problem.loss(values, step)

        optimizer.step(closure)
        host = lambda a: cp.asnumpy(a) if on_gpu else a  # noqa: E731
        yield [host(p.data) for p in params], [
            {k: host(v) if hasattr(v, "shape") else v for k, v in optimizer.state.get(p, {}).items()} for p in params
        ]


def _max_error(cls, config, dtype, steps=50, flatten=False, shapes=None) -> float:
    scales, worst = RunningScale(), 0.0
    runs = zip(_run(cls, config, dtype, False, steps, flatten, shapes), _run(cls, config, dtype, True, steps, flatten, shapes))
    for (ref_params, ref_states), (gpu_params, gpu_states) in runs:
        for index, (ref, ours) in enumerate(zip(ref_params, gpu_params)):
            worst = max(worst, scales.error(index, ours, ref))
        for index, (ref, ours) in enumerate(zip(ref_states, gpu_states)):
            assert set(ref) == set(ours)
            for key, value in ref.items():
                worst = max(worst, scales.error((index, key), ours[key], value))
    return worst


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_cupy_kernel_matches_numpy_reference(case, dtype):
    assert _max_error(case.ours, case.config, dtype, shapes=case.shapes) <= TOLERANCE[dtype]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("case", [c for c in CASES if isinstance(c, TorchCase) and c.ours.elementwise], ids=str)
def test_flat_buffers_on_the_gpu_match_numpy(case, dtype):
    assert _max_error(case.ours, case.config, dtype, flatten=True, shapes=case.shapes) <= TOLERANCE[dtype]


@pytest.mark.parametrize("decoupled", [True, False], ids=["AdamW8bit", "Adam8bit-L2"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_8bit_block_kernel_on_the_gpu_gives_the_reference_codes(dtype, decoupled):
    from optimlab.optim.adam8bit import adam8bit_fused, adam8bit_init, adam8bit_update

    rng = np.random.default_rng(0)
    start = rng.standard_normal(100_003).astype(dtype)
    ref_param, gpu_param = start.copy(), cp.asarray(start)
    ref_state, gpu_state = adam8bit_init(ref_param), adam8bit_init(gpu_param)
    hyper = dict(lr=1e-2, weight_decay=0.1, decoupled_weight_decay=decoupled)
    for _ in range(20):
        grad = (rng.standard_normal(start.size) * 10.0 ** rng.uniform(-6, 1, start.size)).astype(dtype)
        adam8bit_update(ref_param, grad, ref_state, **hyper)
        adam8bit_fused(gpu_param, cp.asarray(grad), gpu_state, **hyper)
        assert np.array_equal(cp.asnumpy(gpu_param), ref_param)
        for key in ("exp_avg_codes", "exp_avg_sq_codes", "exp_avg_absmax", "exp_avg_sq_absmax"):
            assert np.array_equal(cp.asnumpy(gpu_state[key]), ref_state[key]), key


def test_8bit_tensors_in_one_launch_on_the_gpu_give_the_reference_codes():
    """Several tensors in one launch of the block kernel (each block finds its tensor in the plan)
    against the NumPy reference run tensor by tensor: identical codes, maxima and parameters."""
    from optimlab.optim.adam8bit import adam8bit_fused_many, adam8bit_init, adam8bit_update

    rng = np.random.default_rng(1)
    starts = [rng.standard_normal(n).astype(np.float32) for n in (100_003, 256, 5_000, 257)]
    refs, gpus = [x.copy() for x in starts], [cp.asarray(x) for x in starts]
    ref_states = [adam8bit_init(x, min_8bit_size=1) for x in refs]
    gpu_states = [adam8bit_init(x, min_8bit_size=1) for x in gpus]
    hyper = dict(lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True)
    for _ in range(10):
        grads = [(rng.standard_normal(x.size) * 10.0 ** rng.uniform(-6, 1, x.size)).astype(np.float32) for x in refs]
        for param, grad, state in zip(refs, grads, ref_states):
            adam8bit_update(param, grad, state, **hyper)
        adam8bit_fused_many(gpus, [cp.asarray(g) for g in grads], gpu_states, **hyper)
        assert_identical_steps(refs, ref_states, gpus, gpu_states, host=cp.asnumpy)  # NumPy arrays pass through


@pytest.mark.parametrize("in_place", [False, True], ids=["new gradients", "gradients written in place"])
def test_adam8bit_on_the_gpu_takes_the_reference_steps(in_place):
    """The class on GPU arrays (large parameters: 8-bit states, one launch; small ones: 32-bit states,
    one launch of ``ADAM32_KERNEL``) against the class on NumPy arrays (the reference): identical
    codes, maxima and large parameters; small parameters equal to 1e-6 relative, as on the CPU. With
    gradients written in place, every launch after the first reuses its plan's device copy."""
    from optimlab.optim import AdamW8bit

    shapes = [(70, 80), (10,), (33, 130), (4099,), (3, 7)]
    runs = {}
    for xp in (np, cp):
        params = [Parameter(xp.asarray(np.random.default_rng(2).standard_normal(s).astype(np.float32))) for s in shapes]
        optimizer = AdamW8bit(params, lr=1e-2)
        for step in range(10):
            for p in params:
                grad = xp.asarray(np.random.default_rng([3, step]).standard_normal(p.shape).astype(np.float32))
                if in_place and p.grad is not None:
                    p.grad[...] = grad
                else:
                    p.grad = grad
            optimizer.step()
            if step == 0:
                device_plans = [plans.device_plan for plans in optimizer._plans.values()]
        if xp is cp and in_place:  # the first step's copies, still in use
            assert len(device_plans) == 2 and all(
                plans.device_plan is first is not None for plans, first in zip(optimizer._plans.values(), device_plans))
        runs[xp.__name__] = (params, optimizer)
    (ref_params, ref_opt), (gpu_params, gpu_opt) = runs["numpy"], runs["cupy"]
    for index in (0, 2, 3):
        assert np.array_equal(cp.asnumpy(gpu_params[index].data), ref_params[index].data)
        for key in ("exp_avg_codes", "exp_avg_sq_codes", "exp_avg_absmax", "exp_avg_sq_absmax"):
            assert np.array_equal(cp.asnumpy(gpu_opt.state[gpu_params[index]][key]), ref_opt.state[ref_params[index]][key])
    for index in (1, 4):
        assert np.allclose(cp.asnumpy(gpu_params[index].data), ref_params[index].data, rtol=1e-6, atol=0)


def test_8bit_tables_reach_the_gpu_once():
    """The quantisation tables are copied to a GPU once, not on every step of every parameter."""
    from optimlab.optim.adam8bit import KERNEL_TABLES, kernel_tables

    first, again = kernel_tables(cp.zeros(3, dtype=cp.float32)), kernel_tables(cp.ones(5, dtype=cp.float64))
    assert first is again and set(first) == set(KERNEL_TABLES)
    assert all(np.array_equal(cp.asnumpy(first[name]), table) for name, table in KERNEL_TABLES.items())


def test_fused_clip_on_the_gpu_matches_numpy():
    from optimlab.optim import AdamW
    from optimlab.training.fused_clip import clip_grad_norm_and_step

    results = []
    for on_gpu in (False, True):
        xp = cp if on_gpu else np
        problem = TrajectoryProblem(1)
        params = [Parameter(xp.asarray(x)) for x in problem.initial]
        optimizer = AdamW(params, lr=0.05).flatten()
        for step in range(30):
            values = [cp.asnumpy(p.data) if on_gpu else p.data for p in params]
            for p, g in zip(params, problem.grads(values, step)):
                p.grad = xp.asarray(g)
            clip_grad_norm_and_step(optimizer, 2.0)
        results.append([cp.asnumpy(p.data) if on_gpu else p.data for p in params])
    scales = RunningScale()
    assert max(scales.error(i, g, r) for i, (r, g) in enumerate(zip(*results))) <= 1e-12


@pytest.mark.parametrize("storage", ["float16", "bfloat16"])
@pytest.mark.parametrize("case", [c for c in CASES if isinstance(c, TorchCase) and sixteen_bit_case(c)], ids=str)
def test_16bit_storage_on_the_gpu_stays_near_float32(case, storage):
    """fp16/bf16 parameters and states under CuPy, updated in float32 inside the kernel: within two
    roundings of the storage type per step of the float32 NumPy run after 50 steps, the bound the
    CPU form meets (tests/optim/test_kernels_cpu.py::test_16bit_storage_computes_in_float32; which
    cases and why: ``sixteen_bit_case``)."""
    from ml_dtypes import bfloat16

    from optimlab.verify.parity import relative_error

    dtype, unit_roundoff = {"float16": (np.float16, 2.0**-11), "bfloat16": (bfloat16, 2.0**-8)}[storage]
    problem = TrajectoryProblem(seed=6, shapes=case.shapes)
    results = []
    for on_gpu, dt in ((False, np.float32), (True, dtype)):
        to_device = cp.asarray if on_gpu else np.asarray
        params = [Parameter(to_device(x.astype(dt))) for x in problem.initial]
        optimizer = case.ours(params, **case.config)
        host = lambda a: (cp.asnumpy(a) if on_gpu else a).astype(np.float32)  # noqa: E731
        for step in range(50):
            for p, g in zip(params, problem.grads([host(p.data) for p in params], step)):
                p.grad = to_device(g.astype(dt))
            optimizer.step()
        results.append([host(p.data) for p in params])
    for single, half in zip(*results):
        assert relative_error(half, single) <= 100 * unit_roundoff
