"""Problems to optimise: test functions with known minimisers and small real training tasks.

Functions (``value``, ``grad``, ``minimizer``, ``start``): ``Quadratic`` (``.ill_conditioned``, noisy
gradients), ``Rosenbrock``, ``Beale``, ``Saddle``; ``run_optimizer`` records a ``Trajectory``.
Tasks (``next_batch``, ``loss_and_grad``, ``evaluate``): ``BreastCancerLogistic``, ``DigitsMLP``,
``StdlibCharLM``. Everything is deterministic given a seed.
"""

from optimlab.problems.charlm import StdlibCharLM
from optimlab.problems.classification import BreastCancerLogistic, DigitsMLP
from optimlab.problems.functions import Beale, Quadratic, Rosenbrock, Saddle
from optimlab.problems.task import Task
from optimlab.problems.trajectory import Trajectory, run_optimizer

__all__ = [
    "Quadratic", "Rosenbrock", "Beale", "Saddle", "Trajectory", "run_optimizer",
    "Task", "BreastCancerLogistic", "DigitsMLP", "StdlibCharLM",
]
