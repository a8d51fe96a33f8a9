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
  names now meaning the new maxima; it writes the codes.

The per-block function is one piece of source shared by both forms: the CPU form (compiled by the
system C++ compiler, as ``ElementwiseKernel``'s) runs blocks in parallel with OpenMP, the CUDA form
(``cupy.RawKernel``) runs one block per GPU thread. That GPU layout reads each thread's block
serially (uncoalesced); it is the simple form that keeps one source, not the fast one, and it has
not been timed on a GPU yet. The carried values are held in a stack array of the block size (a
compile-time constant: one build per block size, dtype and flags, cached).
"""

from __future__ import annotations

import ctypes
import functools
from dataclasses import dataclass

import numpy as np

from optimlab.backend import cupy_module, is_cupy_array
from optimlab.kernels.elementwise import _CPU_TYPES, PARALLEL_MIN, PREAMBLE, build_cpu_library

_CUDA_TYPES = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}
# No FMA contraction (as the CPU form's -ffp-contract=off); NVRTC's division and sqrt are IEEE by default.
CUDA_OPTIONS = ("--fmad=false",)


def _indent(body: str) -> str:
    return "\n".join(line if line.startswith("#") else "      " + line for line in body.strip().splitlines())


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

    def kernel_name(self, flag_values: tuple[bool, ...], blocksize: int) -> str:
        on = [f.lower() for f, v in zip(self.flags, flag_values) if v]
        return "_".join(["optimlab", self.name, *on, f"b{blocksize}"])

    def _signature(self, ctype: str) -> str:
        args = [f"const {ctype}* {n}_ptr" for n in self.inputs] + [f"{ctype}* {n}_ptr" for n in self.outputs]
        args += [f"unsigned char* {n}_ptr" for n in self.codes] + [f"float* {n}_ptr" for n in self.block_arrays]
        args += [f"const float* {n}" for n in self.tables] + [f"double {s}" for s in self.scalars]
        return ", ".join(["long long n", *args])

    def _block_function(self, flag_values: tuple[bool, ...], blocksize: int, ctype: str) -> str:
        """The per-block function both forms call: ``optimlab_block(b, n, ...)`` updates block b."""
        defines = "".join(f"#define {f} {int(v)}\n" for f, v in zip(self.flags, flag_values))
        defines += "".join(f"#define {f} {int(v)}\n" for f, v in self.fixed)
        loads = "".join(f"    const T {n} = {n}_ptr[i];\n" for n in self.inputs)
        loads += "".join(f"    T& {n} = {n}_ptr[i];\n" for n in self.outputs)
        loads += "".join(f"    unsigned char& {n} = {n}_ptr[i];\n" for n in self.codes)
        carried_arrays = "".join(f"  float {c}_block[{blocksize}];\n" for c in self.carried)
        old_scales = "".join(f"    const float {a} = {a}_ptr[b];\n" for a in self.block_arrays)
        declare = "".join(f"    float {c};\n" for c in self.carried)
        keep = "".join(
            f"    {c}_block[i - start] = {c};\n    {a}_new = optimlab_max((float)fabs({c}), {a}_new);\n"
            for c, a in zip(self.carried, self.block_arrays)
        )
        maxima = "".join(f"  float {a}_new = 0.0f;\n" for a in self.block_arrays)
        new_scales = "".join(f"    const float {a} = {a}_new;\n" for a in self.block_arrays)
        restore = "".join(f"    const float {c} = {c}_block[i - start];\n" for c in self.carried)
        write_scales = "".join(f"  {a}_ptr[b] = {a}_new;\n" for a in self.block_arrays)
        return (
            PREAMBLE + defines + f"typedef {ctype} T;\ntypedef optimlab_compute<T>::type C;\n" + self.helpers
            + f"__device__ void optimlab_block(long long b, {self._signature(ctype)}) {{\n"
            + f"  const long long start = b * {blocksize};\n"
            + f"  const long long stop = start + {blocksize} < n ? start + {blocksize} : n;\n"
            + carried_arrays + maxima
            + "  for (long long i = start; i < stop; ++i) {\n" + loads + old_scales + declare
            + "    {\n" + _indent(self.update) + "\n    }\n" + keep + "  }\n"
            + "  for (long long i = start; i < stop; ++i) {\n" + loads + new_scales + restore
            + "    {\n" + _indent(self.store) + "\n    }\n  }\n"
            + write_scales + "}\n"
        )

    def _call_names(self) -> str:
        return ", ".join(["n", *(f"{n}_ptr" for n in (*self.inputs, *self.outputs, *self.codes, *self.block_arrays)),
                          *self.tables, *self.scalars])

    def cpu_source(self, flag_values: tuple[bool, ...], blocksize: int, ctype: str) -> str:
        """The C++ translation unit of the CPU form: OpenMP over the blocks."""
        return (
            "#include <cmath>\nusing namespace std;\n#define __device__\n"
            + self._block_function(flag_values, blocksize, ctype)
            + f'extern "C" void {self.kernel_name(flag_values, blocksize)}({self._signature(ctype)}) {{\n'
            + f"  const long long blocks = (n + {blocksize} - 1) / {blocksize};\n"
            + f"  #pragma omp parallel for schedule(static) if(n >= {PARALLEL_MIN})\n"
            + f"  for (long long b = 0; b < blocks; ++b) optimlab_block(b, {self._call_names()});\n}}\n"
        )

    def cuda_source(self, flag_values: tuple[bool, ...], blocksize: int, ctype: str) -> str:
        """The CUDA translation unit of the GPU form: one GPU thread per block."""
        return (
            self._block_function(flag_values, blocksize, ctype)
            + f'extern "C" __global__ void {self.kernel_name(flag_values, blocksize)}({self._signature(ctype)}) {{\n'
            + "  const long long b = (long long)blockIdx.x * blockDim.x + threadIdx.x;\n"
            + f"  if (b < (n + {blocksize} - 1) / {blocksize}) optimlab_block(b, {self._call_names()});\n}}\n"
        )

    def __call__(self, *, blocksize: int, flags: dict | None = None, **values) -> None:
        """Run the update in place: ``kernel(blocksize=256, flags={...}, g=..., p=..., lr=...)``."""
        flags = dict(flags or {})
        unknown = set(flags) - set(self.flags)
        if unknown:
            raise ValueError(f"kernel optimlab_{self.name} has no flags {sorted(unknown)}")
        flag_values = tuple(bool(flags.get(f, False)) for f in self.flags)
        names = (*self.inputs, *self.outputs, *self.codes, *self.block_arrays, *self.tables, *self.scalars)
        missing = [n for n in names if n not in values]
        if missing:
            raise TypeError(f"kernel optimlab_{self.name} is missing arguments {missing}")
        reference = values[self.inputs[0]]
        blocks = -(-reference.size // blocksize)
        expected = {n: (reference.dtype, reference.shape) for n in (*self.inputs, *self.outputs)}
        expected.update({n: (np.dtype(np.uint8), reference.shape) for n in self.codes})
        expected.update({n: (np.dtype(np.float32), (blocks,)) for n in self.block_arrays})
        for name, (dtype, shape) in expected.items():
            array = values[name]
            if array.dtype != dtype or tuple(array.shape) != tuple(shape):
                raise ValueError(f"kernel optimlab_{self.name}: array {name!r} has {array.dtype}{tuple(array.shape)}, "
                                 f"expected {dtype}{tuple(shape)}")
        for name in self.tables:
            if values[name].dtype != np.float32 or values[name].ndim != 1:
                raise ValueError(f"kernel optimlab_{self.name}: table {name!r} must be 1-D float32")
        arrays = [values[n] for n in names[: len(names) - len(self.scalars)]]
        scalars = [float(values[s]) for s in self.scalars]
        if is_cupy_array(reference):
            self._run_cuda(flag_values, blocksize, arrays, scalars, reference.size)
        else:
            self._run_cpu(flag_values, blocksize, arrays, scalars, reference.size)

    @functools.lru_cache(maxsize=None)
    def _cpu_function(self, flag_values: tuple[bool, ...], blocksize: int, ctype: str):
        name = self.kernel_name(flag_values, blocksize)
        library = build_cpu_library(self.cpu_source(flag_values, blocksize, ctype), f"{name}_{ctype}",
                                    f"optimlab_{self.name}")
        function = getattr(library, name)
        n_arrays = len(self.inputs) + len(self.outputs) + len(self.codes) + len(self.block_arrays) + len(self.tables)
        function.argtypes = [ctypes.c_longlong] + [ctypes.c_void_p] * n_arrays + [ctypes.c_double] * len(self.scalars)
        function.restype = None
        return function

    def _run_cpu(self, flag_values, blocksize, arrays, scalars, n) -> None:
        dtype = arrays[0].dtype
        if dtype not in _CPU_TYPES:
            raise TypeError(f"the CPU form of optimlab_{self.name} supports float16, float32 and float64, got {dtype}")
        read_only = len(self.inputs)
        for index, array in enumerate(arrays):
            if not array.flags.c_contiguous:
                raise ValueError(f"the CPU form of optimlab_{self.name} needs C-contiguous arrays")
            if read_only <= index < len(arrays) - len(self.tables) and not array.flags.writeable:
                raise ValueError(f"the CPU form of optimlab_{self.name} cannot write a read-only array")
        function = self._cpu_function(flag_values, blocksize, _CPU_TYPES[dtype])
        function(n, *[a.ctypes.data for a in arrays], *scalars)

    @functools.lru_cache(maxsize=None)
    def _cuda_kernel(self, flag_values: tuple[bool, ...], blocksize: int, ctype: str):
        cupy = cupy_module()
        name = self.kernel_name(flag_values, blocksize)
        return cupy.RawKernel(self.cuda_source(flag_values, blocksize, ctype), name, options=CUDA_OPTIONS)

    def _run_cuda(self, flag_values, blocksize, arrays, scalars, n) -> None:
        dtype = arrays[0].dtype
        if dtype not in _CUDA_TYPES:
            raise TypeError(f"the GPU form of optimlab_{self.name} supports float32 and float64, got {dtype}")
        threads = 128
        blocks = -(-n // blocksize)
        kernel = self._cuda_kernel(flag_values, blocksize, _CUDA_TYPES[dtype])
        kernel((-(-blocks // threads),), (threads,), (np.int64(n), *arrays, *[np.float64(s) for s in scalars]))
