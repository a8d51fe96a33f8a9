"""Learning-rate schedules: pure functions of the step, and torch-compatible scheduler classes.

``optimlab.schedules.functions`` and ``optimlab.schedules.warmup`` hold the pure schedules
``f(step) -> value``; the scheduler classes write ``group["lr"]`` from them with torch 2.13's names,
arguments and behaviour.
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
