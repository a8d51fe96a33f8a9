"""Functional forms of every optimizer, as ``torch.optim`` exports ``adamw`` beside ``AdamW``.

Each ``name(param, grad, state, **hyperparameters)`` updates ``param`` and ``state`` in place,
choosing the fused kernel for GPU arrays and the NumPy reference otherwise; ``name_update`` is the
reference and ``name_fused`` the kernel, callable directly.
"""

from optimlab.optim.adadelta import adadelta, adadelta_fused, adadelta_init, adadelta_update
from optimlab.optim.adagrad import adagrad, adagrad_fused, adagrad_init, adagrad_update
from optimlab.optim.adafactor import adafactor, adafactor_init, adafactor_update
from optimlab.optim.adam import adam, adam_fused, adam_init, adam_update, adamw
from optimlab.optim.adamax import adamax, adamax_fused, adamax_init, adamax_update
from optimlab.optim.asgd import asgd, asgd_fused, asgd_init, asgd_update
from optimlab.optim.lbfgs import cubic_interpolate, lbfgs_direction, strong_wolfe
from optimlab.optim.muon import muon, muon_fused, muon_init, muon_update, newton_schulz
from optimlab.optim.nadam import nadam, nadam_fused, nadam_init, nadam_update
from optimlab.optim.radam import radam, radam_fused, radam_init, radam_update
from optimlab.optim.rmsprop import rmsprop, rmsprop_fused, rmsprop_init, rmsprop_update
from optimlab.optim.rprop import rprop, rprop_fused, rprop_init, rprop_update
from optimlab.optim.lamb import lamb, lamb_fused, lamb_init, lamb_update, lars, lars_fused, lars_init, lars_update
from optimlab.optim.lion import lion, lion_fused, lion_init, lion_update
from optimlab.optim.lookahead import lookahead_sync
from optimlab.optim.schedule_free import (
    schedule_free, schedule_free_eval, schedule_free_fused, schedule_free_init, schedule_free_memory_saving_update,
    schedule_free_train, schedule_free_update, schedule_free_weights,
)
from optimlab.optim.sgd import sgd, sgd_fused, sgd_init, sgd_update

__all__ = [
    "adam", "adam_fused", "adam_init", "adam_update", "adamw",
    "sgd", "sgd_fused", "sgd_init", "sgd_update",
    "adagrad", "adagrad_fused", "adagrad_init", "adagrad_update",
    "rmsprop", "rmsprop_fused", "rmsprop_init", "rmsprop_update",
    "adadelta", "adadelta_fused", "adadelta_init", "adadelta_update",
    "adamax", "adamax_fused", "adamax_init", "adamax_update",
    "nadam", "nadam_fused", "nadam_init", "nadam_update",
    "radam", "radam_fused", "radam_init", "radam_update",
    "asgd", "asgd_fused", "asgd_init", "asgd_update",
    "rprop", "rprop_fused", "rprop_init", "rprop_update",
    "adafactor", "adafactor_init", "adafactor_update",
    "muon", "muon_fused", "muon_init", "muon_update", "newton_schulz",
    "lbfgs_direction", "strong_wolfe", "cubic_interpolate",
    "lion", "lion_fused", "lion_init", "lion_update",
    "lamb", "lamb_fused", "lamb_init", "lamb_update", "lars", "lars_fused", "lars_init", "lars_update",
    "lookahead_sync",
    "schedule_free", "schedule_free_eval", "schedule_free_fused", "schedule_free_init",
    "schedule_free_memory_saving_update", "schedule_free_train", "schedule_free_update", "schedule_free_weights",
]
