"""Bad hyperparameters and bad parameter lists: each raises ValueError/TypeError whose message names
the parameter and the value, in the constructor, in per-group dicts, in ``add_param_group`` and when a
group entry is assigned later."""

import math

import numpy as np
import pytest

import optimlab.optim as optim
from optimlab import Parameter

NAN, INF = math.nan, math.inf

# class name -> {hyperparameter: [(bad value, exception)]}
NUMERIC = [(-1.0, ValueError), (NAN, ValueError), (INF, ValueError), (-INF, ValueError), ("0.1", TypeError),
           (None, TypeError), (True, TypeError)]
UNIT = NUMERIC + [(1.5, ValueError)]
BOOL = [("yes", TypeError), (1, TypeError), (None, TypeError)]
BETAS = [((0.9,), TypeError), (0.9, TypeError), ((1.0, 0.999), ValueError), ((0.9, 1.0), ValueError),
         ((-0.1, 0.999), ValueError), ((NAN, 0.999), ValueError), ((0.9, INF), ValueError), (("a", 0.9), TypeError)]
ETAS = [((0.5,), TypeError), (0.5, TypeError), ((1.0, 1.2), ValueError), ((0.5, 1.0), ValueError), ((0.0, 1.2), ValueError),
        ((NAN, 1.2), ValueError), ((0.5, INF), ValueError), (("a", 1.2), TypeError)]
STEP_SIZES = [((1e-6,), TypeError), ((-1.0, 50), ValueError), ((1.0, 0.5), ValueError), ((0.0, INF), ValueError),
              ((NAN, 1.0), ValueError), ((0.0, "1"), TypeError)]

BAD = {
    "SGD": {"lr": NUMERIC, "momentum": UNIT, "dampening": UNIT, "weight_decay": NUMERIC,
            "nesterov": BOOL, "maximize": BOOL},
    "Adam": {"lr": NUMERIC, "betas": BETAS, "eps": NUMERIC, "weight_decay": NUMERIC, "amsgrad": BOOL,
             "maximize": BOOL, "decoupled_weight_decay": BOOL, "eps_root": NUMERIC,
             "amsgrad_max": [("optax", ValueError), (None, ValueError)]},
    "AdamW": {"lr": NUMERIC, "betas": BETAS, "eps": NUMERIC, "weight_decay": NUMERIC, "amsgrad": BOOL,
              "maximize": BOOL, "eps_root": NUMERIC, "amsgrad_max": [("optax", ValueError), (None, ValueError)]},
    "Adagrad": {"lr": NUMERIC, "lr_decay": NUMERIC, "weight_decay": NUMERIC, "initial_accumulator_value": NUMERIC,
                "eps": NUMERIC, "maximize": BOOL},
    "RMSprop": {"lr": NUMERIC, "alpha": UNIT, "eps": NUMERIC, "weight_decay": NUMERIC, "momentum": UNIT,
                "centered": BOOL, "maximize": BOOL},
    "Adadelta": {"lr": NUMERIC, "rho": UNIT, "eps": NUMERIC, "weight_decay": NUMERIC, "maximize": BOOL},
    "Adamax": {"lr": NUMERIC, "betas": BETAS, "eps": NUMERIC, "weight_decay": NUMERIC, "maximize": BOOL},
    "NAdam": {"lr": NUMERIC, "betas": BETAS, "eps": NUMERIC, "weight_decay": NUMERIC, "momentum_decay": NUMERIC,
              "decoupled_weight_decay": BOOL, "maximize": BOOL, "form": [("optax", ValueError), (None, ValueError)]},
    "RAdam": {"lr": NUMERIC, "betas": BETAS, "eps": NUMERIC, "weight_decay": NUMERIC, "decoupled_weight_decay": BOOL,
              "maximize": BOOL},
    "ASGD": {"lr": NUMERIC, "lambd": NUMERIC, "alpha": NUMERIC, "t0": NUMERIC, "weight_decay": NUMERIC,
             "maximize": BOOL},
    "Rprop": {"lr": NUMERIC, "etas": ETAS, "step_sizes": STEP_SIZES, "maximize": BOOL},
}

# beyond torch.optim: Lion, LAMB/LARS, Schedule-Free (Lookahead wraps an optimizer: tests/optim/test_lookahead.py)
OPEN_UNIT = NUMERIC + [(0.0, ValueError), (1.0, ValueError)]
OPTIONAL_NUMERIC = [(value, exc) for value, exc in NUMERIC if value is not None]
COUNT = [(-1, ValueError), (2.5, TypeError), (None, TypeError), (True, TypeError)]
BAD.update({
    "Lion": {"lr": NUMERIC, "betas": BETAS, "weight_decay": NUMERIC},
    "LAMB": {"lr": NUMERIC, "betas": BETAS, "eps": NUMERIC, "eps_root": NUMERIC, "weight_decay": NUMERIC,
             "bias_correction": [("debias", ValueError), (True, ValueError)], "clamp_value": OPTIONAL_NUMERIC},
    "LARS": {"lr": NUMERIC, "momentum": UNIT, "weight_decay": NUMERIC, "trust_coefficient": NUMERIC, "eps": NUMERIC,
             "nesterov": BOOL, "trust_ratio": BOOL},
    "SGDScheduleFree": {"lr": NUMERIC, "momentum": OPEN_UNIT, "weight_decay": NUMERIC, "warmup_steps": COUNT,
                        "r": NUMERIC, "weight_lr_power": NUMERIC},
    "AdamWScheduleFree": {"lr": NUMERIC, "betas": BETAS, "eps": NUMERIC, "weight_decay": NUMERIC,
                          "warmup_steps": COUNT, "r": NUMERIC, "weight_lr_power": NUMERIC, "decay_at_z": BOOL},
})

CASES = [(name, key, value, exc) for name, table in BAD.items() for key, bad in table.items() for value, exc in bad]


def _param():
    return Parameter(np.ones((2, 3)))


def _check_message(excinfo, key, value):
    message = str(excinfo.value)
    assert key.split("[")[0] in message, message
    if not isinstance(value, tuple):
        assert repr(value) in message or str(value) in message, message


@pytest.mark.parametrize("name,key,value,exc", CASES, ids=lambda v: repr(v))
def test_constructor_rejects(name, key, value, exc):
    with pytest.raises(exc) as excinfo:
        getattr(optim, name)([_param()], **{key: value})
    _check_message(excinfo, key, value)


@pytest.mark.parametrize("name,key,value,exc", CASES, ids=lambda v: repr(v))
def test_param_group_dict_rejects(name, key, value, exc):
    with pytest.raises(exc) as excinfo:
        getattr(optim, name)([{"params": [_param()]}, {"params": [_param()], key: value}])
    _check_message(excinfo, key, value)


@pytest.mark.parametrize("name,key,value,exc", CASES, ids=lambda v: repr(v))
def test_add_param_group_rejects(name, key, value, exc):
    optimizer = getattr(optim, name)([_param()])
    with pytest.raises(exc) as excinfo:
        optimizer.add_param_group({"params": [_param()], key: value})
    _check_message(excinfo, key, value)
    assert len(optimizer.param_groups) == 1


@pytest.mark.parametrize("name,key,value,exc", CASES, ids=lambda v: repr(v))
def test_group_assignment_rejects(name, key, value, exc):
    optimizer = getattr(optim, name)([_param()])
    before = dict(optimizer.param_groups[0])
    with pytest.raises(exc) as excinfo:
        optimizer.param_groups[0][key] = value
    _check_message(excinfo, key, value)
    assert dict(optimizer.param_groups[0]) == before


@pytest.mark.parametrize("kwargs", [{"nesterov": True}, {"nesterov": True, "momentum": 0.9, "dampening": 0.1}])
def test_nesterov_needs_momentum_without_dampening(kwargs):
    with pytest.raises(ValueError, match="nesterov"):
        optim.SGD([_param()], **kwargs)


STRUCTURAL = [
    ([], ValueError, "empty"),
    (np.ones(3), TypeError, "array"),
    (Parameter(np.ones(3)), TypeError, "Parameter"),
    ({Parameter(np.ones(3))}, TypeError, "set"),
    ("params", TypeError, "str"),
    ([np.ones(3)], TypeError, "ndarray"),
    ([{"params": []}], ValueError, "no parameters"),
    ([{"lr": 0.1}], ValueError, "'params'"),
    ([{"params": [Parameter(np.ones(3))]}, Parameter(np.ones(3))], TypeError, "mixes"),
]


@pytest.mark.parametrize("params,exc,fragment", STRUCTURAL, ids=[c[2] for c in STRUCTURAL])
def test_bad_parameter_lists(params, exc, fragment):
    with pytest.raises(exc, match=fragment):
        optim.SGD(params, lr=0.1)


def test_generator_is_accepted():
    params = [_param(), _param()]
    optimizer = optim.Adam(p for p in params)
    assert optimizer.param_groups[0]["params"] == params


def test_duplicates_within_and_across_groups():
    p = _param()
    with pytest.raises(ValueError, match="more than once"):
        optim.SGD([p, p], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    optimizer = optim.SGD([p], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optimizer.add_param_group({"params": [p]})


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
    """AMSGrad's maximum placement needs AMSGrad; NAdam's Nesterov-Adam form has no momentum schedule;
    Lion's fully decoupled decay divides by the initial lr (a constructor argument, as
    lion-pytorch's), so that lr must be positive."""
    with pytest.raises(ValueError, match="amsgrad_max: 'corrected'"):
        optim.Adam([_param()], amsgrad_max="corrected")
    with pytest.raises(ValueError, match="momentum_decay: 0.1"):
        optim.NAdam([_param()], form="nesterov_adam", momentum_decay=0.1)
    with pytest.raises(ValueError, match="lr: 0.0"):
        optim.Lion([_param()], lr=0.0, decoupled_weight_decay=True)
    for value, exc in BOOL:
        with pytest.raises(exc, match="decoupled_weight_decay"):
            optim.Lion([_param()], decoupled_weight_decay=value)
