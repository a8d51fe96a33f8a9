"""Fused update kernels: one C++ body per optimizer family, run by CuPy on the GPU or compiled by
the system C++ compiler for the CPU (see ``elementwise``; ``blockwise`` for updates that need a
per-block maximum, such as 8-bit blockwise quantisation; ``ReductionKernel`` for a sum over the elements)."""

from optimlab.kernels.blockwise import BlockwiseKernel
from optimlab.kernels.elementwise import (
    GRAD_PROLOGUE,
    ElementwiseKernel,
    ReductionKernel,
    cpu_compiler_available,
    cpu_kernels,
    fused_on_cpu,
    use_fused,
)

__all__ = ["GRAD_PROLOGUE", "BlockwiseKernel", "ElementwiseKernel", "ReductionKernel", "cpu_compiler_available",
           "cpu_kernels", "fused_on_cpu", "use_fused"]
