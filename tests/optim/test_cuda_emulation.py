"""The CUDA form of the 8-bit block kernel *run* without a GPU: its source, as CuPy would compile it,
is compiled by g++ with a small emulation of CUDA's execution model and compared with the CPU form.

The emulation runs one CUDA block at a time with one ``std::thread`` per CUDA thread; ``__shared__``
variables become statics (shared by the block's threads), ``__syncthreads()`` a ``std::barrier``, and
``__shfl_xor_sync`` an exchange through a shared array between two barriers. It checks the parts of
the GPU form that only compiling cannot: the plan's decoding (which tensor and block each CUDA block
takes), the per-thread element strides, the warp-shuffle and shared-memory maximum and the order of
reads and writes around the barriers. Expected: identical parameters, codes and maxima (NaN equal).
It does not check timing, memory coalescing or real concurrency between blocks.
"""

import ctypes
import os
import shutil
import subprocess

import numpy as np
import pytest

from optimlab.kernels.blockwise import cuda_threads
from optimlab.optim.adam import adam_fused, adam_init, adam_kernel_scalars
from optimlab.optim.adam8bit import ADAM8BIT_KERNEL, ADAM32_KERNEL, KERNEL_TABLES, adam8bit_fused_many, adam8bit_init

COMPILER = os.environ.get("CXX", "g++")
pytestmark = pytest.mark.skipif(shutil.which(COMPILER) is None, reason="needs a C++ compiler (g++)")

EMULATION = r"""
#include <barrier>
#include <cmath>
#include <thread>
#include <vector>
using namespace std;
struct OptimlabDim { unsigned x; };
thread_local OptimlabDim threadIdx;
OptimlabDim blockIdx;
#define __device__
#define __global__
#define __launch_bounds__(threads)
#define __shared__ static
std::barrier<>* optimlab_barrier;
inline void __syncthreads() { optimlab_barrier->arrive_and_wait(); }
float optimlab_lanes[1024];
inline float __shfl_xor_sync(unsigned, float x, int lane) {
  optimlab_lanes[threadIdx.x] = x;
  __syncthreads();
  const float y = optimlab_lanes[threadIdx.x ^ lane];
  __syncthreads();
  return y;
}
"""


def _emulated(kernel, flag_values, blocksize, tmp_path, source=None):
    """``run(blocks, tensors, plan, *tables, *scalars)``: the CUDA form under the emulation."""
    source = (source or kernel.cuda_source(flag_values, blocksize, "float")).replace('extern "C" ', "")
    signature = kernel._launch_signature("float")
    names = ", ".join(["tensors", "plan", *(d.rsplit(" ", 1)[1] for d in signature.split(", ")[2:])])
    launch = (f'extern "C" void optimlab_emulate(long long blocks, {signature}) {{\n'
              f"  const int threads = {cuda_threads(blocksize)};\n"
              "  for (long long b = 0; b < blocks; ++b) {\n"
              "    blockIdx.x = (unsigned)b;\n"
              "    std::barrier<> barrier(threads);\n"
              "    optimlab_barrier = &barrier;\n"
              "    std::vector<std::thread> pool;\n"
              "    for (int t = 0; t < threads; ++t)\n"
              f"      pool.emplace_back([&, t] {{ threadIdx.x = t; {kernel.kernel_name(flag_values, blocksize)}({names}); }});\n"
              "    for (auto& thread : pool) thread.join();\n  }\n}\n")
    cpp, library = tmp_path / "emulated.cpp", tmp_path / "emulated.so"
    cpp.write_text(EMULATION + source + launch)
    result = subprocess.run([COMPILER, "-O1", "-std=c++20", "-pthread", "-fPIC", "-shared", "-ffp-contract=off",
                             str(cpp), "-o", str(library)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[:4000]
    run = ctypes.CDLL(str(library)).optimlab_emulate
    run.argtypes = ([ctypes.c_longlong, ctypes.c_longlong, ctypes.c_void_p] + [ctypes.c_void_p] * len(kernel.tables)
                    + [ctypes.c_double] * len(kernel.scalars))
    return run


def _compare(run, blocksize, decoupled, steps=4) -> bool:
    """The CPU form (``adam8bit_fused_many``) and the emulated CUDA form side by side on four tensors
    (a short last block, a single block, one element past two blocks), a NaN gradient at step 2."""
    rng = np.random.default_rng(blocksize)
    sizes = [1000, blocksize, 5000, 2 * blocksize + 1]
    starts = [rng.standard_normal(n).astype(np.float32) for n in sizes]
    cpu, gpu = [x.copy() for x in starts], [x.copy() for x in starts]
    cpu_states = [adam8bit_init(x, blocksize=blocksize, min_8bit_size=1) for x in cpu]
    gpu_states = [adam8bit_init(x, blocksize=blocksize, min_8bit_size=1) for x in gpu]
    lr, beta1, beta2, eps, weight_decay = 1e-2, 0.9, 0.999, 1e-8, 0.1
    same = True
    for step in range(steps):
        grads = [(rng.standard_normal(n) * 10.0 ** rng.uniform(-6, 1, n)).astype(np.float32) for n in sizes]
        if step == 2:
            grads[0][5] = np.nan
        with np.errstate(invalid="ignore"):
            adam8bit_fused_many(cpu, grads, cpu_states, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                                weight_decay=weight_decay, decoupled_weight_decay=decoupled, blocksize=blocksize)
        t = step + 1
        arrays = [[g, p, s["exp_avg_codes"], s["exp_avg_sq_codes"], s["exp_avg_absmax"], s["exp_avg_sq_absmax"]]
                  for g, p, s in zip(grads, gpu, gpu_states)]
        plan = ADAM8BIT_KERNEL.plan(blocksize, sizes, arrays)
        scalars = adam_kernel_scalars(t, lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay)
        run(int(plan[len(sizes)]), len(sizes), plan.ctypes.data,
            *[KERNEL_TABLES[n].ctypes.data for n in ADAM8BIT_KERNEL.tables],
            *[float(scalars[s]) for s in ADAM8BIT_KERNEL.scalars])
        for a, b, state_a, state_b in zip(cpu, gpu, cpu_states, gpu_states):
            same &= np.array_equal(a, b, equal_nan=True)
            for key in ("exp_avg_codes", "exp_avg_sq_codes", "exp_avg_absmax", "exp_avg_sq_absmax"):
                same &= np.array_equal(state_a[key], state_b[key], equal_nan=True)
    return same


@pytest.mark.parametrize("decoupled", [True, False], ids=["AdamW8bit", "Adam8bit-L2"])
@pytest.mark.parametrize("blocksize", [64, 512])  # one warp per block; 256 threads with 2 elements each
def test_the_cuda_form_gives_the_cpu_forms_results(blocksize, decoupled, tmp_path):
    run = _emulated(ADAM8BIT_KERNEL, (decoupled,), blocksize, tmp_path)
    assert _compare(run, blocksize, decoupled)


def test_a_broken_warp_maximum_is_caught(tmp_path):
    """Dropping the shuffles from the block maximum (each warp keeps its lane's value): not equal."""
    source = ADAM8BIT_KERNEL.cuda_source((True,), 256, "float")
    shuffle = "x = optimlab_max(__shfl_xor_sync(0xffffffffu, x, lane), x);"
    assert shuffle in source
    run = _emulated(ADAM8BIT_KERNEL, (True,), 256, tmp_path, source.replace(shuffle, "x = x;"))
    assert not _compare(run, 256, True, steps=2)


@pytest.mark.parametrize("blocksize", [64, 512])
def test_the_cuda_form_without_block_arrays_gives_adam_fused_results(blocksize, tmp_path):
    """``ADAM32_KERNEL`` (the small tensors' 32-bit Adam, the scaffold's update pass alone) under the
    emulation against ``adam_fused``, the elementwise kernel's CPU form, per tensor: identical
    parameters and moments over 3 steps on four tensors in one launch."""
    run = _emulated(ADAM32_KERNEL, (True,), blocksize, tmp_path)
    rng = np.random.default_rng(7)
    sizes = [10, blocksize, 1000, blocksize + 1]
    starts = [rng.standard_normal(n).astype(np.float32) for n in sizes]
    cpu, gpu = [x.copy() for x in starts], [x.copy() for x in starts]
    cpu_states, gpu_states = [adam_init(x) for x in cpu], [adam_init(x) for x in gpu]
    hyper = dict(lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.1)
    for t in range(1, 4):
        grads = [rng.standard_normal(n).astype(np.float32) for n in sizes]
        for param, grad, state in zip(cpu, grads, cpu_states):
            adam_fused(param, grad, state, decoupled_weight_decay=True, **hyper)
        plan = ADAM32_KERNEL.plan(blocksize, sizes, [[g, p, s["exp_avg"], s["exp_avg_sq"]]
                                                      for g, p, s in zip(grads, gpu, gpu_states)])
        scalars = adam_kernel_scalars(t, **hyper)
        run(int(plan[len(sizes)]), len(sizes), plan.ctypes.data, *[float(scalars[s]) for s in ADAM32_KERNEL.scalars])
        for a, b, state_a, state_b in zip(cpu, gpu, cpu_states, gpu_states):
            assert np.array_equal(a, b)
            assert np.array_equal(state_a["exp_avg"], state_b["exp_avg"])
            assert np.array_equal(state_a["exp_avg_sq"], state_b["exp_avg_sq"])
