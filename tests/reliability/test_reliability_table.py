"""The table covers every optimizer: a new optimizer exported without an entry fails here, and so
does a new hyperparameter without invalid values."""

import numpy as np

import optimlab.optim as optim
from optimlab.testing import OPTIMIZERS, TABLE
from optimlab.testing.runs import run, setup

BASE_CLASSES = {"Optimizer", "ParamGroup"}


def test_every_exported_optimizer_has_one_entry():
    exported = set(optim.__all__) - BASE_CLASSES
    assert sorted(exported - set(OPTIMIZERS)) == [], "optimizers without an entry in optimlab.testing.table"
    assert sorted(set(OPTIMIZERS) - exported) == [], "entries for names optimlab.optim does not export"
    assert len(TABLE) == len(OPTIMIZERS)


def test_every_hyperparameter_has_invalid_values():
    for info in TABLE:
        if not info.wrapper:
            assert set(info.invalid) == set(info.hyperparameters), info.name
        assert all(info.invalid.values()), info.name


def test_every_entry_has_configurations_that_run():
    for info in TABLE:
        for config in [info.base, *info.configs()]:
            problem, params, optimizer = setup(info, config)
            run(optimizer, problem, params, 1)
            assert all(np.isfinite(p.data).all() for p in params), (info.name, config)


def test_capabilities_match_the_classes():
    assert OPTIMIZERS["SGD"].maximize and not OPTIMIZERS["Lion"].maximize
    assert OPTIMIZERS["Adam"].kernel and not OPTIMIZERS["LBFGS"].kernel
    assert OPTIMIZERS["LBFGS"].closure_required and OPTIMIZERS["Muon"].matrix_only and OPTIMIZERS["Lookahead"].wrapper
    assert not OPTIMIZERS["Rprop"].weight_decay and OPTIMIZERS["AdamW"].weight_decay
