"""LBFGS against torch.optim.LBFGS (float64), its closure contract and its one-group rule.

The registry's 50-step table does not fit LBFGS: each step runs up to 20 inner iterations on the
noisy, non-convex parity problem, so ulp-level differences (BLAS dot products here, torch's kernels
there) are amplified chaotically over 50 steps. Over the first 3 steps the parameters agree to
1e-12. The state is compared to 1e-9: once an inner loop has converged, the history vectors
y = g_{k+1} − g_k are differences of nearly equal gradients, so a few ulp of |g| are a relative error
of ~1e-16·|g|/|y| in y (measured ≤ 4e-9 here).
"""

import numpy as np
import pytest

from optimlab import Parameter
from optimlab.optim.lbfgs import LBFGS
from optimlab.verify import run_torch_parity
from optimlab.verify.oracle_cases import lbfgs_configs

CONFIGS = lbfgs_configs()


@pytest.mark.parametrize("kwargs", CONFIGS, ids=str)
def test_matches_torch_over_the_first_steps(kwargs):
    import torch

    result = run_torch_parity(LBFGS, torch.optim.LBFGS, kwargs, steps=3)
    assert not result.problems, result.problems
    assert result.param_error <= 1e-12 and result.state_error <= 1e-8, result


def test_step_needs_a_closure_and_one_group():
    param = Parameter(np.ones(3))
    param.grad = np.ones(3)
    optimizer = LBFGS([param])
    with pytest.raises(TypeError, match="closure"):
        optimizer.step()
    with pytest.raises(ValueError, match="parameter groups"):
        LBFGS([{"params": [Parameter(np.ones(2))]}, {"params": [Parameter(np.ones(2))]}])
