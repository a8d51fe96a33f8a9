"""The reliability matrix: one table of every optimizer (``OPTIMIZERS``) and the generic checks
that ``tests/reliability`` runs over it; ``python -m optimlab.testing report`` counts what they find."""

from optimlab.testing.table import NONFINITE_KINDS, OPTIMIZERS, TABLE, OptimizerInfo

__all__ = ["NONFINITE_KINDS", "OPTIMIZERS", "TABLE", "OptimizerInfo"]
