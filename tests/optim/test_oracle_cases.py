"""Every optimizer beyond torch.optim against its oracle (``optimlab.verify.oracle_cases``): Lion vs
lion-pytorch, LAMB vs torch-optimizer and optax, LARS vs optax, Lookahead vs torch-optimizer and
optax, Schedule-Free SGD/AdamW vs schedulefree (Reference classes and memory-saving classes), with
parameters and every state entry compared after each of 50 steps; and every kernel body they use,
compiled for the CPU, against the NumPy reference.

Tolerances: float64 parity 1e-12 relative (the same formula in a different operation order: a few
ulp per step over 50 steps; measured ≤ 1e-13). A different convention (bias correction, slow-weight
start) shows at 1e-3 or more, which the last tests check. Kernel parity: 1e-12 (float64), 1e-5
(float32), as for the torch twins.
"""

import numpy as np
import pytest

import optimlab.optim as optim
from optimlab.kernels import cpu_compiler_available
from optimlab.optim.lamb import LAMB
from optimlab.optim.lookahead import Lookahead
from optimlab.optim.sgd import SGD
from optimlab.verify import run_kernel_parity
from optimlab.verify.oracle_cases import oracle_cases
from optimlab.verify.side_by_side import SIDE_BY_SIDE
from optimlab.verify.torch_cases import TORCH_TWINS

CASES = oracle_cases()


def test_every_class_has_an_oracle():
    """Every exported optimizer has a torch twin or cases here (some both: Adam and NAdam's optax
    conventions; LBFGS, which torch's 50-step table does not fit, is here over 3 steps)."""
    exported = {name for name in optim.__all__ if hasattr(getattr(optim, name), "step")} - {"Optimizer"}
    names = {case.name for case in CASES}
    assert names | set(TORCH_TWINS) == exported
    assert names - set(TORCH_TWINS) == exported - set(TORCH_TWINS)
    assert {(c.name, c.oracle) for c in CASES} >= {("LAMB", "torch-optimizer"), ("LAMB", "optax"),
                                                   ("Lookahead", "torch-optimizer"), ("Lookahead", "optax")}


@pytest.mark.parametrize("case", CASES, ids=str)
def test_float64_parity_with_oracle(case):
    result = case.run(steps=50)
    assert not result.problems, result.problems
    assert result.param_error <= case.tolerance and result.state_error <= case.tolerance, result


@pytest.mark.skipif(not cpu_compiler_available(), reason="needs a C++ compiler (g++)")
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("case", [case for case in CASES if case.name not in SIDE_BY_SIDE], ids=str)
def test_kernel_matches_reference(case, dtype):
    result = run_kernel_parity(case.ours, case.config, steps=50, dtype=dtype)
    assert not result.problems, result.problems
    assert result.error <= (1e-12 if dtype == np.float64 else 1e-5), result


def _case(name, oracle, **match):
    return next(c for c in CASES if c.name == name and c.oracle == oracle
                and all(c.config.get(k) == v for k, v in match.items()))


def test_lamb_conventions_are_distinct():
    """optax's bias-corrected moments against torch-optimizer's Lamb (and back) fail: the flag matters.
    (The trust ratio normalises the step, so the parameters part by ~1e-6 in 10 steps; the stored
    norms and ratios by O(1).)"""
    torch_optimizer_case = _case("LAMB", "torch-optimizer", bias_correction="none", clamp_value=10.0)
    wrong = {**torch_optimizer_case.config, "bias_correction": "moments"}
    result = torch_optimizer_case.check(wrong, steps=10, dtype=np.float64, seed=0, build=LAMB)
    assert result.param_error > 1e-9 and result.error > 1e-3
    optax_case = _case("LAMB", "optax", lr=0.01)
    wrong = {**optax_case.config, "bias_correction": "step_size"}
    assert optax_case.check(wrong, steps=10, dtype=np.float64, seed=0, build=LAMB).param_error > 1e-3


def test_lookahead_slow_start_conventions_are_distinct():
    case = _case("Lookahead", "optax", k=3)
    wrong = {**case.config, "slow_start": "first_step"}
    result = case.check(wrong, steps=10, dtype=np.float64, seed=0,
                        build=lambda params, *, inner, inner_kwargs, **kw: Lookahead(SGD(params, **inner_kwargs), **kw))
    assert result.error > 1e-3


def test_schedule_free_forms_are_not_interchangeable_with_the_wrong_oracle():
    """The simple form's state (z, x, y) against the memory-saving oracle's (z): a key mismatch."""
    case = _case("SGDScheduleFree", "schedulefree", memory_saving=False, lr=0.1, momentum=None)
    wrong = {**case.config, "memory_saving": True}
    assert case.check(wrong, steps=3, dtype=np.float64, seed=0, build=case.build).problems
