"""The fused kernel bodies, compiled for the CPU from the very source CuPy would build, against the
NumPy reference: every torch-twin configuration, parameters and state after each of 50 steps.

Tolerances: float64 1e-12 relative (same formula, different operation order: a few ulp); float32
1e-5 relative (the kernel computes in float like the reference, with scalars folded in double).
A syntax or math error in a kernel body fails here, on machines without a GPU.
"""

import numpy as np
import pytest
from ml_dtypes import bfloat16

from optimlab.kernels import cpu_compiler_available
from optimlab.verify import run_kernel_parity
from optimlab.verify.torch_cases import sixteen_bit_case, torch_cases

pytestmark = pytest.mark.skipif(not cpu_compiler_available(), reason="needs a C++ compiler (g++)")

CASES = [case for case in torch_cases() if case.has_kernel]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_kernel_matches_reference(case, dtype):
    result = run_kernel_parity(case.ours, case.config, steps=50, dtype=dtype, shapes=case.shapes)
    assert not result.problems, result.problems
    assert result.error <= (1e-12 if dtype == np.float64 else 1e-5), result


def test_a_broken_kernel_body_fails():
    """A kernel whose body has a math error is caught by the comparison above."""
    import dataclasses

    from optimlab.optim import adam as adam_module
    from optimlab.optim.adam import ADAM_KERNEL, Adam

    broken = dataclasses.replace(ADAM_KERNEL, name="adam_broken", body=ADAM_KERNEL.body.replace("+ (C)eps", "- (C)eps"))
    original = adam_module.ADAM_KERNEL
    adam_module.ADAM_KERNEL = broken
    try:
        result = run_kernel_parity(Adam, {"lr": 0.01, "eps": 1e-3}, steps=3)
    finally:
        adam_module.ADAM_KERNEL = original
    assert result.error > 1e-6


HALF_CASES = [case for case in CASES if sixteen_bit_case(case)]
# Unit roundoff of each 16-bit storage type: 2⁻¹¹ (10 stored fraction bits), 2⁻⁸ (7).
HALF_TYPES = {"float16": (np.float16, 2.0**-11), "bfloat16": (bfloat16, 2.0**-8)}


@pytest.mark.parametrize("storage", HALF_TYPES)
@pytest.mark.parametrize("case", HALF_CASES, ids=str)
def test_16bit_storage_computes_in_float32(case, storage):
    """fp16/bf16 storage, fp32 arithmetic inside the kernel (one rounding per stored value per step):
    after 50 steps within two roundings of the storage type per step (the parameter's and a state's,
    fed back through the next gradient) of the fp32 reference run: fp16 100 · 2⁻¹¹ ≈ 4.9e-2 relative,
    bf16 100 · 2⁻⁸ ≈ 0.39 (measured worst: fp16 48.1 roundings, Muon; bf16 71.9, Muon; the
    elementwise ones fp16 39.6, Adam, bf16 55.2, Adamax; Adafactor 17.3). Storing the *reference's*
    intermediates in 16 bits instead is what this avoids."""
    from optimlab import Parameter
    from optimlab.kernels import cpu_kernels
    from optimlab.verify.parity import TrajectoryProblem, relative_error

    dtype, unit_roundoff = HALF_TYPES[storage]
    problem = TrajectoryProblem(seed=6, shapes=case.shapes)
    results = {}
    for dtype, fused in ((np.float32, False), (dtype, True)):
        params = [Parameter(x.astype(dtype)) for x in problem.initial]
        optimizer = case.ours(params, **case.config)
        with cpu_kernels(fused):
            for step in range(50):
                for p, g in zip(params, problem.grads([p.data.astype(np.float32) for p in params], step)):
                    p.grad = g.astype(dtype)
                optimizer.step()
        results[fused] = [p.data.astype(np.float32) for p in params]
    for half, single in zip(results[True], results[False]):
        assert relative_error(half, single) <= 100 * unit_roundoff


TORCH_16BIT = {"float16": "float16", "bfloat16": "bfloat16"}
FUSED_ADAM_CONFIGS = [
    ("AdamW", dict(lr=1e-2, weight_decay=0.1)),
    ("Adam", dict(lr=1e-2, weight_decay=0.1)),
    ("Adam", dict(lr=1e-3, amsgrad=True, maximize=True)),
    ("AdamW", dict(lr=3e-3, betas=(0.8, 0.99), eps=1e-6, amsgrad=True, weight_decay=0.5)),
]


@pytest.mark.parametrize("storage", HALF_TYPES)
@pytest.mark.parametrize("name, config", FUSED_ADAM_CONFIGS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(FUSED_ADAM_CONFIGS)])
def test_16bit_adam_kernel_matches_torch_fused(name, config, storage):
    """Our Adam/AdamW kernel on fp16/bf16 storage against torch's fused CPU Adam/AdamW, which also
    loads 16-bit values, computes in float32 and rounds once on store: parameters and every state
    after each of 50 steps on 10 007 elements (many SIMD blocks and a remainder). Measured here: the
    parameters identical at every step; a state differs on at most 3 elements in a step, by one storage
    ulp, or where the moment cancels to 0 in ours and to ~1e-9 in torch's (its vectorised lerp
    contracts into an FMA, which rounds once where ours rounds twice). Asserted: at most 0.1% of the
    elements differ, each by at most two roundings of the tensor's largest value."""
    torch = pytest.importorskip("torch")
    import optimlab.optim as optim
    from optimlab import Parameter
    from optimlab.kernels import cpu_kernels

    dtype, unit_roundoff = HALF_TYPES[storage]
    torch_dtype = getattr(torch, TORCH_16BIT[storage])
    rng = np.random.default_rng(3)
    start = rng.standard_normal(10_007).astype(np.float32)
    ours = Parameter(start.astype(dtype))
    theirs = torch.tensor(start).to(torch_dtype).requires_grad_()
    optimizer = getattr(optim, name)([ours], **config)
    reference = getattr(torch.optim, name)([theirs], fused=True, **config)
    with cpu_kernels():
        for _ in range(50):
            grad = (rng.standard_normal(start.size) * 10.0 ** rng.uniform(-3, 1, start.size)).astype(np.float32)
            ours.grad = grad.astype(dtype)
            theirs.grad = torch.tensor(grad).to(torch_dtype)
            optimizer.step()
            reference.step()
            pairs = [(ours.data, theirs)] + [(optimizer.state[ours][key], value)
                                             for key, value in reference.state[theirs].items() if key != "step"]
            for mine, torch_value in pairs:
                mine, torch_value = mine.astype(np.float32), torch_value.detach().float().numpy()
                assert np.mean(mine != torch_value) <= 1e-3
                assert np.max(np.abs(mine - torch_value)) <= 2 * unit_roundoff * np.max(np.abs(torch_value))


@pytest.mark.parametrize("storage", HALF_TYPES)
def test_16bit_storage_converts_like_numpy(storage):
    """The CPU form's float16 and bfloat16 (loads exact, stores rounded to nearest even, NaN kept)
    against NumPy's and ml_dtypes' conversions: the product of two 16-bit values is exact in float32
    (at most 22 significant bits, exponents within float32's normal range), so storing it exercises
    the rounding, ties included, over 10⁶ random bit patterns (subnormals, infinities, NaNs)."""
    from optimlab.kernels import ElementwiseKernel

    dtype, _ = HALF_TYPES[storage]
    product = ElementwiseKernel(name="half_product", inputs=("a", "b"), outputs=("out",), scalars=(),
                                body="out = (T)((C)a * (C)b);")
    rng = np.random.default_rng(0)
    a, b = (rng.integers(0, 1 << 16, 1_000_000, dtype=np.uint16).view(dtype) for _ in range(2))
    out = np.zeros_like(a)
    product(a=a, b=b, out=out)
    with np.errstate(all="ignore"):  # inf · 0 and overflow are among the cases
        expected = (a.astype(np.float32) * b.astype(np.float32)).astype(dtype)
    nan = np.isnan(expected.astype(np.float32))
    assert np.array_equal(np.isnan(out.astype(np.float32)), nan)
    assert np.array_equal(out.view(np.uint16)[~nan], expected.view(np.uint16)[~nan])


def _kernel_optimizers() -> list:
    """(name, class, config): every torch-twin configuration with a kernel, then every exported
    optimizer whose module defines a fused kernel, with its defaults."""
    import importlib

    import optimlab.optim as optim
    from optimlab.kernels import BlockwiseKernel, ElementwiseKernel

    found = [(str(case), case.ours, case.config) for case in CASES]
    for name in optim.__all__:
        cls = getattr(optim, name)
        module = importlib.import_module(cls.__module__)
        if any(isinstance(v, (ElementwiseKernel, BlockwiseKernel)) for v in vars(module).values()):
            found.append((f"{name}(defaults)", cls, {}))
    return found


@pytest.mark.parametrize("name, cls, config", _kernel_optimizers(), ids=lambda v: v if isinstance(v, str) else "")
def test_non_finite_gradients_propagate_as_in_the_reference(name, cls, config):
    """A NaN, a +inf and a −inf in the gradient for three steps: the kernel leaves the same elements
    NaN or infinite as the NumPy reference, and the finite ones within float64 rounding (1e-12)."""
    from optimlab import Parameter
    from optimlab.kernels import cpu_kernels

    results = []
    for fused in (False, True):
        rng = np.random.default_rng(0)
        param = Parameter(rng.standard_normal((4, 8)))
        optimizer = cls([param], **config)
        with cpu_kernels(fused), np.errstate(all="ignore"):
            for _ in range(3):
                grad = rng.standard_normal((4, 8))
                grad[0, 1], grad[1, 2], grad[2, 3] = np.nan, np.inf, -np.inf
                param.grad = grad
                optimizer.step()
        arrays = {key: value for key, value in optimizer.state[param].items() if isinstance(value, np.ndarray)}
        results.append({"param": param.data.copy(), **{key: value.copy() for key, value in arrays.items()}})
    reference, kernel = results
    assert set(reference) == set(kernel)
    for key, expected in reference.items():
        assert np.array_equal(np.isnan(kernel[key]), np.isnan(expected)), key
        assert np.allclose(kernel[key], expected, rtol=1e-12, atol=0, equal_nan=True), key


def test_the_cpu_forms_refuse_arrays_they_cannot_run():
    """One check serves the elementwise and the block-wise CPU forms: the dtype, C-contiguity, and
    writeable outputs (an 8-bit kernel's codes are outputs, its tables are not)."""
    from optimlab.kernels import ElementwiseKernel
    from optimlab.optim.adam8bit import adam8bit_fused, adam8bit_init

    scale = ElementwiseKernel(name="scale", inputs=("a",), outputs=("out",), scalars=("c",), body="out = (T)((C)a * (C)c);")
    with pytest.raises(TypeError, match="supports float16, bfloat16, float32 and float64, got int64"):
        scale(a=np.ones(4, np.int64), out=np.ones(4, np.int64), c=2.0)
    with pytest.raises(ValueError, match="needs C-contiguous arrays"):
        scale(a=np.ones(8)[::2], out=np.ones(4), c=2.0)
    read_only = np.ones(4)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="cannot write a read-only array"):
        scale(a=np.ones(4), out=read_only, c=2.0)
    scale(a=read_only, out=np.ones(4), c=2.0)  # a read-only input is fine

    param = np.ones(5000, np.float32)
    state = adam8bit_init(param)
    state["exp_avg_codes"].flags.writeable = False
    with pytest.raises(ValueError, match="optimlab_adam8bit cannot write a read-only array"):
        adam8bit_fused(param, np.ones_like(param), state, lr=1e-3)
