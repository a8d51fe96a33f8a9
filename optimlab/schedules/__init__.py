"""Learning-rate schedules: pure functions of the step, and torch-compatible scheduler classes.

* ``functions``: classic pure schedules ``f(step) -> value`` (step, multistep, exponential,
  polynomial, linear, cosine, SGDR, cyclic, one-cycle) and ``join``;
* ``warmup``: the Hugging Face warmup family, inverse square root, Noam, warmup-stable-decay;
* ``base``: the scheduler protocol (chainable updates derived from the pure schedules; resume in
  either construction order);
* ``schedulers``, ``cycling``, ``composite``, ``plateau``: torch 2.13's scheduler classes with the
  same names and arguments, plus ``ScheduleLR`` (a pure schedule of absolute learning rates).

An optimlab optimizer also takes a pure schedule directly as ``lr``:
``SGD(params, lr=warmup_cosine_decay(0.1, 100, 5000))``.
"""

from .functions import (constant, cosine, cosine_warm_restarts, cyclic, exponential, join, linear,
                        multistep, one_cycle, one_cycle_momentum, piecewise_anneal, polynomial,
                        sgdr_position, step_decay)
from .warmup import (inverse_sqrt, noam, warmup_constant, warmup_cosine_decay, warmup_linear_decay,
                     warmup_stable_decay)
from .base import LRScheduler
from .schedulers import (ConstantLR, CosineAnnealingLR, ExponentialLR, LambdaLR, LinearLR,
                         MultiplicativeLR, MultiStepLR, PolynomialLR, ScheduleLR, StepLR)
from .cycling import CosineAnnealingWarmRestarts, CyclicLR, OneCycleLR
from .composite import ChainedScheduler, SequentialLR
from .plateau import ReduceLROnPlateau

__all__ = [
    "constant", "step_decay", "multistep", "exponential", "polynomial", "linear", "cosine",
    "cosine_warm_restarts", "sgdr_position", "cyclic", "one_cycle", "one_cycle_momentum", "piecewise_anneal",
    "join", "warmup_constant", "warmup_linear_decay", "warmup_cosine_decay", "inverse_sqrt", "noam",
    "warmup_stable_decay", "LRScheduler", "LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR",
    "LinearLR", "ExponentialLR", "PolynomialLR", "CosineAnnealingLR", "ScheduleLR", "CosineAnnealingWarmRestarts",
    "CyclicLR", "OneCycleLR", "SequentialLR", "ChainedScheduler", "ReduceLROnPlateau",
]
