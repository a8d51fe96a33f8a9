"""One kernel body, two ways to run it.

An optimizer's fused update is written once as a C++ statement list over named *elements*
(``g``, ``p``, ``m``...) and host-folded *scalars* (``lr``, ``bias_correction1``...), with the same
names as its NumPy reference. ``ElementwiseKernel`` turns that body into

* a ``cupy.ElementwiseKernel`` named ``optimlab_<name>`` when the arrays live on the GPU, and
* a C++ loop compiled by the system compiler (``g++``) and called through ``ctypes`` when they are
  NumPy arrays, so that the very same source is exercised on machines without a GPU.

Inside a body: ``T`` is the storage dtype of the arrays (float16, bfloat16 from ``ml_dtypes``, which
CuPy ≥ 14 also takes, float32 or float64), ``C`` the compute type (``double`` for float64 storage,
``float`` otherwise: 16-bit storage is updated in float32, one rounding per stored value), inputs are read-only values, outputs are references updated
in place, scalars are ``double``. Compile-time variants come from ``flags`` and are tested with
``#if FLAG``: one template per family, never a copy per variant. Use the C math functions that both
compilers overload for float and double: ``sqrt``, ``fabs``, ``fmax``, ``fmin``, ``copysign``,
``pow``, ``exp``, and ``optimlab_max`` (NaN-propagating like ``numpy.maximum``). An array that
exists only in some variants is listed in ``requires`` with the flag that switches it on (``"!FLAG"``:
the flag that switches it off). Kernels are
built once per (flags, dtype) and cached.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ml_dtypes import bfloat16

from optimlab.backend import cupy_module, is_cupy_array

PREAMBLE = """\
template <typename T> struct optimlab_compute { typedef float type; };
template <> struct optimlab_compute<double> { typedef double type; };
template <typename X> __device__ inline X optimlab_max(X a, X b) { return (a != a || a > b) ? a : b; }
#ifndef __CUDACC__
// The CPU's stand-ins for CuPy's float16 and bfloat16 classes: 16-bit storage converted exactly to
// float and rounded from float to nearest even (a NaN stays a quiet NaN), with branch-free bit
// arithmetic so that loops over them vectorise (GCC does not vectorise _Float16 conversions). No
// constructor from double: compute in C, not through a double rounding.
inline unsigned int optimlab_bits(float value) { unsigned int u; __builtin_memcpy(&u, &value, 4); return u; }
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


@dataclass(frozen=True)
class ElementwiseKernel:
    """A fused elementwise update (see the module docstring).

    ``name``: kernel name without the ``optimlab_`` prefix; ``inputs``: read-only arrays;
    ``outputs``: arrays updated in place; ``scalars``: double scalars folded on the host;
    ``flags``: names of the compile-time switches the body tests with ``#if``; ``requires``:
    ``(array, flag)`` pairs for arrays that take part only when ``flag`` is on (``"!FLAG"``: off).
    """

    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    scalars: tuple[str, ...]
    body: str
    flags: tuple[str, ...] = ()
    requires: tuple[tuple[str, str], ...] = ()

    def arrays(self, flag_values: tuple[bool, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The (inputs, outputs) that take part in the variant ``flag_values``."""
        on = {f for f, v in zip(self.flags, flag_values) if v}
        needs = dict(self.requires)
        wanted = lambda flag: flag[1:] not in on if flag.startswith("!") else flag in on  # noqa: E731
        active = lambda names: tuple(n for n in names if n not in needs or wanted(needs[n]))  # noqa: E731
        return active(self.inputs), active(self.outputs)

    def __call__(self, *, flags: dict | None = None, **values) -> None:
        """Run the update in place: ``kernel(flags={...}, g=..., p=..., lr=...)``."""
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
        reference = arrays[0]
        for name, array in zip((*inputs, *outputs), arrays):
            if array.dtype != reference.dtype or array.shape != reference.shape:
                raise ValueError(
                    f"kernel optimlab_{self.name}: array {name!r} has {array.dtype}{tuple(array.shape)}, "
                    f"expected {reference.dtype}{tuple(reference.shape)}"
                )
        if is_cupy_array(reference):
            kernel = self._cupy_kernel(flag_values)
            kernel(*arrays[: len(inputs)], *scalars, *arrays[len(inputs) :])
        else:
            self._run_cpu(flag_values, arrays, scalars, len(inputs))

    def bytes_per_element(self, flags: dict | None = None, itemsize: int = 4) -> int:
        """Memory traffic of one element in the variant ``flags``: each input read once, each output
        read and written once, ``itemsize`` bytes each (AdamW in fp32: (1 + 2·3)·4 = 28)."""
        inputs, outputs = self.arrays(tuple(bool((flags or {}).get(f, False)) for f in self.flags))
        return (len(inputs) + 2 * len(outputs)) * itemsize

    def kernel_name(self, flag_values: tuple[bool, ...]) -> str:
        on = [f.lower() for f, v in zip(self.flags, flag_values) if v]
        return "_".join(["optimlab", self.name, *on])

    def _defines(self, flag_values: tuple[bool, ...]) -> str:
        return "".join(f"#define {f} {int(v)}\n" for f, v in zip(self.flags, flag_values))

    def _body(self) -> str:
        return "typedef optimlab_compute<T>::type C;\n" + self.body

    @functools.lru_cache(maxsize=None)
    def _cupy_kernel(self, flag_values: tuple[bool, ...]):
        cupy = cupy_module()
        inputs, outputs = self.arrays(flag_values)
        in_params = ", ".join([f"T {n}" for n in inputs] + [f"float64 {s}" for s in self.scalars])
        out_params = ", ".join(f"T {n}" for n in outputs)
        return cupy.ElementwiseKernel(
            in_params,
            out_params,
            self._body(),
            name=self.kernel_name(flag_values),
            preamble=PREAMBLE + self._defines(flag_values),
        )

    def cpu_source(self, flag_values: tuple[bool, ...], ctype: str) -> str:
        """The C++ translation unit of the CPU form: a loop around the same body."""
        inputs, outputs = self.arrays(flag_values)
        args = [f"const {ctype}* {n}_ptr" for n in inputs]
        args += [f"{ctype}* {n}_ptr" for n in outputs]
        args += [f"double {s}" for s in self.scalars]
        loads = "".join(f"    const T {n} = {n}_ptr[i];\n" for n in inputs)
        loads += "".join(f"    T& {n} = {n}_ptr[i];\n" for n in outputs)
        body = "\n".join(line if line.startswith("#") else "    " + line for line in self._body().splitlines())
        return (
            "#include <cmath>\nusing namespace std;\n#define __device__\n" + PREAMBLE + self._defines(flag_values)
            + f'extern "C" void {self.kernel_name(flag_values)}(long long n, {", ".join(args)}) {{\n'
            + f"  typedef {ctype} T;\n"
            + f"  #pragma omp parallel for schedule(static) if(n >= {PARALLEL_MIN})\n"
            + "  for (long long i = 0; i < n; ++i) {\n"
            + loads + "  {\n" + body + "\n  }\n  }\n}\n"
        )

    @functools.lru_cache(maxsize=None)
    def _cpu_function(self, flag_values: tuple[bool, ...], ctype: str):
        name = self.kernel_name(flag_values)
        library = build_cpu_library(self.cpu_source(flag_values, ctype), f"{name}_{ctype}", f"optimlab_{self.name}")
        function = getattr(library, name)
        pointer = ctypes.c_void_p
        n_arrays = sum(map(len, self.arrays(flag_values)))
        function.argtypes = [ctypes.c_longlong] + [pointer] * n_arrays + [ctypes.c_double] * len(self.scalars)
        function.restype = None
        return function

    def _run_cpu(self, flag_values, arrays, scalars, n_in: int) -> None:
        dtype = arrays[0].dtype
        if dtype not in _CPU_TYPES:
            raise TypeError(f"the CPU form of optimlab_{self.name} supports float16, bfloat16, float32 and float64, "
                            f"got {dtype}")
        for index, array in enumerate(arrays):
            if not array.flags.c_contiguous:
                raise ValueError(f"the CPU form of optimlab_{self.name} needs C-contiguous arrays")
            if index >= n_in and not array.flags.writeable:
                raise ValueError(f"the CPU form of optimlab_{self.name} cannot write a read-only array")
        function = self._cpu_function(flag_values, _CPU_TYPES[dtype])
        function(arrays[0].size, *[a.ctypes.data for a in arrays], *scalars)
