"""Bad inputs over the whole table: every invalid value of every hyperparameter of every optimizer,
set in the constructor, a per-group dict, ``add_param_group``, a later assignment and a loaded state
dict, raises the table's ``ValueError``/``TypeError`` with a message naming the hyperparameter and
the value, and a rejected change leaves the optimizer as it was; malformed parameter lists too."""

import numpy as np
import pytest

from optimlab import Parameter
from optimlab.testing import TABLE
from optimlab.testing.checks import bad_input_cases, check_bad_input, check_structural, structural_cases


def _by(cases, key):
    """Cases grouped (one test per group keeps the item count, and pytest's overhead, small)."""
    groups = {}
    for case in cases:
        groups.setdefault(key(case), []).append(case)
    return groups


def _failures(check, cases) -> list[str]:
    failures = []
    for case in cases:
        try:
            check(case)
        except AssertionError as error:
            failures.append(str(error))
    return failures


BAD = _by(bad_input_cases(), lambda case: f"{case.name}.{case.key}")
STRUCTURAL = _by(structural_cases(), lambda case: case.name)


@pytest.mark.parametrize("hyperparameter", BAD)
def test_bad_values_are_rejected_with_name_and_value(hyperparameter):
    assert _failures(check_bad_input, BAD[hyperparameter]) == []


@pytest.mark.parametrize("name", STRUCTURAL)
def test_malformed_parameter_lists_are_rejected(name):
    assert _failures(check_structural, STRUCTURAL[name]) == []


@pytest.mark.parametrize("info", [info for info in TABLE if not info.wrapper], ids=lambda info: info.name)
def test_a_generator_of_parameters_is_accepted_like_a_list(info):
    params = [Parameter(np.ones(info.shapes[0])) for _ in range(2)]
    optimizer = info.build(p for p in params)
    assert optimizer.param_groups[0]["params"] == params


def test_the_message_check_is_not_vacuous():
    """A good value is accepted, so the check fails; a message without the value fails it too."""
    from optimlab.testing.checks import BadInput, names_key_and_value

    with pytest.raises(AssertionError, match="accepted"):
        check_bad_input(BadInput("SGD", "lr", 0.1, ValueError, "constructor"))
    assert not names_key_and_value("Invalid lr", "lr", -1.0)
    assert names_key_and_value("Invalid betas[1]: 1.0 (must be ...)", "betas", (0.9, 1.0))
    assert not names_key_and_value("Invalid betas[0]: 1.0", "betas", (0.9, 1.0))

