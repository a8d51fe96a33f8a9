"""The block-wise 8-bit Adam kernel (dequantise, Adam's kernel body, requantise in one pass per
block), compiled for the CPU from the source CuPy would build, against the NumPy 8-bit reference.

Expected: *identical* codes, block maxima and parameters after every step. The kernel does the
reference's operations in the same order and precision (float32 dequantisation, Adam in the
parameter's dtype with host-folded scalars, float32 scaling and the same nearest-entry rule), each
correctly rounded, and the CPU form is compiled without FMA contraction, so there is nothing to
round differently.
"""

import dataclasses

import numpy as np
import pytest

import optimlab.optim as optim
from optimlab import Parameter
from optimlab.kernels import cpu_compiler_available, cpu_kernels
from optimlab.optim import adam8bit as adam8bit_module
from optimlab.optim.adam8bit import ADAM8BIT_KERNEL, adam8bit_fused, adam8bit_init, adam8bit_update
from eight_bit_checks import assert_identical_steps

pytestmark = pytest.mark.skipif(not cpu_compiler_available(), reason="needs a C++ compiler (g++)")

STEPS = 30
SIZE = 5037  # not a multiple of any block size: the last block is short


def _trajectories(dtype, blocksize, decoupled, seed=0):
    """Reference and kernel run side by side on gradients spanning seven decades; yields both states."""
    rng = np.random.default_rng(seed)
    start = rng.standard_normal(SIZE).astype(dtype)
    ref_param, ker_param = start.copy(), start.copy()
    ref_state, ker_state = adam8bit_init(ref_param, blocksize=blocksize), adam8bit_init(ker_param, blocksize=blocksize)
    hyper = dict(lr=1e-2, weight_decay=0.1, decoupled_weight_decay=decoupled, blocksize=blocksize)
    for _ in range(STEPS):
        grad = (rng.standard_normal(SIZE) * 10.0 ** rng.uniform(-6, 1, SIZE)).astype(dtype)
        adam8bit_update(ref_param, grad, ref_state, **hyper)
        adam8bit_fused(ker_param, grad, ker_state, **hyper)
        yield (ref_param, ref_state), (ker_param, ker_state)


@pytest.mark.parametrize("decoupled", [True, False], ids=["AdamW8bit", "Adam8bit-L2"])
@pytest.mark.parametrize("blocksize", [64, 256, 2048])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_kernel_codes_maxima_and_parameters_are_identical_to_the_reference(dtype, blocksize, decoupled):
    for (ref_param, ref_state), (ker_param, ker_state) in _trajectories(dtype, blocksize, decoupled):
        assert np.array_equal(ker_param, ref_param)
        assert set(ker_state) == set(ref_state) and ker_state["step"] == ref_state["step"]
        for key in ("exp_avg_codes", "exp_avg_sq_codes", "exp_avg_absmax", "exp_avg_sq_absmax"):
            assert np.array_equal(ker_state[key], ref_state[key]), key
    assert len(np.unique(ref_state["exp_avg_codes"])) > 100  # the codes really spread over the map


@pytest.mark.parametrize("cls", [optim.Adam8bit, optim.AdamW8bit])
def test_optimizer_inside_cpu_kernels_takes_the_same_steps(cls):
    """Through the class: three large parameters (8-bit states, one launch for the three inside
    ``cpu_kernels()``) and two small ones (32-bit Adam states, one launch of ``ADAM32_KERNEL`` against
    ``adam_update``: float32 kernel vs reference, equal to 1e-6 relative)."""
    shapes = [(70, 80), (10,), (33, 130), (4099,), (3, 7)]
    runs = {}
    for fused in (False, True):
        params = [Parameter(np.random.default_rng(2).standard_normal(s).astype(np.float32)) for s in shapes]
        optimizer = cls(params, lr=1e-2)
        with cpu_kernels(fused):
            for step in range(10):
                for p in params:
                    p.grad = np.asarray(np.random.default_rng([3, step]).standard_normal(p.shape), dtype=np.float32)
                optimizer.step()
        runs[fused] = (params, optimizer)
    (ref_params, ref_opt), (ker_params, ker_opt) = runs[False], runs[True]
    for index in (0, 2, 3):
        assert np.array_equal(ker_params[index].data, ref_params[index].data)
        for key in ("exp_avg_codes", "exp_avg_sq_codes", "exp_avg_absmax", "exp_avg_sq_absmax", "step"):
            assert np.array_equal(ker_opt.state[ker_params[index]][key], ref_opt.state[ref_params[index]][key])
    for index in (1, 4):
        assert np.allclose(ker_params[index].data, ref_params[index].data, rtol=1e-6, atol=0)
        assert ker_opt.state[ker_params[index]]["step"] == 10


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("decoupled", [True, False], ids=["decoupled", "L2"])
def test_one_launch_for_small_tensors_equals_adam_fused_each(dtype, decoupled):
    """``adam32_fused_many`` (Adam's kernel body in the block scaffold without block arrays, one launch)
    against ``adam_fused`` (the elementwise kernel) per tensor: identical parameters and moments over
    5 steps, for sizes below, at and past a block of 64."""
    from optimlab.optim.adam import adam_fused, adam_init
    from optimlab.optim.adam8bit import adam32_fused_many

    rng = np.random.default_rng(6)
    sizes = [10, 64, 1000, 3, 65]
    starts = [rng.standard_normal(n).astype(dtype) for n in sizes]
    one, many = [x.copy() for x in starts], [x.copy() for x in starts]
    one_states, many_states = [adam_init(x) for x in one], [adam_init(x) for x in many]
    hyper = dict(lr=1e-2, weight_decay=0.1, decoupled_weight_decay=decoupled)
    for _ in range(5):
        grads = [(rng.standard_normal(n) * 10.0 ** rng.uniform(-6, 1, n)).astype(dtype) for n in sizes]
        for param, grad, state in zip(one, grads, one_states):
            adam_fused(param, grad, state, **hyper)
        adam32_fused_many(many, grads, many_states, **hyper, blocksize=64)
        for a, b, sa, sb in zip(one, many, one_states, many_states):
            assert np.array_equal(a, b)
            for key in ("exp_avg", "exp_avg_sq", "step"):
                assert np.array_equal(sa[key], sb[key]), key


@pytest.mark.parametrize("blocksize", [64, 256])
def test_one_launch_for_many_tensors_equals_one_launch_each(blocksize):
    """``adam8bit_fused_many`` (one launch; each block finds its tensor in the plan) against
    ``adam8bit_fused`` per tensor: identical parameters, codes and maxima over 5 steps, for tensors of
    several sizes (whole blocks, a short last block, a single block, one element past a block)."""
    from optimlab.optim.adam8bit import adam8bit_fused_many

    rng = np.random.default_rng(4)
    sizes = [5037, blocksize, 70_000, 4 * blocksize + 1]
    starts = [rng.standard_normal(n).astype(np.float32) for n in sizes]
    one, many = [x.copy() for x in starts], [x.copy() for x in starts]
    one_states = [adam8bit_init(x, blocksize=blocksize, min_8bit_size=1) for x in one]
    many_states = [adam8bit_init(x, blocksize=blocksize, min_8bit_size=1) for x in many]
    hyper = dict(lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True, blocksize=blocksize)
    for _ in range(5):
        grads = [(rng.standard_normal(n) * 10.0 ** rng.uniform(-6, 1, n)).astype(np.float32) for n in sizes]
        for param, grad, state in zip(one, grads, one_states):
            adam8bit_fused(param, grad, state, **hyper)
        adam8bit_fused_many(many, grads, many_states, **hyper)
        assert_identical_steps(one, one_states, many, many_states)


def test_one_launch_refuses_mixed_tensors():
    from optimlab.optim.adam8bit import adam8bit_fused_many

    params = [np.ones(300, np.float32), np.ones(300, np.float64)]
    states = [adam8bit_init(p, min_8bit_size=1) for p in params]
    with pytest.raises(TypeError, match="same backend and dtype"):
        adam8bit_fused_many(params, [np.ones_like(p) for p in params], states, lr=1e-3)
    assert [s["step"] for s in states] == [0, 0]  # a refused launch counts no step
    states[1]["step"] = 3
    with pytest.raises(ValueError, match=r"one step count, got \[0, 3\]"):
        adam8bit_fused_many(params, [np.ones_like(p) for p in params], states, lr=1e-3)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
def test_non_finite_gradients_give_the_reference_codes(bad):
    """A NaN or ±inf gradient element poisons its block's scale (NaN or inf); the kernel's codes, maxima
    and parameters still equal the reference's (NaN compared equal) over 3 steps, other blocks untouched."""
    rng = np.random.default_rng(5)
    ref_param = rng.standard_normal(1024).astype(np.float32)
    ker_param = ref_param.copy()
    ref_state, ker_state = adam8bit_init(ref_param, min_8bit_size=1), adam8bit_init(ker_param, min_8bit_size=1)
    for _ in range(3):
        grad = rng.standard_normal(1024).astype(np.float32)
        grad[3] = bad
        with np.errstate(invalid="ignore", over="ignore"):
            adam8bit_update(ref_param, grad, ref_state, lr=1e-2)
        adam8bit_fused(ker_param, grad, ker_state, lr=1e-2)
        assert np.array_equal(ker_param, ref_param, equal_nan=True)
        for key in ("exp_avg_codes", "exp_avg_sq_codes", "exp_avg_absmax", "exp_avg_sq_absmax"):
            assert np.array_equal(ker_state[key], ref_state[key], equal_nan=True), key
    assert np.all(np.isfinite(ref_state["exp_avg_absmax"][1:]))


def test_a_broken_kernel_body_fails():
    """Quantising the first moment with the unsigned map's midpoints: the comparison catches it."""
    broken = dataclasses.replace(
        ADAM8BIT_KERNEL, name="adam8bit_broken",
        store=ADAM8BIT_KERNEL.store.replace("exp_avg_absmax, signed_midpoints, signed_starts",
                                           "exp_avg_absmax, unsigned_midpoints, unsigned_starts"),
    )
    original = adam8bit_module.ADAM8BIT_KERNEL
    adam8bit_module.ADAM8BIT_KERNEL = broken
    try:
        (_, ref_state), (_, ker_state) = next(_trajectories(np.float32, 256, True))
        assert not np.array_equal(ker_state["exp_avg_codes"], ref_state["exp_avg_codes"])
    finally:
        adam8bit_module.ADAM8BIT_KERNEL = original


def _compiled_quantiser():
    """The kernel's ``optimlab_quantise`` helper, compiled as the CPU form compiles it, over an array."""
    import ctypes

    from optimlab.kernels.elementwise import PREAMBLE, build_cpu_library

    source = ("#include <cmath>\nusing namespace std;\n#define __device__\n" + PREAMBLE + ADAM8BIT_KERNEL.helpers
              + 'extern "C" void quantise_all(long long n, const float* x, float absmax, const float* midpoints, '
              "const float* starts, unsigned char* codes) {\n"
              "  for (long long i = 0; i < n; ++i) codes[i] = optimlab_quantise(x[i], absmax, midpoints, starts);\n}\n")
    function = build_cpu_library(source, "quantise_all", "optimlab_quantise").quantise_all
    function.argtypes = [ctypes.c_longlong, ctypes.c_void_p, ctypes.c_float] + [ctypes.c_void_p] * 3
    return function


@pytest.mark.parametrize("signed", [True, False], ids=["signed", "unsigned"])
def test_the_bucketed_quantiser_finds_the_nearest_entry(signed):
    """``optimlab_quantise`` (a bucket's start plus at most three comparisons) against the reference's
    rule, ``searchsorted(midpoints, x · (1/a) clipped to [−1, 1])``, on every midpoint and its two
    neighbouring floats (the ties and the decisions closest to a boundary), ±0, ±1, ±inf, values beyond
    ±1, NaN, subnormals, 10⁶ log-uniform magnitudes over 10⁻⁴⁰…10 of both signs, and the same values
    under a block maximum of 3 (x · (1/3) rounds: both sides compute it identically), +inf and NaN
    (a non-finite block: NaN sorts after every midpoint, code 255). Codes must be equal."""
    from optimlab.optim.adam8bit import KERNEL_TABLES, MIN_ABSMAX, SIGNED_MIDPOINTS, UNSIGNED_MIDPOINTS

    name = "signed" if signed else "unsigned"
    midpoints = SIGNED_MIDPOINTS if signed else UNSIGNED_MIDPOINTS
    rng = np.random.default_rng(7)
    special = np.float32([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 1.5, -7.0, 1e-45, -1e-45, 1e-39, -1e-39])
    magnitudes = (10.0 ** rng.uniform(-40, 1, 10**6)).astype(np.float32) * rng.choice(np.float32([-1, 1]), 10**6)
    x = np.concatenate([midpoints, np.nextafter(midpoints, np.float32(-2)), np.nextafter(midpoints, np.float32(2)),
                        special, magnitudes]).astype(np.float32)
    quantise = _compiled_quantiser()
    for absmax in np.float32([1, 3, np.inf, np.nan]):
        codes = np.empty(x.size, dtype=np.uint8)
        quantise(x.size, x.ctypes.data, absmax, KERNEL_TABLES[f"{name}_midpoints"].ctypes.data,
                 KERNEL_TABLES[f"{name}_starts"].ctypes.data, codes.ctypes.data)
        with np.errstate(invalid="ignore"):
            normed = np.clip(x * (np.float32(1) / np.maximum(absmax, MIN_ABSMAX)), -1, 1)
        expected = np.searchsorted(midpoints, normed, side="left")
        assert np.array_equal(codes, expected), np.flatnonzero(codes != expected)[:10]


def test_both_forms_are_scaffolds_around_the_same_element_functions():
    """The math (the update and store bodies as functions of one element) is one piece of source that
    the CPU source contains and the CUDA source starts with; neither holds another copy of a body."""
    shared = ADAM8BIT_KERNEL._element_functions((True,), "float")
    cpu = ADAM8BIT_KERNEL.cpu_source((True,), 256, "float")
    cuda = ADAM8BIT_KERNEL.cuda_source((True,), 256, "float")
    assert shared in cpu and cuda.startswith(shared)
    for line in ("exp_avg_codes = optimlab_quantise(", "p = (T)(param - (C)step_size"):
        assert shared.count(line) == cpu.count(line) == cuda.count(line) == 1, line
    assert "__global__ void __launch_bounds__(256) optimlab_adam8bit_decoupled_b256(" in cuda


def test_wrong_arrays_are_rejected_naming_them():
    param = np.ones(300, dtype=np.float32)
    state = adam8bit_init(param, blocksize=64, min_8bit_size=1)
    state["exp_avg_absmax"] = np.zeros(4, dtype=np.float32)  # 300 elements need 5 blocks of 64
    with pytest.raises(ValueError, match="'exp_avg_absmax' has float32\\(4,\\), expected float32\\(5,\\)"):
        adam8bit_fused(param, np.ones(300, dtype=np.float32), state, lr=1e-3, blocksize=64)
    state = adam8bit_init(param, blocksize=64, min_8bit_size=1)
    state["exp_avg_codes"] = state["exp_avg_codes"].astype(np.int8)
    with pytest.raises(ValueError, match="'exp_avg_codes' has int8"):
        adam8bit_fused(param, np.ones(300, dtype=np.float32), state, lr=1e-3, blocksize=64)


def test_a_kernel_without_block_arrays_has_no_store_pass():
    from optimlab.optim.adam8bit import ADAM32_KERNEL

    with pytest.raises(ValueError, match="optimlab_adam32: without block arrays there is no second pass"):
        dataclasses.replace(ADAM32_KERNEL, store="p = 0;")
    for source in (ADAM32_KERNEL.cpu_source((True,), 256, "float"), ADAM32_KERNEL.cuda_source((True,), 256, "float")):
        assert "optimlab_store" not in source and "__syncthreads" not in source


def test_arrays_on_two_backends_are_refused_naming_them():
    """A GPU launch must not be handed a host address (nor the reverse): an array that reads as a
    CuPy array (a stand-in: the check looks at the backend only) beside NumPy ones is refused."""
    param = np.ones(300, dtype=np.float32)
    state = adam8bit_init(param, blocksize=64, min_8bit_size=1)
    state["exp_avg_absmax"] = type("ndarray", (), {"__module__": "cupy._core.core"})()
    with pytest.raises(TypeError, match="'exp_avg_absmax' is on the GPU, array 'p' on the CPU: one backend"):
        adam8bit_fused(param, np.ones(300, dtype=np.float32), state, lr=1e-3, blocksize=64)
    assert state["step"] == 0
