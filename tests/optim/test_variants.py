"""The named-variant registry (``optimlab.optim.variants``): every convention is checked against the
library that defines it, through the very case ``optimlab verify`` prints, and is told apart from
its competitor.

Per entry: (1) its ``example`` is one of ``optimlab verify``'s cases for its ``oracle``, and that case
passes: float64 parity of parameters and every state entry over 50 steps, at the case's tolerance
(1e-12 relative: same formula, different operation order; Shampoo 1e-8, SVD vs eigendecomposition,
see ``optimlab.verify.side_by_side``); (2) the selecting arguments are what our optimizer runs;
(3) switching to the ``contrast`` arguments moves the 50-step trajectory by more than 1000 times
the case's parity tolerance, so the check in (1) can only pass with the right convention; (4) where the optimizer has a fused kernel, the kernel compiled for the CPU matches
the reference under this convention (1e-12, as tests/optim/test_kernels_cpu.py).
"""

import inspect
import sys

import numpy as np
import pytest

import optimlab.optim as optim
from optimlab import Parameter
from optimlab.kernels import ElementwiseKernel, cpu_compiler_available
from optimlab.optim.variants import VARIANT_NAMES, VARIANTS
from optimlab.verify import run_kernel_parity, run_torch_parity
from optimlab.verify.oracle_cases import oracle_cases
from optimlab.verify.parity import TrajectoryProblem, relative_error
from optimlab.verify.torch_cases import torch_cases

BY_NAME = {variant.name: variant for variant in VARIANTS}


def _case(variant):
    """The ``optimlab verify`` case that checks this variant's example against its oracle."""
    if variant.oracle == "torch":
        cases = [case for case in torch_cases([variant.optimizer]) if case.config == variant.example]
    else:
        cases = [case for case in oracle_cases([variant.optimizer])
                 if case.oracle == variant.oracle and case.config == variant.example]
    assert len(cases) == 1, f"{variant.name}: no optimlab verify case {variant.example} against {variant.oracle}"
    return cases[0]


def _final_params(case, config, steps=50):
    problem = TrajectoryProblem(0, case.shapes)
    params = [Parameter(x.copy()) for x in problem.initial]
    optimizer = case.ours(params, **config)
    for step in range(steps):
        for param, grad in zip(params, problem.grads([p.data for p in params], step)):
            param.grad = grad
        optimizer.step()
    return [p.data for p in params]


def test_registry_has_at_least_eight_conventions_with_unique_names():
    assert len(VARIANTS) >= 8
    assert len(set(VARIANT_NAMES)) == len(VARIANTS)
    assert all(variant.description and variant.library for variant in VARIANTS)


@pytest.mark.parametrize("name", VARIANT_NAMES)
def test_matches_the_library_that_uses_it(name):
    variant = BY_NAME[name]
    case = _case(variant)
    if variant.oracle == "torch":
        result, tolerance = run_torch_parity(case.ours, case.theirs, case.config, shapes=case.shapes), 1e-12
    else:
        result, tolerance = case.run(), case.tolerance
    assert result.ok(tolerance), result


@pytest.mark.parametrize("name", VARIANT_NAMES)
def test_the_selector_is_what_runs(name):
    variant = BY_NAME[name]
    cls = getattr(optim, variant.optimizer)
    defaults = {key: p.default for key, p in inspect.signature(cls).parameters.items() if p.default is not p.empty}
    effective = {**defaults, **variant.example}
    assert {key: effective.get(key) for key in variant.selector} == variant.selector


@pytest.mark.parametrize("name", [v.name for v in VARIANTS if v.contrast])
def test_the_competing_convention_differs(name):
    variant = BY_NAME[name]
    case = _case(variant)
    ours = _final_params(case, variant.config)
    theirs = _final_params(case, {**variant.config, **variant.contrast})
    tolerance = 1e-12 if variant.oracle == "torch" else case.tolerance
    assert max(relative_error(a, b) for a, b in zip(ours, theirs)) > 1000 * tolerance


def _has_kernel(optimizer) -> bool:
    """Whether the optimizer's module defines a fused kernel (as ``TorchCase.has_kernel``): elementwise
    updates and those whose reductions run on the host before one kernel pass (Adafactor, LAMB, Muon)."""
    return any(isinstance(value, ElementwiseKernel) for value in vars(sys.modules[optimizer.__module__]).values())


KERNEL_VARIANTS = [v.name for v in VARIANTS if _has_kernel(getattr(optim, v.optimizer))]


@pytest.mark.skipif(not cpu_compiler_available(), reason="needs a C++ compiler (g++)")
@pytest.mark.parametrize("name", KERNEL_VARIANTS)
def test_kernel_matches_reference(name):
    variant = BY_NAME[name]
    case = _case(variant)
    result = run_kernel_parity(getattr(optim, variant.optimizer), variant.config, steps=50, dtype=np.float64,
                               shapes=case.shapes)
    assert not result.problems and result.error <= 1e-12, result
