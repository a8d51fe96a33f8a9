"""One kernel body, two ways to run it.

An optimizer's fused update is written once as a C++ statement list over named *elements*
(``g``, ``p``, ``m``...) and host-folded *scalars* (``lr``, ``bias_correction1``...), with the same
names as its NumPy reference. ``ElementwiseKernel`` turns that body into

* a ``cupy.ElementwiseKernel`` named ``optimlab_<name>`` when the arrays live on the GPU, and
* a C++ loop compiled by the system compiler (``g++``) and called through ``ctypes`` when they are
  NumPy arrays, so that the very same source is exercised on machines without a GPU.

Inside a body: ``T`` is the storage dtype of the arrays (float16, bfloat16 from ``ml_dtypes``, which
CuPy ≥ 14 also takes, float32 or float64), ``C`` the compute type (``double`` for float64 storage,
``float`` otherwise: 16-bit storage is updated in float32, one rounding per stored value), inputs are
read-only values, outputs are references updated in place, scalars are ``double``. Compile-time
variants come from ``flags`` and are tested with ``#if FLAG``: one template per family, never a copy
per variant. Use the C math functions that both compilers overload for float and double: ``sqrt``,
``fabs``, ``fmax``, ``fmin``, ``copysign``, ``pow``, ``exp``, and ``optimlab_max``/``optimlab_min``
(NaN-propagating like ``numpy.maximum``/``minimum``, where ``fmax``/``fmin`` drop a NaN). An array
that exists only in some variants is listed in ``requires`` with the flag that switches it on
(``"!FLAG"``: the flag that switches it off).

An input may have any shape that *broadcasts* to the outputs' (NumPy's rules: Adafactor's row and
column statistics, ``(..., n, 1)`` and ``(..., 1, m)`` against ``(..., n, m)``); the outputs all have
that shape. CuPy broadcasts by itself. The CPU form compiles a second loop for each broadcast pattern:
the outputs' axes of size 1 dropped and neighbours merged where possible, it runs over tiles of at
most ``BROADCAST_TILE`` elements of one row, and reads a broadcast input at its row's offset (from
its element strides, 0 along broadcast axes), plus the column when it varies along the last axis;
the loop for inputs of the outputs' shape is unchanged. ``ReductionKernel`` sums a per-element term
in double: its body, written like an update's over inputs only, ends with ``return <term>;`` and
becomes the function ``optimlab_term``, which a ``cupy.ReductionKernel`` or a CPU loop with an
OpenMP ``reduction(+:total)`` calls. Kernels are built once per (flags, dtype, broadcast pattern)
and cached.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import hashlib
import math
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
from ml_dtypes import bfloat16

from optimlab.backend import cupy_module, is_cupy_array

PREAMBLE = """\
template <typename T> struct optimlab_compute { typedef float type; };
template <> struct optimlab_compute<double> { typedef double type; };
// | rather than ||: no branch, so that loops under `omp simd` (the sums) vectorise
template <typename X> __device__ inline X optimlab_max(X a, X b) { return ((a != a) | (a > b)) ? a : b; }
template <typename X> __device__ inline X optimlab_min(X a, X b) { return ((a != a) | (a < b)) ? a : b; }
#ifdef __CUDACC__
__device__ inline unsigned int optimlab_bits(float value) { return __float_as_uint(value); }
#else
inline unsigned int optimlab_bits(float value) { unsigned int u; __builtin_memcpy(&u, &value, 4); return u; }
// The CPU's stand-ins for CuPy's float16 and bfloat16 classes: 16-bit storage converted exactly to
// float and rounded from float to nearest even (a NaN stays a quiet NaN), with branch-free bit
// arithmetic so that loops over them vectorise (GCC does not vectorise _Float16 conversions). No
// constructor from double: compute in C, not through a double rounding.
inline float optimlab_float(unsigned int u) { float value; __builtin_memcpy(&value, &u, 4); return value; }
struct bfloat16 {  // the high half of a float
  unsigned short bits;
  bfloat16() = default;
  bfloat16(float value) {
    const unsigned int u = optimlab_bits(value);
    const unsigned int nan = 0u - (unsigned int)((u & 0x7fffffffu) > 0x7f800000u);  // all ones for a NaN
    bits = (unsigned short)((((u >> 16) | 0x40u) & nan) | (((u + 0x7fffu + ((u >> 16) & 1u)) >> 16) & ~nan));
  }
  bfloat16(double) = delete;
  operator float() const { return optimlab_float((unsigned int)bits << 16); }
};
struct float16 {  // IEEE binary16: 5 exponent bits (bias 15), 10 fraction bits (after F. Giesen's conversions)
  unsigned short bits;
  float16() = default;
  float16(float value) {
    const unsigned int u = optimlab_bits(value), x = u & 0x7fffffffu;
    // |v| < 2^-14: adding 0.5f aligns the bits to binary16's subnormal spacing, rounding as the FPU does
    const unsigned int subnormal = optimlab_bits(optimlab_float(x) + 0.5f) - 0x3f000000u;
    // normal: rebias the exponent (127 → 15) and round the 13 dropped bits to nearest even
    const unsigned int normal = (x + 0xc8000fffu + ((x >> 13) & 1u)) >> 13;
    const unsigned int large = x > 0x7f800000u ? 0x7e00u : 0x7c00u;  // NaN, or overflow to infinity
    bits = (unsigned short)(((u >> 16) & 0x8000u) | (x >= 0x47800000u ? large : x < 0x38800000u ? subnormal : normal));
  }
  float16(double) = delete;
  operator float() const {
    const unsigned int h = bits, shifted = (h & 0x7fffu) << 13, exponent = shifted & 0x0f800000u;
    const unsigned int normal = shifted + 0x38000000u;  // rebias the exponent (15 → 127)
    const unsigned int special = shifted + 0x70000000u;  // infinity or NaN: exponent all ones
    const unsigned int subnormal = optimlab_bits(optimlab_float(shifted + 0x38800000u) - optimlab_float(0x38800000u));
    return optimlab_float(((h & 0x8000u) << 16)
                          | (exponent == 0x0f800000u ? special : exponent == 0 ? subnormal : normal));
  }
};
#endif
"""

# The gradient as torch's optimizers read it, shared by the kernels whose decay is L2: negated under
# the MAXIMIZE flag, plus λθ (scalar ``weight_decay``, output ``p``).
GRAD_PROLOGUE = """\
C grad = MAXIMIZE ? -(C)g : (C)g;
if (weight_decay != 0) grad += (C)weight_decay * (C)p;
"""

_CPU_TYPES = {np.dtype(np.float16): "float16", np.dtype(bfloat16): "bfloat16", np.dtype(np.float32): "float",
              np.dtype(np.float64): "double"}
# -ffp-contract=off: no fused multiply-adds, so the CPU form rounds like the NumPy reference.
# -fno-math-errno: sqrt need not set errno, so the loop vectorises (3x faster measured; sqrt stays
# correctly rounded, results unchanged).
# --param max-unswitch-insns: version whole loop bodies on loop-invariant tests such as
# ``if (weight_decay != 0)``, or the 16-bit forms' larger bodies are not vectorised (5x slower measured).
CPU_FLAGS = ("-O3", "-march=native", "-ffp-contract=off", "-fno-math-errno", "--param", "max-unswitch-insns=1000",
             "-fopenmp", "-fPIC", "-shared", "-std=c++14")
PARALLEL_MIN = 1 << 16  # below this many elements, threads cost more than they save
BROADCAST_TILE = 1 << 12  # elements of one row a thread takes at a time when inputs are broadcast


_fused_on_cpu = False


def fused_on_cpu() -> bool:
    """Whether optimizers run their fused kernels (compiled C++) on NumPy arrays too."""
    return _fused_on_cpu


@contextlib.contextmanager
def cpu_kernels(enabled: bool = True):
    """Within this block, optimizers on NumPy arrays use the compiled CPU form of their kernels."""
    global _fused_on_cpu
    previous, _fused_on_cpu = _fused_on_cpu, bool(enabled)
    try:
        yield
    finally:
        _fused_on_cpu = previous


def use_fused(param) -> bool:
    """The one place that chooses between the reference and the kernel: the kernel for GPU arrays
    (and for CPU arrays inside ``cpu_kernels()``), the NumPy reference otherwise."""
    return is_cupy_array(param) or _fused_on_cpu


def cpu_compiler_available() -> bool:
    """True when a C++ compiler is on the PATH to build the CPU form of the kernels."""
    return shutil.which(os.environ.get("CXX", "g++")) is not None


def _cache_dir() -> Path:
    root = os.environ.get("OPTIMLAB_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "optimlab"
    )
    path = Path(root) / "kernels"
    path.mkdir(parents=True, exist_ok=True)
    return path


def build_cpu_library(source: str, stem: str, what: str) -> ctypes.CDLL:
    """Compile a C++ translation unit with the system compiler (``CPU_FLAGS``) into a shared library,
    cached by the hash of source, flags and compiler, and load it. ``what`` names the kernel in errors."""
    compiler = os.environ.get("CXX", "g++")
    if shutil.which(compiler) is None:
        raise RuntimeError(f"the CPU form of {what} needs a C++ compiler ({compiler!r} not found)")
    digest = hashlib.sha256((source + " ".join(CPU_FLAGS) + compiler).encode()).hexdigest()[:16]
    library = _cache_dir() / f"{stem}_{digest}.so"
    if not library.exists():
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "kernel.cpp"
            src.write_text(source)
            built = Path(tmp) / "kernel.so"
            result = subprocess.run([compiler, *CPU_FLAGS, str(src), "-o", str(built)], capture_output=True, text=True)
            if result.returncode != 0:
                raise RuntimeError(f"compiling {what} for the CPU failed:\n{result.stderr}\n--- source ---\n{source}")
            os.replace(built, library)
    return ctypes.CDLL(str(library))


def _broadcast_loop(shape: tuple[int, ...], inputs) -> tuple[list[int], list[list[int]]]:
    """The loop over ``shape`` for the broadcast ``inputs`` (C-contiguous): its axes of size 1
    dropped and neighbouring axes merged where every input is contiguous across them, and each
    input's element strides along those axes (0 where it is broadcast)."""
    dims: list[int] = []
    strides: list[list[int]] = [[] for _ in inputs]
    padded = [(1,) * (len(shape) - a.ndim) + tuple(a.shape) for a in inputs]
    for axis, size in enumerate(shape):
        if size == 1:
            continue
        here = [0 if s[axis] == 1 else math.prod(s[axis + 1 :]) for s in padded]
        if dims and all(st[-1] == h * size for st, h in zip(strides, here)):
            dims[-1] *= size
            for st, h in zip(strides, here):
                st[-1] = h
        else:
            dims.append(size)
            for st, h in zip(strides, here):
                st.append(h)
    return dims, strides


class _Kernel:
    """What elementwise and reduction kernels share: variants, argument checks, the CPU loop."""

    def arrays(self, flag_values: tuple[bool, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The (inputs, outputs) that take part in the variant ``flag_values``."""
        on = {f for f, v in zip(self.flags, flag_values) if v}
        needs = dict(self.requires)
        wanted = lambda flag: flag[1:] not in on if flag.startswith("!") else flag in on  # noqa: E731
        active = lambda names: tuple(n for n in names if n not in needs or wanted(needs[n]))  # noqa: E731
        return active(self.inputs), active(self.outputs)

    def kernel_name(self, flag_values: tuple[bool, ...]) -> str:
        on = [f.lower() for f, v in zip(self.flags, flag_values) if v]
        return "_".join(["optimlab", self.name, *on])

    def _defines(self, flag_values: tuple[bool, ...]) -> str:
        return "".join(f"#define {f} {int(v)}\n" for f, v in zip(self.flags, flag_values))

    def _arguments(self, flags: dict | None, values: dict):
        """Check a call's flags and arrays; return the variant, the number of inputs, the arrays (inputs
        first), the scalars and the shape of the loop (the outputs'; without outputs, the inputs'
        broadcast)."""
        flags = dict(flags or {})
        unknown = set(flags) - set(self.flags)
        if unknown:
            raise ValueError(f"kernel optimlab_{self.name} has no flags {sorted(unknown)}")
        flag_values = tuple(bool(flags.get(f, False)) for f in self.flags)
        inputs, outputs = self.arrays(flag_values)
        missing = [n for n in (*inputs, *outputs, *self.scalars) if n not in values]
        if missing:
            raise TypeError(f"kernel optimlab_{self.name} is missing arguments {missing}")
        arrays = [values[n] for n in (*inputs, *outputs)]
        scalars = [float(values[s]) for s in self.scalars]
        reference = arrays[len(inputs)] if outputs else arrays[0]
        shape = tuple(reference.shape)
        if not outputs:
            with contextlib.suppress(ValueError):  # a non-broadcastable input is named below
                shape = np.broadcast_shapes(*(a.shape for a in arrays))
        on_gpu = is_cupy_array(arrays[0])
        for index, (name, array) in enumerate(zip((*inputs, *outputs), arrays)):
            if is_cupy_array(array) != on_gpu:
                raise backend_error(self.name, repr(name), array, repr((*inputs, *outputs)[0]), arrays[0])
            fits = tuple(array.shape) == shape or (index < len(inputs) and _broadcasts(array.shape, shape))
            if array.dtype != reference.dtype or not fits:
                expected = f"{reference.dtype}{shape}"
                if index < len(inputs):
                    expected += " or a shape that broadcasts to it"
                raise ValueError(f"kernel optimlab_{self.name}: array {name!r} has {array.dtype}{tuple(array.shape)}, "
                                 f"expected {expected}")
        return flag_values, len(inputs), arrays, scalars, shape

    def _cpu_loop(self, flag_values, ctype: str, steps: tuple, statement: str, sums: bool = False) -> str:
        """A C++ function looping ``statement`` over the elements, with each array's element loaded
        under its name (outputs as references). ``steps``, per input: ``None`` when it has every
        element, else 0 or 1, how far it advances along the loop's last axis (broadcast inputs are
        read at ``offset[k]`` of their row, from the ``shape`` and ``strides`` arguments). With
        ``sums``, the function returns the double ``total`` the statement adds to, over the threads."""
        inputs, outputs = self.arrays(flag_values)
        broadcast = [n for n, step in zip(inputs, steps) if step is not None]
        index = {n: "i" if step is None else f"offset[{broadcast.index(n)}]" + (" + j" if step else "")
                 for n, step in zip(inputs, steps)}
        args = ["long long n"]
        args += ["int ndim", "const long long* shape", "const long long* strides"] if broadcast else []
        args += [f"const {ctype}* {n}_ptr" for n in inputs] + [f"{ctype}* {n}_ptr" for n in outputs]
        args += [f"double {s}" for s in self.scalars]
        loads = "".join(f"    const T {n} = {n}_ptr[{index[n]}];\n" for n in inputs)
        loads += "".join(f"    T& {n} = {n}_ptr[i];\n" for n in outputs)
        # a sum in double is vectorised only where OpenMP may reorder it: ``simd`` on the loop over elements
        reduction = " reduction(+:total)" if sums else ""
        simd = " simd" if sums else ""
        parallel = f"schedule(static){reduction} if(n >= {PARALLEL_MIN})\n"
        if not broadcast:
            loop = f"  #pragma omp parallel for{simd} {parallel}  for (long long i = 0; i < n; ++i) {{\n"
        else:  # tiles of up to BROADCAST_TILE elements of one row; each finds its row's offsets first
            tile, k = BROADCAST_TILE, len(broadcast)
            loop = (
                f"  const long long inner = shape[ndim - 1], tiles = (inner + {tile - 1}) / {tile};\n"
                f"  #pragma omp parallel for {parallel}"
                "  for (long long tile = 0; tile < n / inner * tiles; ++tile) {\n"
                f"    const long long row = tile / tiles, start = tile % tiles * {tile};\n"
                f"    const long long stop = start + {tile} < inner ? start + {tile} : inner;\n"
                f"    long long offset[{k}] = {{0}};\n"
                "    for (long long rest = row, axis = ndim - 2; axis >= 0; rest /= shape[axis], --axis)\n"
                f"      for (int k = 0; k < {k}; ++k) offset[k] += rest % shape[axis] * strides[k * ndim + axis];\n"
                + (f"    #pragma omp{simd}{reduction}\n" if sums else "")
                + "    for (long long j = start; j < stop; ++j) {\n    const long long i = row * inner + j;\n"
            )
        return (
            f'extern "C" {"double" if sums else "void"} {self._cpu_name(flag_values, steps)}({", ".join(args)}) {{\n'
            + f"  typedef {ctype} T;\n" + ("  double total = 0;\n" if sums else "")
            + loop + loads + statement + ("  }\n  }\n" if broadcast else "  }\n")
            + ("  return total;\n" if sums else "") + "}\n"
        )

    def _cpu_header(self, flag_values: tuple[bool, ...]) -> str:
        return "#include <cmath>\nusing namespace std;\n#define __device__\n" + PREAMBLE + self._defines(flag_values)

    def _cpu_name(self, flag_values, steps: tuple) -> str:
        """The CPU function's name: a variant with broadcast inputs is a function of its own, named by
        each input's step (``x`` every element, ``0``/``1`` broadcast)."""
        if all(step is None for step in steps):
            return self.kernel_name(flag_values)
        return self.kernel_name(flag_values) + "_broadcast_" + "".join("x" if s is None else str(s) for s in steps)

    @functools.lru_cache(maxsize=None)
    def _cpu_function(self, flag_values: tuple[bool, ...], ctype: str, steps: tuple):
        name = self._cpu_name(flag_values, steps)
        source = self.cpu_source(flag_values, ctype, steps)
        library = build_cpu_library(source, f"{name}_{ctype}", f"optimlab_{self.name}")
        function = getattr(library, name)
        pointer = ctypes.c_void_p
        n_arrays = sum(map(len, self.arrays(flag_values)))
        broadcast = [ctypes.c_int, pointer, pointer] if any(step is not None for step in steps) else []
        function.argtypes = ([ctypes.c_longlong] + broadcast + [pointer] * n_arrays
                             + [ctypes.c_double] * len(self.scalars))
        function.restype = ctypes.c_double if not self.outputs else None
        return function

    def _run_cpu(self, flag_values, arrays, scalars, n_in: int, shape: tuple[int, ...]):
        ctype = cpu_type(self.name, arrays, range(n_in, len(arrays)))
        n = math.prod(shape)
        if n == 0:
            return 0.0
        broadcast = [a for a in arrays[:n_in] if a.size != n]
        dims, strides = _broadcast_loop(shape, broadcast)
        step = iter(s[-1] for s in strides)
        steps = tuple(None if a.size == n else next(step) for a in arrays[:n_in])
        function = self._cpu_function(flag_values, ctype, steps)
        layout = []
        if broadcast:
            dims, strides = np.array(dims, np.int64), np.array(strides, np.int64)
            layout = [len(dims), dims.ctypes.data, strides.ctypes.data]
        return function(n, *layout, *[a.ctypes.data for a in arrays], *scalars)


def cpu_type(name: str, arrays, writable) -> str:
    """The C++ storage type of ``arrays`` for the CPU form of kernel ``name``, after checking that
    they are C-contiguous and that those at the indices ``writable`` can be written."""
    dtype = arrays[0].dtype
    if dtype not in _CPU_TYPES:
        raise TypeError(f"the CPU form of optimlab_{name} supports float16, bfloat16, float32 and float64, got {dtype}")
    for index, array in enumerate(arrays):
        if not array.flags.c_contiguous:
            raise ValueError(f"the CPU form of optimlab_{name} needs C-contiguous arrays")
        if index in writable and not array.flags.writeable:
            raise ValueError(f"the CPU form of optimlab_{name} cannot write a read-only array")
    return _CPU_TYPES[dtype]


def backend_error(kernel: str, label: str, array, reference_label: str, reference) -> TypeError:
    """The error for ``array`` living on another backend than ``reference`` (checked before a launch:
    a host address in a GPU launch, or the reverse, would fault or fail deep inside, not explain)."""
    def side(a):
        return "GPU" if is_cupy_array(a) else "CPU"
    return TypeError(f"kernel optimlab_{kernel}: array {label} is on the {side(array)}, array {reference_label} "
                     f"on the {side(reference)}: one backend per launch")


def indent_body(body: str, spaces: int) -> str:
    """``body`` indented by ``spaces``, its preprocessor lines left at the margin."""
    return "\n".join(line if line.startswith("#") else " " * spaces + line for line in body.splitlines())


def _broadcasts(shape, target) -> bool:
    """Whether ``shape`` broadcasts to ``target`` (NumPy's rules, ``target`` unchanged)."""
    return len(shape) <= len(target) and all(s in (1, t) for s, t in zip(shape[::-1], target[::-1]))


@dataclass(frozen=True)
class ElementwiseKernel(_Kernel):
    """A fused elementwise update (see the module docstring).

    ``name``: kernel name without the ``optimlab_`` prefix; ``inputs``: read-only arrays (each of the
    outputs' shape or broadcasting to it); ``outputs``: arrays updated in place; ``scalars``: double
    scalars folded on the host; ``flags``: names of the compile-time switches the body tests with
    ``#if``; ``requires``: ``(array, flag)`` pairs for arrays that take part only when ``flag`` is on
    (``"!FLAG"``: off).
    """

    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    scalars: tuple[str, ...]
    body: str
    flags: tuple[str, ...] = ()
    requires: tuple[tuple[str, str], ...] = ()

    def __call__(self, *, flags: dict | None = None, **values) -> None:
        """Run the update in place: ``kernel(flags={...}, g=..., p=..., lr=...)``."""
        flag_values, n_in, arrays, scalars, shape = self._arguments(flags, values)
        if is_cupy_array(arrays[0]):
            self._cupy_kernel(flag_values)(*arrays[:n_in], *scalars, *arrays[n_in:])
        else:
            self._run_cpu(flag_values, arrays, scalars, n_in, shape)

    def bytes_per_element(self, flags: dict | None = None, itemsize: int = 4) -> int:
        """Memory traffic of one element in the variant ``flags``: each input read once, each output
        read and written once, ``itemsize`` bytes each (AdamW in fp32: (1 + 2·3)·4 = 28). A broadcast
        input is counted in full: an upper bound (Adafactor's factors cost (n + m)/nm of that)."""
        inputs, outputs = self.arrays(tuple(bool((flags or {}).get(f, False)) for f in self.flags))
        return (len(inputs) + 2 * len(outputs)) * itemsize

    def _body(self) -> str:
        return "typedef optimlab_compute<T>::type C;\n" + self.body

    @functools.lru_cache(maxsize=None)
    def _cupy_kernel(self, flag_values: tuple[bool, ...]):
        cupy = cupy_module()
        inputs, outputs = self.arrays(flag_values)
        in_params = ", ".join([f"T {n}" for n in inputs] + [f"float64 {s}" for s in self.scalars])
        out_params = ", ".join(f"T {n}" for n in outputs)
        return cupy.ElementwiseKernel(  # broadcasts its inputs itself
            in_params,
            out_params,
            self._body(),
            name=self.kernel_name(flag_values),
            preamble=PREAMBLE + self._defines(flag_values),
        )

    def cpu_source(self, flag_values: tuple[bool, ...], ctype: str, steps: tuple | None = None) -> str:
        """The C++ translation unit of the CPU form: a loop around the same body (``steps``: see
        ``_cpu_loop``; default: every input of the outputs' shape)."""
        steps = steps or (None,) * len(self.arrays(flag_values)[0])
        return self._cpu_header(flag_values) + self._cpu_loop(flag_values, ctype, steps,
                                                              "  {\n" + indent_body(self._body(), 4) + "\n  }\n")


@dataclass(frozen=True)
class ReductionKernel(_Kernel):
    """The sum over the elements of a per-element term, in double (see the module docstring).

    ``body``: a statement list like an ``ElementwiseKernel``'s, over ``inputs`` (which broadcast to
    one shape) and ``scalars``, ending with ``return <term>;``; ``flags`` and ``requires`` as there.
    """

    name: str
    inputs: tuple[str, ...]
    scalars: tuple[str, ...]
    body: str
    flags: tuple[str, ...] = ()
    requires: tuple[tuple[str, str], ...] = ()
    outputs: ClassVar[tuple[str, ...]] = ()

    def __call__(self, *, flags: dict | None = None, **values) -> float:
        """The sum: ``kernel(flags={...}, g=..., eps=...)``."""
        flag_values, n_in, arrays, scalars, shape = self._arguments(flags, values)
        if is_cupy_array(arrays[0]):
            return float(self._cupy_kernel(flag_values)(*arrays, *scalars))
        return self._run_cpu(flag_values, arrays, scalars, n_in, shape)

    def term_source(self, flag_values: tuple[bool, ...]) -> str:
        """The body as the function ``optimlab_term`` of one element, which both forms call."""
        params = [f"const T {n}" for n in self.arrays(flag_values)[0]] + [f"double {s}" for s in self.scalars]
        return (f"template <typename T> __device__ inline double optimlab_term({', '.join(params)}) {{\n"
                "  typedef typename optimlab_compute<T>::type C;\n" + indent_body(self.body, 2) + "\n}\n")

    def _call_term(self, flag_values: tuple[bool, ...]) -> str:
        return f"optimlab_term({', '.join((*self.arrays(flag_values)[0], *self.scalars))})"

    @functools.lru_cache(maxsize=None)
    def _cupy_kernel(self, flag_values: tuple[bool, ...]):
        cupy = cupy_module()
        inputs, _ = self.arrays(flag_values)
        return cupy.ReductionKernel(  # broadcasts its inputs itself
            ", ".join([f"T {n}" for n in inputs] + [f"float64 {s}" for s in self.scalars]),
            "float64 total",
            self._call_term(flag_values),
            "a + b",
            "total = a",
            "0",
            name=self.kernel_name(flag_values),
            reduce_type="double",
            preamble=PREAMBLE + self._defines(flag_values) + self.term_source(flag_values),
        )

    def cpu_source(self, flag_values: tuple[bool, ...], ctype: str, steps: tuple | None = None) -> str:
        """The C++ translation unit of the CPU form: ``optimlab_term`` summed by an OpenMP reduction."""
        steps = steps or (None,) * len(self.arrays(flag_values)[0])
        add = f"    total += {self._call_term(flag_values)};\n"
        return self._cpu_header(flag_values) + self.term_source(flag_values) + self._cpu_loop(
            flag_values, ctype, steps, add, sums=True)
