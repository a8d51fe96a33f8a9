"""Block-wise kernels: an elementwise update, a maximum over each block, a second elementwise pass.

Blockwise 8-bit quantisation needs what an ``ElementwiseKernel`` cannot express: after updating a
block of B consecutive elements, the absolute maximum of the new values over the *block* (its scale)
must be known before any element can be encoded. A ``BlockwiseKernel`` is written as two C++
statement lists over the same names as ``ElementwiseKernel`` bodies:

* ``update`` runs for each element of a block: it reads ``inputs``, updates ``outputs`` (storage
  type ``T``, compute type ``C``) and uint8 ``codes``, may read the block's float32 ``block_arrays``
  (the old scale) and read-only float32 ``tables``, and assigns the float ``carried`` values;
* then each block array receives the NaN-propagating maximum of ``|carried|`` over the block (one
  carried value per block array, in order);
* ``store`` runs for each element again, with the carried value restored and the block array
  names now meaning the new maxima; it writes the codes (tables and scalars stay readable).

The math is one piece of source shared by both forms: the two bodies become the functions
``optimlab_update`` and ``optimlab_store`` of one element, and each form is a scaffold around them.
The CPU form (compiled by the system C++ compiler, as ``ElementwiseKernel``'s) runs blocks in
parallel with OpenMP, each block's passes as ``omp simd`` loops over its elements. The CUDA form (``cupy.RawKernel``) runs one
thread block of ``cuda_threads(B) = min(B, 256)`` threads per quantisation block: thread t takes
elements ``start + t + k·threads`` (k < B/threads, so each warp reads consecutive elements), keeps
its carried values in registers, and the block maximum is reduced by warp shuffles and shared memory
(max is order-independent, so the result is the CPU form's bit for bit). The old scale is read into
a register before the reduction's barrier and the new one written after it. One build per block
size, dtype and flags (the per-thread arrays have compile-time sizes), cached.

A launch updates any number of tensors of one dtype (``many``; a call is a launch of one): its
*plan*, one int64 array, holds each tensor's first global block, its size and its arrays'
addresses, and each block finds its tensor by a binary search over the first blocks. So a model's
148 tensors take one launch instead of 148, with the same per-block code and results. A kernel
without block arrays (no codes, no carried values, no ``store``) is the update pass alone: an
elementwise body over many tensors in one launch.
"""

from __future__ import annotations

import ctypes
import functools
from dataclasses import dataclass

import numpy as np

from optimlab.backend import cupy_module, is_cupy_array
from optimlab.kernels.elementwise import (PARALLEL_MIN, PREAMBLE, backend_error, build_cpu_library, cpu_type,
                                         indent_body)

CUDA_TYPES = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}  # storage the GPU form takes
# No FMA contraction (as the CPU form's -ffp-contract=off); NVRTC's division and sqrt are IEEE by default.
CUDA_OPTIONS = ("--fmad=false",)
MAX_GRID = 2**31 - 1  # CUDA's limit on gridDim.x: the GPU form handles up to this many blocks
# The tensor a global block belongs to: the last t with first_block[t] <= block (a binary search over
# the tensors' first blocks; tensors without blocks are passed over).
TENSOR_OF = """\
__device__ inline long long optimlab_tensor_of(long long block, const long long* first_block, long long tensors) {
  long long low = 0, high = tensors - 1;
  while (low < high) {
    const long long middle = (low + high + 1) / 2;
    if (first_block[middle] <= block) low = middle; else high = middle - 1;
  }
  return low;
}
"""


def cuda_threads(blocksize: int) -> int:
    """Threads per CUDA block for quantisation blocks of ``blocksize``: min(B, 256), whole warps.
    256 threads (8 warps) keep several blocks resident per SM; a larger B gives each thread
    B/256 elements (16 at B = 4096), which stay in registers and add independent work."""
    threads = min(blocksize, 256)
    if threads % 32 or blocksize % threads:
        raise ValueError(f"the GPU form needs a block size that is a multiple of 32 (of 256 above 256), "
                         f"got blocksize={blocksize}")
    return threads


@dataclass(frozen=True)
class BlockwiseKernel:
    """Two elementwise passes around a per-block absolute maximum (see the module docstring)."""

    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    codes: tuple[str, ...]
    block_arrays: tuple[str, ...]
    carried: tuple[str, ...]
    tables: tuple[str, ...]
    scalars: tuple[str, ...]
    update: str
    store: str
    flags: tuple[str, ...] = ()
    fixed: tuple[tuple[str, int], ...] = ()  # compile-time constants the bodies test (e.g. a borrowed body's flags)
    helpers: str = ""  # __device__ functions the bodies call

    def __post_init__(self):
        if len(self.carried) != len(self.block_arrays):
            raise ValueError(f"kernel optimlab_{self.name}: one carried value per block array is needed")
        if not self.block_arrays and self.store.strip():
            raise ValueError(f"kernel optimlab_{self.name}: without block arrays there is no second pass to store in")

    def kernel_name(self, flag_values: tuple[bool, ...], blocksize: int) -> str:
        on = [f.lower() for f, v in zip(self.flags, flag_values) if v]
        return "_".join(["optimlab", self.name, *on, f"b{blocksize}"])

    def _arguments(self, ctype: str) -> list[tuple[str, str]]:
        """(declaration, name) of each kernel argument after ``n``, in the order ``__call__`` passes them."""
        return ([(f"const {ctype}* {n}_ptr", f"{n}_ptr") for n in self.inputs]
                + [(f"{ctype}* {n}_ptr", f"{n}_ptr") for n in self.outputs]
                + [(f"unsigned char* {n}_ptr", f"{n}_ptr") for n in self.codes]
                + [(f"float* {n}_ptr", f"{n}_ptr") for n in self.block_arrays]
                + [(f"const float* {n}", n) for n in self.tables] + [(f"double {s}", s) for s in self.scalars])

    def _signature(self, ctype: str) -> str:
        return ", ".join(["long long n", *(declaration for declaration, _ in self._arguments(ctype))])

    def _per_tensor(self) -> tuple[str, ...]:
        """The names of the arrays each tensor brings (the tables and scalars are shared)."""
        return (*self.inputs, *self.outputs, *self.codes, *self.block_arrays)

    def _launch_signature(self, ctype: str) -> str:
        """The launch's arguments: the number of tensors, the plan (see ``plan``), the shared ones."""
        shared = self._arguments(ctype)[len(self._per_tensor()):]
        return ", ".join(["long long tensors", "const long long* plan", *(declaration for declaration, _ in shared)])

    def _tensor_of_block(self, ctype: str, block: str, indent: str) -> str:
        """Statements finding, from the plan, the tensor ``t`` that global block ``block`` belongs to,
        its block ``b`` within it, its size ``n`` and its array pointers (the names ``_arguments`` uses)."""
        lines = ["const long long* first_block = plan;",
                 "const long long t = optimlab_tensor_of(" + block + ", first_block, tensors);",
                 f"const long long b = {block} - first_block[t], n = plan[tensors + 1 + t];"]
        for j, (declaration, _) in enumerate(self._arguments(ctype)[: len(self._per_tensor())]):
            pointer_type = declaration.rsplit(" ", 1)[0]
            lines.append(f"{declaration} = ({pointer_type})plan[2 * tensors + 1 + {j} * tensors + t];")
        return "".join(f"{indent}{line}\n" for line in lines)

    def _element_arguments(self, ctype: str) -> list[tuple[str, str]]:
        """The arguments the element functions take after ``i``: all but the block arrays."""
        blockwise = {f"{a}_ptr" for a in self.block_arrays}
        return [(declaration, name) for declaration, name in self._arguments(ctype) if name not in blockwise]

    def _element_functions(self, flag_values: tuple[bool, ...], ctype: str) -> str:
        """The math both forms share: ``optimlab_update(i, ..., old scales, &carried)`` and
        ``optimlab_store(i, ..., new maxima, carried)``, the two bodies applied to element i."""
        defines = "".join(f"#define {f} {int(v)}\n" for f, v in zip(self.flags, flag_values))
        defines += "".join(f"#define {f} {int(v)}\n" for f, v in self.fixed)
        codes = "".join(f"  unsigned char& {n} = {n}_ptr[i];\n" for n in self.codes)
        loads = "".join(f"  const T {n} = {n}_ptr[i];\n" for n in self.inputs)
        loads += "".join(f"  T& {n} = {n}_ptr[i];\n" for n in self.outputs) + codes
        head = ["long long i", *(declaration for declaration, _ in self._element_arguments(ctype)),
                *(f"const float {a}" for a in self.block_arrays)]

        def function(name: str, carried: list[str], loads: str, body: str) -> str:
            return (f"__device__ inline void optimlab_{name}({', '.join(head + carried)}) {{\n"
                    + loads + "  {\n" + indent_body(body.strip(), 4) + "\n  }\n}\n")

        store = function("store", [f"const float {c}" for c in self.carried], codes, self.store)
        return (
            PREAMBLE + defines + f"typedef {ctype} T;\ntypedef optimlab_compute<T>::type C;\n" + TENSOR_OF + self.helpers
            + function("update", [f"float& {c}" for c in self.carried], loads, self.update)
            + (store if self.block_arrays else "")
        )

    def _passes(self, per_thread: int, index: str, cpu: bool) -> tuple[str, str, str]:
        """One block's scaffold for a thread taking ``per_thread`` elements ``i = index`` (k = 0, 1, ...):
        the declarations (old scales ``<array>_old``, running maxima ``<array>_new``, carried values
        ``<carried>_k[k]``), the update pass with the maxima, and the store pass (run once the maxima are
        the block's). On the CPU (one thread per block) both passes are ``omp simd`` loops over the
        block's elements, the maxima a loop of their own between them. Without block arrays there is
        the update pass only (the store pass is empty)."""
        names = ["i", *(name for _, name in self._element_arguments("T"))]
        carried = [f"{c}_k[k]" for c in self.carried]
        update_call = ", ".join([*names, *(f"{a}_old" for a in self.block_arrays), *carried])
        store_call = ", ".join([*names, *(f"{a}_new" for a in self.block_arrays), *carried])
        declarations = "".join(f"  const float {a}_old = {a}_ptr[b];\n  float {a}_new = 0.0f;\n"
                               for a in self.block_arrays)
        declarations += "".join(f"  float {c}_k[{per_thread}];\n" for c in self.carried)
        maxima = "".join(f"    {a}_new = optimlab_max((float)fabs({c}_k[k]), {a}_new);\n"
                         for a, c in zip(self.block_arrays, self.carried))
        if cpu:
            declarations += (f"  const int count = n - start < {per_thread} ? (int)(n - start) : {per_thread};"
                             "  // the last block may be short\n")
            loop = f"  #pragma omp simd\n  for (int k = 0; k < count; ++k) {{\n    const long long i = {index};\n"
            update = loop + f"    optimlab_update({update_call});\n  }}\n"
            if maxima:
                update += "  for (int k = 0; k < count; ++k) {\n" + maxima + "  }\n"
        else:
            loop = f"  for (int k = 0; k < {per_thread}; ++k) {{\n    const long long i = {index};\n"
            loop += "    if (i >= n) break;  // the last block may be short\n"
            update = loop + f"    optimlab_update({update_call});\n" + maxima + "  }\n"
        store = ""
        if self.block_arrays:
            store = loop + f"    optimlab_store({store_call});\n  }}\n"
        return declarations, update, store

    def _write_scales(self, indent: str) -> str:
        return "".join(f"{indent}{a}_ptr[b] = {a}_new;\n" for a in self.block_arrays)

    def cpu_source(self, flag_values: tuple[bool, ...], blocksize: int, ctype: str) -> str:
        """The C++ translation unit of the CPU form: OpenMP over the blocks, a block's elements in turn."""
        declarations, update, store = self._passes(blocksize, "start + k", cpu=True)
        return (
            "#include <cmath>\nusing namespace std;\n#define __device__\n" + self._element_functions(flag_values, ctype)
            + f"static void optimlab_block(long long b, {self._signature(ctype)}) {{\n"
            + f"  const long long start = b * {blocksize};\n" + declarations + update + store
            + self._write_scales("  ") + "}\n"
            + f'extern "C" void {self.kernel_name(flag_values, blocksize)}({self._launch_signature(ctype)}) {{\n'
            + "  const long long blocks = plan[tensors];\n"
            + f"  #pragma omp parallel for schedule(static) if(blocks * {blocksize} >= {PARALLEL_MIN})\n"
            + "  for (long long global = 0; global < blocks; ++global) {\n" + self._tensor_of_block(ctype, "global", "    ")
            + "    optimlab_block(b, n, " + ", ".join(name for _, name in self._arguments(ctype)) + ");\n  }\n}\n"
        )

    def cuda_source(self, flag_values: tuple[bool, ...], blocksize: int, ctype: str) -> str:
        """The CUDA translation unit of the GPU form: one thread block per quantisation block."""
        threads = cuda_threads(blocksize)
        declarations, update, store = self._passes(blocksize // threads, f"start + threadIdx.x + k * {threads}", cpu=False)
        functions = self._element_functions(flag_values, ctype)
        body = (self._tensor_of_block(ctype, "(long long)blockIdx.x", "  ")
                + f"  const long long start = b * {blocksize};\n" + declarations + "  #pragma unroll\n" + update)
        if self.block_arrays:
            functions += (
                "// The NaN-propagating maximum over the thread block, returned to every thread: shuffles\n"
                + "// within each warp, then the warps' maxima through shared memory.\n"
                + "__device__ inline float optimlab_block_max(float x, float* warp_max) {\n"
                + "  for (int lane = 16; lane > 0; lane >>= 1)\n"
                + "    x = optimlab_max(__shfl_xor_sync(0xffffffffu, x, lane), x);\n"
                + "  if (threadIdx.x % 32 == 0) warp_max[threadIdx.x / 32] = x;\n"
                + "  __syncthreads();\n"
                + f"  for (int w = 0; w < {threads // 32}; ++w) x = optimlab_max(warp_max[w], x);\n"
                + "  return x;\n}\n")
            body = (f"  __shared__ float warp_max[{len(self.block_arrays)}][{threads // 32}];\n" + body
                    + "  // Every thread has read the old scales above; the barriers in here order the writes below.\n"
                    + "".join(f"  {a}_new = optimlab_block_max({a}_new, warp_max[{j}]);\n"
                              for j, a in enumerate(self.block_arrays))
                    + "  #pragma unroll\n" + store
                    + "  if (threadIdx.x == 0) {\n" + self._write_scales("    ") + "  }\n")
        return (functions + f'extern "C" __global__ void __launch_bounds__({threads}) '
                + f"{self.kernel_name(flag_values, blocksize)}({self._launch_signature(ctype)}) {{\n" + body + "}\n")

    def __call__(self, *, blocksize: int, flags: dict | None = None, **values) -> None:
        """Run the update of one tensor in place: ``kernel(blocksize=256, flags={...}, g=..., p=..., lr=...)``."""
        missing = [n for n in self._per_tensor() if n not in values]
        if missing:
            raise TypeError(f"kernel optimlab_{self.name} is missing arguments {missing}")
        tensor = {n: values.pop(n) for n in self._per_tensor()}
        self.many(blocksize=blocksize, flags=flags, tensors=[tensor], **values)

    def many(self, *, blocksize: int, flags: dict | None = None, tensors: list[dict], **shared) -> None:
        """Update several tensors in one launch: ``tensors`` holds each one's arrays by name (same
        dtype and backend), ``shared`` the tables and scalars. The same per-block code runs as for
        each tensor alone, so the results are those of one call per tensor."""
        flags = dict(flags or {})
        unknown = set(flags) - set(self.flags)
        if unknown:
            raise ValueError(f"kernel optimlab_{self.name} has no flags {sorted(unknown)}")
        flag_values = tuple(bool(flags.get(f, False)) for f in self.flags)
        missing = [n for n in (*self.tables, *self.scalars) if n not in shared]
        missing += sorted({n for tensor in tensors for n in self._per_tensor() if n not in tensor})
        if missing:
            raise TypeError(f"kernel optimlab_{self.name} is missing arguments {missing}")
        for index, tensor in enumerate(tensors):
            self._check_tensor(tensor, blocksize, "" if len(tensors) == 1 else f" of tensor {index}")
        for name in self.tables:
            if shared[name].dtype != np.float32 or shared[name].ndim != 1:
                raise ValueError(f"kernel optimlab_{self.name}: table {name!r} must be 1-D float32")
        first = tensors[0][self.inputs[0]] if tensors else None
        if any(type(t[self.inputs[0]]) is not type(first) or t[self.inputs[0]].dtype != first.dtype for t in tensors):
            raise TypeError(f"kernel optimlab_{self.name}: all tensors of one launch need the same backend and dtype")
        tensors = [t for t in tensors if t[self.inputs[0]].size]
        if not tensors:
            return
        arrays = [[t[n] for n in self._per_tensor()] for t in tensors]
        plan = self.plan(blocksize, [a[0].size for a in arrays], arrays)
        tables = [shared[n] for n in self.tables]
        scalars = [float(shared[s]) for s in self.scalars]
        if is_cupy_array(first):
            self._run_cuda(flag_values, blocksize, arrays, plan, tables, scalars)
        else:
            self._run_cpu(flag_values, blocksize, arrays, plan, tables, scalars)

    def _check_tensor(self, tensor: dict, blocksize: int, where: str) -> None:
        """Backends, shapes and dtypes of one tensor's arrays: inputs and outputs alike, uint8 codes of
        that shape, one float32 maximum per block, all on one backend; every array C-contiguous."""
        reference = tensor[self.inputs[0]]
        on_gpu = is_cupy_array(reference)
        blocks = -(-reference.size // blocksize)
        expected = {n: (reference.dtype, reference.shape) for n in (*self.inputs, *self.outputs)}
        expected.update({n: (np.dtype(np.uint8), reference.shape) for n in self.codes})
        expected.update({n: (np.dtype(np.float32), (blocks,)) for n in self.block_arrays})
        for name, (dtype, shape) in expected.items():
            array = tensor[name]
            if is_cupy_array(array) != on_gpu:
                raise backend_error(self.name, f"{name!r}{where}", array, repr(self.inputs[0]), reference)
            if array.dtype != dtype or tuple(array.shape) != tuple(shape):
                raise ValueError(f"kernel optimlab_{self.name}: array {name!r}{where} has {array.dtype}"
                                 f"{tuple(array.shape)}, expected {dtype}{tuple(shape)}")
            if not array.flags.c_contiguous:
                raise ValueError(f"kernel optimlab_{self.name}: array {name!r}{where} is not C-contiguous")

    @staticmethod
    def plan(blocksize: int, sizes: list[int], arrays: list[list]) -> np.ndarray:
        """The int64 plan a launch reads: each tensor's first global block (and the total after the
        last), each tensor's size, then the address of each tensor's array j at ``j · tensors + t``."""
        first_block = np.cumsum([0] + [-(-n // blocksize) for n in sizes])
        ordered = [a for column in zip(*arrays) for a in column]  # one backend (see _check_tensor)
        on_gpu = bool(ordered) and is_cupy_array(ordered[0])
        addresses = [a.data.ptr for a in ordered] if on_gpu else [a.ctypes.data for a in ordered]
        return np.array([*first_block, *sizes, *addresses], dtype=np.uint64).view(np.int64)

    @functools.lru_cache(maxsize=None)
    def _cpu_function(self, flag_values: tuple[bool, ...], blocksize: int, ctype: str):
        name = self.kernel_name(flag_values, blocksize)
        library = build_cpu_library(self.cpu_source(flag_values, blocksize, ctype), f"{name}_{ctype}",
                                    f"optimlab_{self.name}")
        function = getattr(library, name)
        function.argtypes = ([ctypes.c_longlong, ctypes.c_void_p] + [ctypes.c_void_p] * len(self.tables)
                             + [ctypes.c_double] * len(self.scalars))
        function.restype = None
        return function

    def _run_cpu(self, flag_values, blocksize, arrays, plan, tables, scalars) -> None:
        writable = range(len(self.inputs), len(self._per_tensor()))
        ctype = {cpu_type(self.name, tensor_arrays, writable) for tensor_arrays in arrays}.pop()
        function = self._cpu_function(flag_values, blocksize, ctype)
        function(len(arrays), plan.ctypes.data, *[a.ctypes.data for a in tables], *scalars)

    @functools.lru_cache(maxsize=None)
    def _cuda_kernel(self, flag_values: tuple[bool, ...], blocksize: int, ctype: str):
        cupy = cupy_module()
        name = self.kernel_name(flag_values, blocksize)
        return cupy.RawKernel(self.cuda_source(flag_values, blocksize, ctype), name, options=CUDA_OPTIONS)

    def _run_cuda(self, flag_values, blocksize, arrays, plan, tables, scalars) -> None:
        dtype = arrays[0][0].dtype
        if dtype not in CUDA_TYPES:
            raise TypeError(f"the GPU form of optimlab_{self.name} supports float32 and float64, got {dtype}")
        blocks = int(plan[len(arrays)])
        if blocks > MAX_GRID:
            raise ValueError(f"the GPU form of optimlab_{self.name} handles at most {MAX_GRID} blocks, "
                             f"got {blocks} blocks of {blocksize}")
        kernel = self._cuda_kernel(flag_values, blocksize, CUDA_TYPES[dtype])
        device_plan = cupy_module().asarray(plan)  # one host-to-device copy per launch
        kernel((blocks,), (cuda_threads(blocksize),),
               (np.int64(len(arrays)), device_plan, *tables, *[np.float64(s) for s in scalars]))
