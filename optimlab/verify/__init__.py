"""Oracle harness: run the same trajectory here and in an independent implementation, compare
parameters and every state tensor after every step."""

from optimlab.verify.parity import (
    ParityResult,
    TrajectoryProblem,
    relative_error,
    run_kernel_parity,
    run_torch_parity,
)

__all__ = ["ParityResult", "TrajectoryProblem", "relative_error", "run_kernel_parity", "run_torch_parity"]
