r"""Lookahead: k steps forward with any optimizer, one step back (Zhang et al., 2019).

An inner ("fast") optimizer updates the parameters :math:`\theta` as usual; every :math:`k` of its
steps, slow weights :math:`\phi` move a fraction :math:`\alpha` towards the fast ones and the fast
weights restart from there:

.. math::
    \phi &\leftarrow \phi + \alpha(\theta - \phi) = \alpha\theta + (1-\alpha)\phi \\
    \theta &\leftarrow \phi

The inner optimizer's state (momenta, second moments) is kept across a synchronisation.

When the slow weights start is a convention, chosen by ``slow_start``:

* ``"first_step"`` (default; torch-optimizer's ``Lookahead``): :math:`\phi` is a copy of the
  parameters *after* the first inner step, and the synchronisations follow steps
  :math:`1, k+1, 2k+1, \dots` (the one after step 1 only creates :math:`\phi`);
* ``"initial"`` (the paper's Algorithm 1 and optax's ``lookahead``): :math:`\phi` is a copy of the
  parameters *before* the first step, and the synchronisations follow steps :math:`k, 2k, \dots`.

Differences from torch-optimizer: one step counter for the wrapper rather than one per param group
(they differ only for a group added mid-run); ``state_dict()`` holds the inner optimizer's state
dict, the slow weights and ``k``/``alpha``. optax's ``reset_state`` is not offered. Reference: Zhang,
Lucas, Hinton & Ba, "Lookahead Optimizer: k steps forward, 1 step back" (NeurIPS 2019).
"""

from __future__ import annotations

import numbers

from optimlab.backend import get_array_module, is_array
from optimlab.optim.base import Optimizer
from optimlab.optim.hyperparams import choice, integer, unit_closed

SLOW_STARTS = ("first_step", "initial")
_RULES = {"k": integer(1), "alpha": unit_closed, "slow_start": choice(*SLOW_STARTS)}


def lookahead_sync(param, slow_param, *, alpha) -> None:
    """One synchronisation, in place: φ ← αθ + (1 − α)φ, then θ ← φ."""
    param *= alpha  # θ ← αθ + (1 − α)φ
    param += (1 - alpha) * slow_param
    slow_param[...] = param  # φ ← θ


class Lookahead:
    """Wraps any optimlab optimizer (see the module docstring): ``Lookahead(AdamW(params), k=5,
    alpha=0.5)``. ``param_groups`` are the inner optimizer's, so schedulers drive it unchanged."""

    def __init__(self, optimizer, k=5, alpha=0.5, *, slow_start="first_step"):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be an optimlab Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.k, self.alpha, self.slow_start = k, alpha, slow_start
        self.state: dict = {}
        self.step_count = 0

    def __setattr__(self, name, value):
        if name in _RULES:
            value = _RULES[name](name, value)
        super().__setattr__(name, value)

    @property
    def param_groups(self):
        return self.optimizer.param_groups

    def _params(self):
        return [p for group in self.param_groups for p in group["params"]]

    def _slow(self, param):
        """The slow weights of ``param``, created from its current values on first use."""
        state = self.state.setdefault(param, {})
        if "slow_param" not in state:
            state["slow_param"] = get_array_module(param.data).array(param.data, copy=True)
        return state["slow_param"]

    def step(self, closure=None):
        """One inner step, then a synchronisation where the convention puts one; returns the loss."""
        initial = self.slow_start == "initial"
        if initial:
            for param in self._params():
                self._slow(param)
        loss = self.optimizer.step(closure)
        self.step_count += 1
        if (self.step_count % self.k == 0) if initial else ((self.step_count - 1) % self.k == 0):
            for param in self._params():
                lookahead_sync(param.data, self._slow(param), alpha=self.alpha)
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none)

    def state_bytes(self) -> int:
        """Bytes of the inner optimizer's state plus the slow weights, measured from the arrays."""
        return self.optimizer.state_bytes() + sum(int(s["slow_param"].nbytes) for s in self.state.values())

    def state_dict(self) -> dict:
        """``{'optimizer': inner state dict, 'state': {index: {'slow_param'}}, 'step_count', 'k',
        'alpha', 'slow_start'}``, all copies; indices as in the inner state dict."""
        index = {id(p): i for i, p in enumerate(self._params())}
        slow = {index[id(p)]: {"slow_param": s["slow_param"].copy()} for p, s in self.state.items() if id(p) in index}
        return {"optimizer": self.optimizer.state_dict(), "state": slow, "step_count": self.step_count,
                "k": self.k, "alpha": self.alpha, "slow_start": self.slow_start}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore from ``state_dict()``'s output; everything is checked before anything changes."""
        if not isinstance(state_dict, dict) or not {"optimizer", "state"} <= set(state_dict):
            raise TypeError("state_dict must be a dict with 'optimizer' and 'state' entries (Lookahead.state_dict())")
        hyper = {name: rule(name, state_dict.get(name, getattr(self, name))) for name, rule in _RULES.items()}
        step_count = state_dict.get("step_count", 0)
        if isinstance(step_count, bool) or not isinstance(step_count, numbers.Integral) or step_count < 0:
            raise ValueError(f"Invalid step_count in state dict: {step_count!r}")
        params = self._params()
        slow = {}
        for key, saved in state_dict["state"].items():
            if not isinstance(key, numbers.Integral) or not 0 <= key < len(params):
                raise ValueError(f"loaded state dict has slow weights for parameter {key!r}, which no group lists")
            if not isinstance(saved, dict) or set(saved) - {"slow_param"}:
                extra = sorted(set(saved) - {"slow_param"}) if isinstance(saved, dict) else type(saved).__name__
                raise ValueError(f"state of parameter {key} may hold only 'slow_param', got {extra}")
            value, param = saved.get("slow_param"), params[key].data
            if not is_array(value) or value.shape != param.shape or value.dtype != param.dtype:
                got = f"shape {tuple(value.shape)}, dtype {value.dtype}" if is_array(value) else type(value).__name__
                raise ValueError(f"slow_param of parameter {key} must be an array of shape {tuple(param.shape)}, "
                                 f"dtype {param.dtype}; got {got}")
            slow[params[key]] = {"slow_param": get_array_module(param).array(value, copy=True)}
        self.optimizer.load_state_dict(state_dict["optimizer"])
        self.state = slow
        self.step_count = int(step_count)
        for name, value in hyper.items():
            setattr(self, name, value)

    def __repr__(self) -> str:
        return f"Lookahead(k={self.k}, alpha={self.alpha}, slow_start={self.slow_start!r},\n{self.optimizer!r})"
