"""Bad inputs the reliability table does not cover: rules that span several hyperparameters,
constructor-only arguments, a schedule's value, and gradients of the wrong shape or dtype.

Every single hyperparameter's invalid values, in every place a value can be set, and malformed
parameter lists are in the table (``optimlab.testing.table``) and checked for every optimizer by
``tests/reliability/test_reliability_bad_inputs.py``."""

import numpy as np
import pytest

import optimlab.optim as optim
from optimlab import Parameter
from optimlab.testing.invalid import BOOL


def _param():
    return Parameter(np.ones((2, 3)))


@pytest.mark.parametrize("kwargs", [{"nesterov": True}, {"nesterov": True, "momentum": 0.9, "dampening": 0.1}])
def test_nesterov_needs_momentum_without_dampening(kwargs):
    with pytest.raises(ValueError, match="nesterov"):
        optim.SGD([_param()], **kwargs)


def test_schedule_lr_is_checked_when_used():
    p = _param()
    optimizer = optim.SGD([p], lr=lambda step: 0.1 if step == 0 else -1.0)
    p.grad = np.ones((2, 3))
    optimizer.step()
    with pytest.raises(ValueError, match="lr"):
        optimizer.step()


def test_gradient_of_wrong_shape_or_dtype():
    p = Parameter(np.ones((2, 3)), name="w")
    with pytest.raises(ValueError, match="'w'.*shape"):
        p.grad = np.ones(3)
    with pytest.raises(TypeError, match="dtype"):
        p.grad = np.ones((2, 3), dtype=np.float32)


def test_named_variant_arguments_that_span_several_values():
    """AMSGrad's maximum placement needs AMSGrad; optax's factoring threshold needs Adafactor's optax
    convention; NAdam's Nesterov-Adam form has no momentum schedule;
    Lion's fully decoupled decay divides by the initial lr (a constructor argument, as
    lion-pytorch's), so that lr must be positive."""
    with pytest.raises(ValueError, match="amsgrad_max: 'corrected'"):
        optim.Adam([_param()], amsgrad_max="corrected")
    with pytest.raises(ValueError, match="min_dim_size_to_factor: 2"):
        optim.Adafactor([_param()], min_dim_size_to_factor=2)
    with pytest.raises(ValueError, match="momentum_decay: 0.1"):
        optim.NAdam([_param()], form="nesterov_adam", momentum_decay=0.1)
    with pytest.raises(ValueError, match="lr: 0.0"):
        optim.Lion([_param()], lr=0.0, decoupled_weight_decay=True)
    for value, exc in BOOL:
        with pytest.raises(exc, match="decoupled_weight_decay"):
            optim.Lion([_param()], decoupled_weight_decay=value)
