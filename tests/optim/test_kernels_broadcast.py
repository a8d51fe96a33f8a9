"""Broadcast inputs and reductions in the CPU form of the kernels (``ElementwiseKernel``,
``ReductionKernel``), against NumPy.

An elementwise body here does the same float operations in the same order as the NumPy expression
(no FMA contraction: ``-ffp-contract=off``), so the results must be bit-identical. A reduction sums
the same per-element terms in double in another order than ``numpy.sum``: for n terms ≥ 0 each sum
is within (n − 1)·2⁻⁵³ of the exact one, relative, so the two differ by at most 2n·2⁻⁵³. The CUDA
form of a reduction is compile-checked with nvcc where it is installed (nothing runs on a GPU here).
"""

import itertools
import shutil
import subprocess

import numpy as np
import pytest

from optimlab.kernels import ElementwiseKernel, ReductionKernel, cpu_compiler_available
from optimlab.optim.adafactor import ADAFACTOR_SQUARES_KERNEL

pytestmark = pytest.mark.skipif(not cpu_compiler_available(), reason="needs a C++ compiler (g++)")

AXPY = ElementwiseKernel(name="test_broadcast_axpy", inputs=("a", "b", "c"), outputs=("out",), scalars=("s",),
                         body="out = (T)((C)out * (C)s + (C)a * (C)b - (C)c);")

# (output shape, a, b, c): Adafactor's row/column factors of a matrix and of a batch of matrices,
# a full input among broadcast ones, leading and middle broadcast axes, a scalar, a shape of equal
# size (not a broadcast), rows longer than one tile and enough elements for several threads.
SHAPES = [
    ((5, 7), (5, 1), (1, 7), (5, 7)),
    ((3, 4, 5), (3, 4, 1), (3, 1, 5), (1, 1)),
    ((4, 1, 6), (6,), (4, 1, 1), ()),
    ((2, 3, 50), (2, 1, 50), (3, 1), (50,)),
    ((6, 5, 4, 3), (6, 1, 4, 1), (5, 1, 3), (6, 5, 4, 3)),
    ((7,), (1,), (7,), ()),
    ((3, 1), (1,), (3, 1), (1, 1)),
    ((2, 40_000), (2, 1), (40_000,), (1, 40_000)),
    ((64, 2_000), (64, 1), (1, 2_000), (64, 2_000)),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("shape, a_shape, b_shape, c_shape", SHAPES, ids=str)
def test_broadcast_inputs_match_numpy(shape, a_shape, b_shape, c_shape, dtype):
    rng = np.random.default_rng(0)
    a, b, c = (rng.standard_normal(s).astype(dtype) for s in (a_shape, b_shape, c_shape))
    out = rng.standard_normal(shape).astype(dtype)
    expected = out * dtype(0.5) + a * b - c
    AXPY(a=a, b=b, c=c, out=out, s=0.5)
    assert np.array_equal(out, expected)


def test_same_shape_and_broadcast_variants_are_built_apart():
    """The same-shape loop and each broadcast pattern are different compiled functions: run in turn
    on one kernel, each gives NumPy's answer (a cache keyed on flags and dtype alone would reuse the
    first and read out of bounds or at the wrong elements)."""
    rng = np.random.default_rng(1)
    for a_shape, b_shape in (((8, 9), (8, 9)), ((8, 1), (1, 9)), ((1, 9), (8, 1)), ((8, 9), (9,))):
        a, b, c = rng.standard_normal(a_shape), rng.standard_normal(b_shape), rng.standard_normal((8, 9))
        out = np.zeros((8, 9))
        AXPY(a=a, b=b, c=c, out=out, s=1.0)
        assert np.array_equal(out, a * b - c)


def test_a_non_broadcastable_input_is_rejected_by_name():
    with pytest.raises(ValueError, match=r"array 'b' has float64\(3, 2\), expected float64\(4, 5\) or a shape "
                                         r"that broadcasts to it"):
        AXPY(a=np.zeros((4, 1)), b=np.zeros((3, 2)), c=np.zeros(5), out=np.zeros((4, 5)), s=1.0)
    with pytest.raises(ValueError, match=r"array 'a' has float64\(2, 4, 5\), expected float64\(4, 5\)"):
        AXPY(a=np.zeros((2, 4, 5)), b=np.zeros(5), c=np.zeros(5), out=np.zeros((4, 5)), s=1.0)


def test_arrays_on_two_backends_are_refused_by_name():
    """An array that reads as a CuPy array (a stand-in: the check looks at the backend only) beside
    NumPy ones: refused before any launch, naming it."""
    on_gpu = type("ndarray", (), {"__module__": "cupy._core.core"})()
    with pytest.raises(TypeError, match=r"array 'c' is on the GPU, array 'a' on the CPU: one backend per launch"):
        AXPY(a=np.zeros((4, 5)), b=np.zeros(5), c=on_gpu, out=np.zeros((4, 5)), s=1.0)


def test_outputs_do_not_broadcast():
    """Only inputs broadcast: every output has the loop's shape (the first output's)."""
    kernel = ElementwiseKernel(name="test_broadcast_two_outputs", inputs=("g",), outputs=("p", "m"), scalars=(),
                               body="p = g; m = g;")
    with pytest.raises(ValueError, match=r"array 'm' has float64\(1, 5\), expected float64\(4, 5\)$"):
        kernel(g=np.zeros(5), p=np.zeros((4, 5)), m=np.zeros((1, 5)))


SQUARES = ReductionKernel(
    name="test_reduction_squares", inputs=("g", "row", "col", "full"), scalars=("eps",), flags=("FACTORED",),
    requires=(("row", "FACTORED"), ("col", "FACTORED"), ("full", "!FACTORED")),
    body="""\
#if FACTORED
C scale = (C)row * (C)col + (C)eps;
#else
C scale = (C)full + (C)eps;
#endif
C x = (C)g / scale;
return x * x;
""",
)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("shape", [(7,), (30, 20), (3, 40, 50), (300, 400), (0, 5)], ids=str)
def test_reduction_sums_the_term_in_double(shape, dtype):
    """Σ (g / (row·col + ε))² with broadcast row/column factors, and Σ (g / (full + ε))² (the other
    flag), against the same float terms computed by NumPy and summed in float64. (300, 400) runs on
    several threads (≥ PARALLEL_MIN elements)."""
    rng = np.random.default_rng(2)
    g = rng.standard_normal(shape).astype(dtype)
    row = rng.uniform(0.5, 2, shape[:-1] + (1,)).astype(dtype)
    col = rng.uniform(0.5, 2, shape[-1:]).astype(dtype)
    full = rng.uniform(0.5, 2, shape).astype(dtype)
    eps = dtype(1e-3)
    factored = SQUARES(flags={"FACTORED": True}, g=g, row=row, col=col, eps=1e-3)
    plain = SQUARES(g=g, full=full, eps=1e-3)
    for got, term in ((factored, g / (row * col + eps)), (plain, g / (full + eps))):
        expected = np.sum(np.square(term).astype(np.float64))
        assert isinstance(got, float)
        assert abs(got - expected) <= 2 * g.size * 2.0**-53 * expected
    if g.size == 0:
        assert factored == plain == 0.0


def test_reduction_rejects_inputs_that_do_not_broadcast_together():
    with pytest.raises(ValueError, match=r"array 'row' has float64\(3, 1\), expected float64\(4, 5\) or a shape"):
        SQUARES(flags={"FACTORED": True}, g=np.zeros((4, 5)), row=np.zeros((3, 1)), col=np.zeros(5), eps=0.0)


CUDA_STORAGE = ("float", "double", "__half", "__nv_bfloat16")


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="needs nvcc (CUDA toolkit); a compile check only")
@pytest.mark.parametrize("kernel", [SQUARES, ADAFACTOR_SQUARES_KERNEL], ids=lambda k: k.name)
def test_the_reduction_term_compiles_as_cuda(tmp_path, kernel):
    """The term function that ``cupy.ReductionKernel`` calls (every flag combination, in float,
    double, half and bfloat16 storage, CUDA's types standing in for CuPy's) compiles with nvcc to PTX
    without errors or warnings. A compile check only: nothing here runs on a GPU."""
    from optimlab.kernels.elementwise import PREAMBLE

    parts = ["#include <cuda_fp16.h>\n#include <cuda_bf16.h>\n", PREAMBLE]
    variants = list(itertools.product((False, True), repeat=len(kernel.flags)))
    for index, flag_values in enumerate(variants):
        inputs = kernel.arrays(flag_values)[0]
        call = ", ".join([f"x[{k}]" for k in range(len(inputs))] + ["0.5"] * len(kernel.scalars))
        parts += [f"#undef {f}\n#define {f} {int(v)}\n" for f, v in zip(kernel.flags, flag_values)]
        parts.append(f"namespace variant{index} {{\n{kernel.term_source(flag_values)}"
                     "template <typename T> __global__ void sum(const T* x, double* out) "
                     f"{{ *out = optimlab_term({call}); }}\n}}\n"
                     + "".join(f"template __global__ void variant{index}::sum<{t}>(const {t}*, double*);\n"
                               for t in CUDA_STORAGE))
    (tmp_path / "kernel.cu").write_text("".join(parts))
    result = subprocess.run(["nvcc", "-arch=sm_90", "--ptx", "kernel.cu", "-o", "kernel.ptx"],
                            cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert (tmp_path / "kernel.ptx").read_text().count(".entry ") == len(variants) * len(CUDA_STORAGE)
