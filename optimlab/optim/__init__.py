"""Optimizers: one module per family, each with a pure reference update, a fused kernel and a
torch-style class. ``optimlab.optim.functional`` holds the functional forms."""

from optimlab.optim.adadelta import Adadelta
from optimlab.optim.adagrad import Adagrad
from optimlab.optim.adafactor import Adafactor
from optimlab.optim.adam import Adam, AdamW
from optimlab.optim.adam8bit import Adam8bit, AdamW8bit
from optimlab.optim.adam_mini import AdamMini
from optimlab.optim.adamax import Adamax
from optimlab.optim.asgd import ASGD
from optimlab.optim.base import Optimizer, ParamGroup
from optimlab.optim.lbfgs import LBFGS
from optimlab.optim.muon import Muon
from optimlab.optim.nadam import NAdam
from optimlab.optim.radam import RAdam
from optimlab.optim.rmsprop import RMSprop
from optimlab.optim.rprop import Rprop
from optimlab.optim.lamb import LAMB, LARS
from optimlab.optim.lion import Lion
from optimlab.optim.lookahead import Lookahead
from optimlab.optim.schedule_free import AdamWScheduleFree, SGDScheduleFree
from optimlab.optim.shampoo import Shampoo
from optimlab.optim.sgd import SGD
from optimlab.optim.sophia import SophiaG

__all__ = ["Optimizer", "ParamGroup", "SGD", "Adam", "AdamW", "ASGD", "Rprop", "Adafactor", "Muon", "LBFGS"]
__all__ += ["Adagrad", "RMSprop", "Adadelta", "Adamax", "NAdam", "RAdam"]
__all__ += ["Lion", "LAMB", "LARS", "Lookahead", "SGDScheduleFree", "AdamWScheduleFree"]
__all__ += ["SophiaG", "AdamMini", "Shampoo", "Adam8bit", "AdamW8bit"]
