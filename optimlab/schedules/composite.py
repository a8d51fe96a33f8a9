r"""Schedulers made of schedulers: ``SequentialLR`` (one after another, each restarted at its
milestone; the class form of :func:`~.functions.join`) and ``ChainedScheduler`` (all at once, each
step composing the chainable updates), with torch 2.13's behaviour.

Unlike torch, loading a ``SequentialLR``'s state writes the loaded learning rates back into the
optimizer, so building it after loading the optimizer's state resumes correctly.
"""

from __future__ import annotations

import copy
from bisect import bisect_right

from ._checks import check_int, check_sorted_ints
from .base import LRScheduler, check_optimizer

__all__ = ["SequentialLR", "ChainedScheduler"]


def _check_children(name: str, optimizer, schedulers) -> list[LRScheduler]:
    from .plateau import ReduceLROnPlateau
    if isinstance(schedulers, LRScheduler) or not isinstance(schedulers, (list, tuple)):
        raise TypeError(f"schedulers must be a list of schedulers, got {type(schedulers).__name__}")
    if not schedulers:
        raise ValueError(f"{name} needs at least one scheduler, got an empty list")
    for i, scheduler in enumerate(schedulers):
        if not isinstance(scheduler, LRScheduler):
            raise TypeError(f"schedulers[{i}] must be an optimlab scheduler, got {type(scheduler).__name__}")
        if isinstance(scheduler, ReduceLROnPlateau):
            raise ValueError(f"schedulers[{i}] is a ReduceLROnPlateau, which {name} cannot drive (its step needs a metric)")
        if scheduler.optimizer is not optimizer:
            raise ValueError(f"schedulers[{i}] ({type(scheduler).__name__}) drives a different optimizer")
    return list(schedulers)


class _Composite(LRScheduler):
    def state_dict(self):
        state = {key: copy.deepcopy(value) for key, value in self.__dict__.items()
                 if key not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def _load_state(self, state_dict):
        if not isinstance(state_dict, dict) or "_schedulers" not in state_dict:
            raise TypeError("state_dict must be a dict from this scheduler's state_dict()")
        saved = state_dict["_schedulers"]
        if len(saved) != len(self._schedulers):
            raise ValueError(f"state_dict has {len(saved)} schedulers, this one has {len(self._schedulers)}")
        super()._load_state({k: v for k, v in state_dict.items() if k != "_schedulers"})
        for scheduler, state in zip(self._schedulers, saved):
            scheduler._load_state(state)

    def _undo_initial_step(self) -> None:
        for scheduler in self._schedulers:
            if isinstance(scheduler, _Composite):
                scheduler._undo_initial_step()
            else:
                scheduler.last_epoch -= 1


class SequentialLR(_Composite):
    r"""``schedulers[i]`` runs from ``milestones[i-1]`` on, restarted at its own step 0 there
    (torch's ``_update_lr(0)``: the closed form at 0), then stepped as usual:
    :math:`\eta_t = s_i(t - m_{i-1})`."""

    def __init__(self, optimizer, schedulers, milestones, last_epoch: int = -1) -> None:
        check_optimizer(optimizer)
        self._schedulers = _check_children("SequentialLR", optimizer, schedulers)
        self._milestones = check_sorted_ints("milestones", milestones, strict=True, minimum=1)
        if len(self._milestones) != len(self._schedulers) - 1:
            raise ValueError(f"milestones must have len(schedulers) - 1 = {len(self._schedulers) - 1} entries, "
                             f"got {self._milestones!r}")
        self.optimizer = optimizer
        self.last_epoch = check_int("last_epoch", last_epoch, minimum=-1) + 1
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        self._undo_initial_step()  # each child took its initial step when built; only the first runs
        self._schedulers[0]._initial_step()
        self._last_lr = self._schedulers[0].get_last_lr()

    def _active(self) -> LRScheduler:
        return self._schedulers[bisect_right(self._milestones, self.last_epoch)]

    def step(self) -> None:
        self.last_epoch += 1
        i = bisect_right(self._milestones, self.last_epoch)
        if i > 0 and self._milestones[i - 1] == self.last_epoch:
            self._schedulers[i]._restart()
        else:
            self._schedulers[i].step()
        self._last_lr = self._schedulers[i].get_last_lr()

    def _restore_optimizer(self) -> None:
        self._active()._restore_optimizer()


class ChainedScheduler(_Composite):
    """Step every scheduler in turn on each ``step()``; with chainable schedulers the multipliers
    compose (e.g. ``ConstantLR`` warmup times ``ExponentialLR`` decay)."""

    def __init__(self, schedulers, optimizer=None) -> None:
        if optimizer is None:
            if not isinstance(schedulers, (list, tuple)) or not schedulers:
                raise ValueError("ChainedScheduler needs at least one scheduler")
            optimizer = getattr(schedulers[0], "optimizer", None)
        check_optimizer(optimizer)
        self._schedulers = _check_children("ChainedScheduler", optimizer, schedulers)
        self.optimizer = optimizer
        self._last_lr = [group["lr"] for group in optimizer.param_groups]

    def step(self) -> None:
        for scheduler in self._schedulers:
            scheduler.step()
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _restore_optimizer(self) -> None:
        for scheduler in self._schedulers:
            scheduler._restore_optimizer()
        super()._restore_optimizer()
