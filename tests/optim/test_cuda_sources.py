"""The CUDA sources compile: the block-wise 8-bit Adam kernel and its 32-bit sibling for the small
tensors, for every variant the optimizer can ask for (float and double storage, every flag
combination, every block size in ``BLOCK_SIZES``), and every elementwise kernel body for every flag
combination in float, double, half and bfloat16 storage (a body that g++ accepts but nvcc does not,
say one using ``long double``, fails here).

A compile check only: nothing here runs on a GPU (``test_kernels_gpu.py`` compares the results with
the reference where one exists). It needs ``nvcc`` and skips cleanly without it, as on CI, which has
neither a GPU nor nvcc. nvcc stands in for NVRTC (what ``cupy.RawKernel`` compiles with) and stops at
PTX, the stage NVRTC produces; NVRTC has no host headers, so the source must include none.
"""

import itertools
import shutil
import subprocess

import numpy as np
import pytest

from optimlab.kernels.blockwise import CUDA_OPTIONS, MAX_GRID, PlanCache, cuda_threads
from optimlab.optim.adam8bit import ADAM8BIT_KERNEL, ADAM32_KERNEL, BLOCK_SIZES

VARIANTS = [(kernel, flags, blocksize, ctype) for kernel in (ADAM8BIT_KERNEL, ADAM32_KERNEL)
            for flags in itertools.product((False, True), repeat=len(kernel.flags))
            for blocksize in BLOCK_SIZES for ctype in ("float", "double")]


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="needs nvcc (CUDA toolkit); a compile check only")
@pytest.mark.parametrize("kernel, flags, blocksize, ctype", VARIANTS,
                         ids=[f"{v[0].kernel_name(*v[1:3])}-{v[3]}" for v in VARIANTS])
def test_the_cuda_source_compiles_with_nvcc(tmp_path, kernel, flags, blocksize, ctype):
    source = kernel.cuda_source(flags, blocksize, ctype)
    assert "#include" not in source
    (tmp_path / "kernel.cu").write_text(source)
    result = subprocess.run(["nvcc", "-arch=sm_90", *CUDA_OPTIONS, "--ptx", "kernel.cu", "-o", "kernel.ptx"],
                            cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no warnings either
    # The entry point keeps its C name, which cupy.RawKernel looks up.
    assert f".entry {kernel.kernel_name(flags, blocksize)}(" in (tmp_path / "kernel.ptx").read_text()


def test_threads_per_cuda_block_are_whole_warps_dividing_the_block():
    assert [cuda_threads(b) for b in BLOCK_SIZES] == [64, 128, 256, 256, 256, 256, 256]
    for blocksize in (48, 300):
        with pytest.raises(ValueError, match=f"blocksize={blocksize}"):
            cuda_threads(blocksize)


def test_more_blocks_than_a_cuda_grid_holds_are_refused_before_launching():
    """The check runs before CuPy is needed, so it can be exercised here with a NumPy stand-in; the
    blocks of all the launch's tensors count (two tensors of half the grid each, plus one block)."""
    stand_in = [np.zeros(1, np.float32)]
    sizes = [(MAX_GRID + 1) // 2 * 64, (MAX_GRID + 1) // 2 * 64 + 1]
    plans = PlanCache()
    plans.plan = ADAM8BIT_KERNEL.plan(64, sizes, [stand_in, stand_in])
    with pytest.raises(ValueError, match=f"at most {MAX_GRID} blocks, got {MAX_GRID + 2} blocks of 64"):
        ADAM8BIT_KERNEL._run_cuda((True,), 64, [stand_in, stand_in], plans, [], [])


def test_16bit_arrays_are_refused_by_the_gpu_form_before_launching():
    """The block kernels' GPU form takes float32 and float64 only (``Adam8bit`` steps its 16-bit
    parameters with 32-bit states through ``adam_fused``); a bfloat16 launch is refused naming the
    dtype, before CuPy is needed, not handed to a kernel built for another type."""
    from ml_dtypes import bfloat16

    stand_in = [np.zeros(1, bfloat16)]
    plans = PlanCache()
    plans.plan = ADAM8BIT_KERNEL.plan(64, [1], [stand_in])
    with pytest.raises(TypeError, match="GPU form of optimlab_adam8bit supports float32 and float64, got bfloat16"):
        ADAM8BIT_KERNEL._run_cuda((True,), 64, [stand_in], plans, [], [])


def _elementwise_kernels() -> list:
    """Every ElementwiseKernel an optimizer module defines."""
    import importlib
    import pkgutil

    import optimlab.optim
    from optimlab.kernels import ElementwiseKernel

    found = {}
    for info in pkgutil.iter_modules(optimlab.optim.__path__):
        for value in vars(importlib.import_module(f"optimlab.optim.{info.name}")).values():
            if isinstance(value, ElementwiseKernel):
                found[value.name] = value
    return [found[name] for name in sorted(found)]


CUDA_STORAGE = ("float", "double", "__half", "__nv_bfloat16")


def elementwise_cuda_source(kernel) -> str:
    """Every flag combination of ``kernel``'s body in a minimal CUDA wrapper (one thread per element,
    as ``cupy.ElementwiseKernel`` runs it), instantiated for each storage type in ``CUDA_STORAGE``.
    CuPy's own wrapper and its float16/bfloat16 classes differ in detail; CUDA's __half and
    __nv_bfloat16 convert to and from float the same way."""
    from optimlab.kernels.elementwise import PREAMBLE

    parts = ["#include <cuda_fp16.h>\n#include <cuda_bf16.h>\n", PREAMBLE]
    for flag_values in itertools.product((False, True), repeat=len(kernel.flags)):
        inputs, outputs = kernel.arrays(flag_values)
        name = kernel.kernel_name(flag_values)
        args = ["long long n", *(f"const T* {a}_ptr" for a in inputs), *(f"T* {a}_ptr" for a in outputs),
                *(f"double {s}" for s in kernel.scalars)]
        parts += [f"#undef {f}\n#define {f} {int(v)}\n" for f, v in zip(kernel.flags, flag_values)]
        parts.append(
            f"template <typename T> __global__ void {name}({', '.join(args)}) {{\n"
            "  const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;\n  if (i >= n) return;\n"
            + "".join(f"  const T {a} = {a}_ptr[i];\n" for a in inputs)
            + "".join(f"  T& {a} = {a}_ptr[i];\n" for a in outputs)
            + "  {\n  typedef typename optimlab_compute<T>::type C;\n" + kernel.body + "\n  }\n}\n"
            + f"const void* const* instantiate_{name}() {{\n  static const void* kernels[] = {{"
            + ", ".join(f"(const void*){name}<{t}>" for t in CUDA_STORAGE) + "};\n  return kernels;\n}\n"
        )
    return "".join(parts)


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="needs nvcc (CUDA toolkit); a compile check only")
@pytest.mark.parametrize("kernel", _elementwise_kernels(), ids=lambda k: k.name)
def test_every_elementwise_body_compiles_as_cuda(tmp_path, kernel):
    """Each optimizer's kernel body, every flag combination, in float, double, half and bfloat16
    storage, compiles with nvcc without errors or warnings (the CPU tests check its arithmetic)."""
    (tmp_path / "kernel.cu").write_text(elementwise_cuda_source(kernel))
    result = subprocess.run(["nvcc", "-arch=sm_90", "--ptx", "kernel.cu", "-o", "kernel.ptx"],
                            cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert (tmp_path / "kernel.ptx").read_text().count(".entry ") == 2 ** len(kernel.flags) * len(CUDA_STORAGE)
