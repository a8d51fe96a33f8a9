"""Non-finite gradients over the whole table: after two ordinary steps, a NaN, +inf or −inf in one
gradient entry. With the skip option (``step_if_finite``, with the closure for LBFGS) nothing
changes: parameters, ``state_dict()`` and the step counter are bit-identical. Without it, the
outcome is the one the table documents for that optimizer (``OptimizerInfo.nonfinite``)."""

import pytest

from optimlab.testing import OPTIMIZERS
from optimlab.testing.checks import check_skip, nonfinite_cases, nonfinite_outcome

CASES = nonfinite_cases()


@pytest.mark.parametrize("name,kind", CASES)
def test_skip_option_changes_nothing(name, kind):
    check_skip(name, kind)


@pytest.mark.parametrize("name,kind", CASES)
def test_unguarded_step_does_what_the_table_documents(name, kind):
    assert nonfinite_outcome(name, kind) == OPTIMIZERS[name].nonfinite[kind]
