"""Optimizers: one module per family, each with a pure reference update, a fused kernel and a
torch-style class. ``optimlab.optim.functional`` holds the functional forms."""

from optimlab.optim.adam import Adam, AdamW
from optimlab.optim.base import Optimizer, ParamGroup
from optimlab.optim.sgd import SGD

__all__ = ["Optimizer", "ParamGroup", "SGD", "Adam", "AdamW"]
