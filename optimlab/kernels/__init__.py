"""Fused elementwise update kernels: one C++ body per optimizer family, run by CuPy on the GPU
or compiled by the system C++ compiler for the CPU (see ``elementwise``)."""

from optimlab.kernels.elementwise import (
    ElementwiseKernel,
    cpu_compiler_available,
    cpu_kernels,
    fused_on_cpu,
    use_fused,
)

__all__ = ["ElementwiseKernel", "cpu_compiler_available", "cpu_kernels", "fused_on_cpu", "use_fused"]
