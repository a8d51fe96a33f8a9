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
elementwise body over many tensors in one launch. A caller that launches over the same arrays every
step (an optimizer) keeps a ``PlanCache``: the tensors it has seen are not checked again, and an
unchanged plan is not rebuilt nor copied to the GPU again.
"""

from __future__ import annotations

import ctypes
import functools
import itertools
import operator
import weakref
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
        if not self.outputs:
            raise ValueError(f"kernel optimlab_{self.name}: an update needs an output (its first is the reference)")

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

    def per_tensor(self) -> tuple[str, ...]:
        """The names of the arrays each tensor brings, in the order ``many`` takes them (the tables
        and scalars are shared)."""
        return (*self.inputs, *self.outputs, *self.codes, *self.block_arrays)

    def _launch_signature(self, ctype: str) -> str:
        """The launch's arguments: the number of tensors, the plan (see ``plan``), the shared ones."""
        shared = self._arguments(ctype)[len(self.per_tensor()):]
        return ", ".join(["long long tensors", "const long long* plan", *(declaration for declaration, _ in shared)])

    def _tensor_of_block(self, ctype: str, block: str, indent: str) -> str:
        """Statements finding, from the plan, the tensor ``t`` that global block ``block`` belongs to,
        its block ``b`` within it, its size ``n`` and its array pointers (the names ``_arguments`` uses)."""
        lines = ["const long long* first_block = plan;",
                 "const long long t = optimlab_tensor_of(" + block + ", first_block, tensors);",
                 f"const long long b = {block} - first_block[t], n = plan[tensors + 1 + t];"]
        for j, (declaration, _) in enumerate(self._arguments(ctype)[: len(self.per_tensor())]):
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
        missing = [n for n in self.per_tensor() if n not in values]
        if missing:
            raise TypeError(f"kernel optimlab_{self.name} is missing arguments {missing}")
        tensor = [values.pop(n) for n in self.per_tensor()]
        self.many(blocksize=blocksize, flags=flags, tensors=[tensor], **values)

    def many(self, *, blocksize: int, flags: dict | None = None, tensors: list, plans: PlanCache | None = None,
             **shared) -> None:
        """Update several tensors in one launch: ``tensors`` holds each one's arrays in the order of
        ``per_tensor()`` (same dtype and backend), ``shared`` the tables and scalars by name. The same
        per-block code runs as for each tensor alone, so the results are those of one call per
        tensor. ``plans``: the caller's ``PlanCache`` for launches over the same arrays (see there):
        then only the arrays that are new since its last launch are checked."""
        flags = dict(flags or {})
        unknown = set(flags) - set(self.flags)
        if unknown:
            raise ValueError(f"kernel optimlab_{self.name} has no flags {sorted(unknown)}")
        flag_values = tuple(bool(flags.get(f, False)) for f in self.flags)
        missing = [n for n in (*self.tables, *self.scalars) if n not in shared]
        if missing:
            raise TypeError(f"kernel optimlab_{self.name} is missing arguments {missing}")
        width, reference = len(self.per_tensor()), len(self.inputs)
        for index, arrays in enumerate(tensors):
            if len(arrays) != width:
                raise TypeError(f"kernel optimlab_{self.name}: tensor {index} has {len(arrays)} arrays, "
                                f"expected {width}: {', '.join(self.per_tensor())}")
        plans = PlanCache() if plans is None else plans
        changed = plans.changed(blocksize, tensors)
        for index, positions in self._to_check(len(tensors), changed):
            self._check_tensor(tensors[index], blocksize, "" if len(tensors) == 1 else f" of tensor {index}", positions)
        for name in self.tables:
            if shared[name].dtype != np.float32 or shared[name].ndim != 1:
                raise ValueError(f"kernel optimlab_{self.name}: table {name!r} must be 1-D float32")
        first = tensors[0][reference] if tensors else None
        if changed is None or any(i % width == reference for i in changed):  # else as in the last launch
            if any(type(a[reference]) is not type(first) or a[reference].dtype != first.dtype for a in tensors):
                raise TypeError(f"kernel optimlab_{self.name}: all tensors of one launch need the same backend and dtype")
        plans.record(blocksize, tensors, reference, changed)
        if plans.plan is None:  # no tensor has elements
            return
        tables = [shared[n] for n in self.tables]
        scalars = [float(shared[s]) for s in self.scalars]
        arrays = [a for a in tensors if a[reference].size]
        if is_cupy_array(first):
            self._run_cuda(flag_values, blocksize, arrays, plans, tables, scalars)
        else:
            self._run_cpu(flag_values, blocksize, arrays, plans.plan, tables, scalars)

    def _to_check(self, count: int, changed: list[int] | None):
        """(tensor, positions of its arrays to check, None for all) of each tensor a launch must
        check: all when the plan cache has nothing to go by, else those with new arrays; a tensor
        whose reference array (the first output) is new is checked whole."""
        if changed is None:
            return [(index, None) for index in range(count)]
        width, reference = len(self.per_tensor()), len(self.inputs)
        grouped = itertools.groupby(changed, key=lambda position: position // width)
        checks = [(index, [p % width for p in positions]) for index, positions in grouped]
        return [(index, None if reference in positions else positions) for index, positions in checks]

    def _check_tensor(self, arrays, blocksize: int, where: str, positions: list[int] | None = None) -> None:
        """Backends, shapes and dtypes of one tensor's arrays (in ``per_tensor()`` order, those at
        ``positions`` or all), against its reference, the first output: inputs and outputs of its
        dtype and shape, uint8 codes of its shape, one float32 maximum per block, all on one backend;
        every array C-contiguous."""
        names, index = self.per_tensor(), len(self.inputs)
        reference = arrays[index]
        like, codes = len(self.inputs) + len(self.outputs), len(self.inputs) + len(self.outputs) + len(self.codes)
        for position in range(len(names)) if positions is None else positions:
            name, array = names[position], arrays[position]
            if type(array) is not type(reference) and is_cupy_array(array) != is_cupy_array(reference):
                raise backend_error(self.name, f"{name!r}{where}", array, repr(names[index]), reference)
            if position < like:
                dtype, shape = reference.dtype, reference.shape
            elif position < codes:
                dtype, shape = _UINT8, reference.shape
            else:
                dtype, shape = _FLOAT32, (-(-reference.size // blocksize),)
            if array.dtype != dtype or tuple(array.shape) != tuple(shape):
                raise ValueError(f"kernel optimlab_{self.name}: array {name!r}{where} has {array.dtype}"
                                 f"{tuple(array.shape)}, expected {dtype}{tuple(shape)}")
            if not array.flags.c_contiguous:
                raise ValueError(f"kernel optimlab_{self.name}: array {name!r}{where} is not C-contiguous")

    @staticmethod
    def plan(blocksize: int, sizes: list[int], arrays: list[list]) -> np.ndarray:
        """The int64 plan a launch reads: each tensor's first global block (and the total after the
        last), each tensor's size, then the address of each tensor's array j at ``j · tensors + t``."""
        return _plan(blocksize, sizes, [address for column in zip(*map(addresses, arrays)) for address in column])

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
        writable = range(len(self.inputs), len(self.per_tensor()))
        ctype = {cpu_type(self.name, tensor_arrays, writable) for tensor_arrays in arrays}.pop()
        function = self._cpu_function(flag_values, blocksize, ctype)
        function(len(arrays), plan.ctypes.data, *[a.ctypes.data for a in tables], *scalars)

    @functools.lru_cache(maxsize=None)
    def _cuda_kernel(self, flag_values: tuple[bool, ...], blocksize: int, ctype: str):
        cupy = cupy_module()
        name = self.kernel_name(flag_values, blocksize)
        return cupy.RawKernel(self.cuda_source(flag_values, blocksize, ctype), name, options=CUDA_OPTIONS)

    def _run_cuda(self, flag_values, blocksize, arrays, plans: PlanCache, tables, scalars) -> None:
        dtype = arrays[0][0].dtype
        if dtype not in CUDA_TYPES:
            raise TypeError(f"the GPU form of optimlab_{self.name} supports float32 and float64, got {dtype}")
        blocks = int(plans.plan[len(arrays)])
        if blocks > MAX_GRID:
            raise ValueError(f"the GPU form of optimlab_{self.name} handles at most {MAX_GRID} blocks, "
                             f"got {blocks} blocks of {blocksize}")
        kernel = self._cuda_kernel(flag_values, blocksize, CUDA_TYPES[dtype])
        if plans.device_plan is None:  # one host-to-device copy per plan, not per launch
            plans.device_plan = cupy_module().asarray(plans.plan)
        kernel((blocks,), (cuda_threads(blocksize),),
               (np.int64(len(arrays)), plans.device_plan, *tables, *[np.float64(s) for s in scalars]))


def addresses(arrays) -> list[int]:
    """The data addresses of arrays on one backend (GPU or host)."""
    if arrays and is_cupy_array(arrays[0]):
        return [a.data.ptr for a in arrays]
    return [a.ctypes.data for a in arrays]


def _plan(blocksize: int, sizes: list[int], ordered: list[int]) -> np.ndarray:
    """``BlockwiseKernel.plan`` from the sizes and the addresses in the plan's order."""
    first_block = itertools.accumulate((-(-n // blocksize) for n in sizes), initial=0)
    return np.array([*first_block, *sizes, *ordered], dtype=np.uint64).view(np.int64)


class PlanCache:
    """What a launch checked and read, kept by a caller that launches over the same arrays again
    (``BlockwiseKernel.many(plans=...)``): an optimizer's parameters and states are the same arrays
    every step, and its gradients too when they are written in place.

    For every array of the last launch it keeps a weak reference (it keeps no array alive), its
    dtype and its address. An array that is the very object of last time, with the same dtype, is
    not checked again: an array object's memory and size are fixed for its life (NumPy refuses to
    ``resize`` an array that has a weak reference, and CuPy has no in-place resize), but NumPy lets a
    dtype be reassigned, so dtypes are compared; the CPU form still checks contiguity and
    writability at each launch (``cpu_type``). A new array is checked against its tensor's
    reference and only its address is read; when no array is new, the plan and its GPU copy are
    reused as they are. Without it, GPT-2's 148 tensors cost about a millisecond of Python per
    launch, more than an 8-bit step's GPU time. A copy or a pickle of the cache starts empty."""

    def __init__(self):
        self.blocksize: int | None = None
        self.width = 0  # arrays per tensor
        self.references: list = []  # every array of the launch, tensor by tensor: a weak reference,
        self.dtypes: list = []  # its dtype
        self.addresses: list[int] = []  # and its address
        self.sizes: list[int] = []  # per tensor, its number of elements
        self.plan: np.ndarray | None = None  # over the tensors with elements; None when there are none
        self.device_plan = None  # the plan's GPU copy, made by the first GPU launch that reads it

    def __reduce__(self):
        return PlanCache, ()

    def changed(self, blocksize: int, tensors: list) -> list[int] | None:
        """The positions (tensor · width + array) of the arrays that are not the objects, with the
        dtypes, of the last launch, in order (compared in C loops); None when the launch has another
        layout (block size, number of tensors or arrays per tensor)."""
        if (blocksize != self.blocksize or len(tensors) * self.width != len(self.references)
                or any(len(arrays) != self.width for arrays in tensors[:1])):
            return None
        arrays = list(itertools.chain.from_iterable(tensors))
        same = map(operator.and_, map(operator.is_, map(weakref.ref.__call__, self.references), arrays),
                   map(operator.is_, map(_DTYPE, arrays), self.dtypes))
        return list(itertools.compress(itertools.count(), map(operator.not_, same)))

    def record(self, blocksize: int, tensors: list, reference: int, changed: list[int] | None) -> None:
        """Keep a checked launch's arrays (all of them, or the ``changed`` ones) and rebuild the plan
        unless no array changed. ``reference``: the position of the array whose size is the tensor's."""
        if changed == [] and self.plan is not None:
            return
        arrays = list(itertools.chain.from_iterable(tensors))
        on_gpu = bool(arrays) and is_cupy_array(arrays[0])
        if changed is None:
            self.blocksize, self.width = blocksize, len(tensors[0]) if tensors else 0
            self.references, self.dtypes = list(map(weakref.ref, arrays)), list(map(_DTYPE, arrays))
            self.addresses = addresses(arrays)
        else:
            for position in changed:
                array = arrays[position]
                self.references[position], self.dtypes[position] = weakref.ref(array), array.dtype
                self.addresses[position] = array.data.ptr if on_gpu else array.ctypes.data
        self.sizes = [arrays[reference].size for arrays in tensors]
        filled = [index for index, size in enumerate(self.sizes) if size]
        if not filled:
            self.plan = None
        elif len(filled) == len(tensors):
            ordered = itertools.chain.from_iterable(self.addresses[j :: self.width] for j in range(self.width))
            self.plan = _plan(blocksize, self.sizes, list(ordered))
        else:
            ordered = [self.addresses[t * self.width + j] for j in range(self.width) for t in filled]
            self.plan = _plan(blocksize, [self.sizes[t] for t in filled], ordered)
        self.device_plan = None


_DTYPE = operator.attrgetter("dtype")
_UINT8, _FLOAT32 = np.dtype(np.uint8), np.dtype(np.float32)
