"""Every optimizer with a torch twin, in every configuration of torch's own test database plus ours,
against ``torch.optim`` step by step: parameters and every state entry after each of 50 steps.

Tolerances: float64, 1e-12 relative (a few ulp per step accumulated over 50 steps; a different
formula, e.g. a misplaced ε or bias correction, shows up at 1e-3 or more). float32: torch's own default
float32 tolerance for ``assert_close`` (rtol 1.3e-6) is per element; the norm-wise error here is
checked against 1e-5, the level the issue and the GPU parity use for float32.
"""

import numpy as np
import pytest

from optimlab.verify import run_torch_parity
from optimlab.verify.torch_cases import torch_cases

CASES = torch_cases()


@pytest.mark.parametrize("case", CASES, ids=str)
def test_float64_parity_every_step(case):
    result = run_torch_parity(case.ours, case.theirs, case.config, steps=50, dtype=np.float64, shapes=case.shapes)
    assert not result.problems, result.problems
    assert result.param_error <= 1e-12 and result.state_error <= 1e-12, result


@pytest.mark.parametrize("case", CASES, ids=str)
def test_float32_parity(case):
    result = run_torch_parity(case.ours, case.theirs, case.config, steps=50, dtype=np.float32, shapes=case.shapes)
    assert not result.problems, result.problems
    assert result.error <= 1e-5, result


def test_parity_detects_a_wrong_formula():
    """The harness itself: an Adam whose bias correction is off by one step must fail it."""
    import torch

    from optimlab.optim import Adam

    class ShiftedAdam(Adam):
        def _update(self, param, grad, state, group):
            state["step"] += 1  # bias correction computed one step late
            super()._update(param, grad, state, group)
            state["step"] -= 1

    result = run_torch_parity(ShiftedAdam, torch.optim.Adam, {"lr": 0.01}, steps=5)
    assert result.param_error > 1e-3
