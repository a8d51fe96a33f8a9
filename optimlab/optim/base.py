"""The optimizer shell with PyTorch's semantics: param groups, lazy per-parameter state, ``step``,
``zero_grad`` and ``state_dict``/``load_state_dict`` in torch's structure.

A family module supplies the math; a subclass only declares

* ``hyperparameters``: name -> rule (``optimlab.optim.hyperparams``), checked whenever a value is set;
* ``_init_state(param, group) -> dict``: the per-parameter state with torch's key names;
* ``_update(param, grad, state, group)``: one in-place update (calls the family's functional form);
* optionally ``_check_group(group)`` for rules that span several hyperparameters,
  ``lazy_state``: keys created on the first step rather than by ``_init_state`` (``load_state_dict``
  accepts them with the parameter's shape and dtype), and ``elementwise = True`` when the update
  treats every element independently, so that ``flatten()`` can run it once over a whole group;
  ``scales_gradients = True`` when ``_update`` multiplies the gradient by ``group["grad_scale"]``
  inside the update (so ``step(grad_scale=c)`` folds a clip coefficient into the kernel's scalars);
  ``_update_all(pending, group)`` to batch the updates of a group's parameters outside flat buffers
  (8-bit Adam: one kernel launch for all its 8-bit tensors).

Differences from ``torch.optim.Optimizer`` (deliberate): the step counter is a Python int (torch's
float32 counter stops at 2**24); every hyperparameter is validated when set, not only in the
constructor; ``state_dict()`` returns copies; ``load_state_dict`` checks group count, sizes, state
keys, shapes and dtypes before it changes anything; a group's ``lr`` may be a schedule
``step -> lr`` evaluated with the number of completed ``step()`` calls; a zero-size parameter is
skipped (it has nothing to update; torch's Adafactor divides by its size and fails). After ``flatten()`` (see
``optimlab.optim.flat``) ``zero_grad`` zeroes the flat gradient buffer instead of dropping gradients,
so every parameter of a flattened group is updated each step (torch's ``set_to_none=False``).
"""

from __future__ import annotations

import copy
import math
import numbers
from typing import Any, Callable, Iterable

from optimlab.backend import get_array_module, is_array
from optimlab.kernels import use_fused
from optimlab.optim.flat import FlatBuffer, build_flat_state, partition
from optimlab.optim.hyperparams import Rule
from optimlab.parameter import Parameter

GROUP_KEYS = ("params", "param_names")


class ParamGroup(dict):
    """A parameter group: a dict whose hyperparameters are validated on every assignment."""

    def __init__(self, optimizer: "Optimizer", entries: dict):
        super().__init__()
        self._optimizer = optimizer
        checked = {key: optimizer._check_hyperparameter(key, value) for key, value in entries.items()}
        optimizer._check_group(checked)
        super().update(checked)

    def __setitem__(self, key, value) -> None:
        value = self._optimizer._check_hyperparameter(key, value)
        self._optimizer._check_group({**self, key: value})
        super().__setitem__(key, value)

    def update(self, *args, **kwargs) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return self[key]

    def __reduce__(self):
        return (dict, (dict(self),))


def _copy_value(value):
    if is_array(value):
        return value.copy()
    if isinstance(value, (list, dict, tuple)):
        return copy.deepcopy(value)
    return value


def _array_bytes(value) -> int:
    """``nbytes`` of every array in ``value``, looking inside lists, tuples and dicts."""
    if is_array(value):
        return int(value.nbytes)
    if isinstance(value, dict):
        value = list(value.values())
    return sum(_array_bytes(item) for item in value) if isinstance(value, (list, tuple)) else 0


def _as_param_list(params, where: str) -> tuple[list[Parameter], list[str] | None]:
    if isinstance(params, Parameter):
        return [params], None
    if is_array(params):
        raise TypeError(f"{where}: got a bare array; wrap it as optimlab.Parameter(array) and pass a list of parameters")
    if isinstance(params, (set, frozenset)):
        raise TypeError(f"{where}: parameters must be an ordered collection (list, tuple), not a set")
    if isinstance(params, (str, bytes, dict)) or not isinstance(params, Iterable):
        raise TypeError(f"{where}: params must be an iterable of Parameters, got {type(params).__name__}")
    items = list(params)
    named = [isinstance(item, tuple) for item in items]
    if any(named) and not all(named):
        raise ValueError(f"{where}: mixes named (name, Parameter) pairs with plain Parameters")
    names = None
    if items and all(named):
        if not all(len(item) == 2 and isinstance(item[0], str) for item in items):
            raise TypeError(f"{where}: named parameters must be (str, Parameter) pairs")
        names = [name for name, _ in items]
        items = [param for _, param in items]
    for item in items:
        if not isinstance(item, Parameter):
            raise TypeError(f"{where}: expected optimlab.Parameter, got {type(item).__name__}")
    return items, names


class Optimizer:
    """Base class of every optimizer (see the module docstring)."""

    hyperparameters: dict[str, Rule] = {}
    lazy_state: tuple[str, ...] = ()
    elementwise = False
    scales_gradients = False

    def __init__(self, params, defaults: dict[str, Any]):
        self.defaults = {key: self._check_hyperparameter(key, value) for key, value in defaults.items()}
        self._check_group(self.defaults)
        self.state: dict[Parameter, dict[str, Any]] = {}
        self.param_groups: list[ParamGroup] = []
        self.step_count = 0
        self._flat_buffers: list[FlatBuffer] = []
        if isinstance(params, Parameter) or is_array(params):
            raise TypeError(
                "params must be an iterable of Parameters or of dicts (param groups), "
                f"got a single {type(params).__name__}"
            )
        if isinstance(params, (str, bytes, dict, set, frozenset)) or not isinstance(params, Iterable):
            raise TypeError(f"params must be a list of Parameters or of dicts, got {type(params).__name__}")
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        if isinstance(params[0], dict):
            if not all(isinstance(group, dict) for group in params):
                raise TypeError("params mixes dicts (param groups) with other items")
            groups = params
        else:
            groups = [{"params": params}]
        for group in groups:
            self.add_param_group(group)

    # -- hyperparameters -------------------------------------------------------------------------

    def _check_hyperparameter(self, key, value):
        if not isinstance(key, str):
            raise TypeError(f"param group keys must be str, got {key!r}")
        rule = self.hyperparameters.get(key)
        return rule(key, value) if rule is not None else value

    def _check_group(self, group: dict) -> None:
        """Rules that involve several hyperparameters (override where needed)."""

    def add_param_group(self, param_group: dict) -> None:
        """Add a group: its missing hyperparameters are taken from ``defaults``."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError("param_group must have a 'params' entry")
        where = f"param group {len(self.param_groups)}"
        params, names = _as_param_list(param_group["params"], where)
        if not params:
            raise ValueError(f"{where} has no parameters")
        if len(set(map(id, params))) != len(params):
            raise ValueError(f"{where} contains a parameter more than once")
        existing = {id(p) for group in self.param_groups for p in group["params"]}
        if existing & set(map(id, params)):
            raise ValueError(f"{where}: some parameters appear in more than one parameter group")
        entries = {**copy.deepcopy(self.defaults), **{k: v for k, v in param_group.items() if k not in GROUP_KEYS}}
        entries["params"] = params
        if names is not None:
            entries["param_names"] = names
        self.param_groups.append(ParamGroup(self, entries))

    # -- stepping --------------------------------------------------------------------------------

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's gradient (to ``None`` by default, as torch does; flattened
        groups zero their gradient buffer instead)."""
        for flat in self._flat_buffers:
            flat.zero_grad()
        flattened = {id(p) for flat in self._flat_buffers for p in flat.params}
        for group in self.param_groups:
            for param in group["params"]:
                if id(param) not in flattened:
                    param.zero_grad(set_to_none)

    def flatten(self) -> "Optimizer":
        """Lay out each group's parameters (per dtype), gradients and states in contiguous buffers,
        so that a step is one update per buffer (see ``optimlab.optim.flat``). Returns ``self``."""
        if not self.elementwise:
            raise TypeError(
                f"{type(self).__name__}'s update is not elementwise (it uses per-tensor norms, shapes or "
                "matrices), so its parameters cannot share one flat buffer"
            )
        flattened = {id(p) for flat in self._flat_buffers for p in flat.params}
        for group in self.param_groups:
            todo = [p for p in group["params"] if id(p) not in flattened]
            self._flat_buffers += [FlatBuffer(part) for part in partition(todo)]
        return self

    def step(self, closure: Callable[[], Any] | None = None, *, grad_scale: float = 1.0):
        """One update of every parameter that has a gradient; returns ``closure()``'s loss.

        ``grad_scale`` c: the update uses c·g in place of every gradient g without writing the
        gradient arrays (a global clip coefficient, see ``training.fused_clip``); only optimizers
        with ``scales_gradients`` accept c ≠ 1. NaN is accepted (as torch, a NaN clip coefficient
        poisons the step).
        """
        if isinstance(grad_scale, bool) or not isinstance(grad_scale, numbers.Real):
            raise TypeError(f"grad_scale must be a real number, got {type(grad_scale).__name__}: {grad_scale!r}")
        if grad_scale < 0 or grad_scale == math.inf:
            raise ValueError(f"grad_scale must be non-negative and finite, got {grad_scale!r}")
        if grad_scale != 1 and not self.scales_gradients:
            raise TypeError(f"{type(self).__name__} cannot fold grad_scale={grad_scale!r} into its update; "
                            "scale the gradients first (training.clip_grad_norm_)")
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            hyper = self._resolve(group)
            if self.scales_gradients:
                hyper["grad_scale"] = float(grad_scale)
            members = {id(p) for p in group["params"]}
            done: set[int] = set()
            for flat in self._flat_buffers:
                if id(flat.params[0]) in members and self._step_flat(flat, hyper):
                    done.update(map(id, flat.params))
            pending = []
            for param in group["params"]:
                if id(param) in done or param.grad is None or param.size == 0:  # nothing (more) to update
                    continue
                state = self.state.get(param)
                if state is None:
                    state = self.state[param] = self._init_state(param, hyper)
                pending.append((param, state))
            self._update_all(pending, hyper)
        self.step_count += 1
        return loss

    def _update_all(self, pending: list, hyper: dict) -> None:
        """The updates of a group's parameters outside flat buffers, ``(param, state)`` pairs, one
        ``_update`` each; an optimizer can batch them (8-bit Adam: one launch for many tensors)."""
        for param, state in pending:
            self._update(param, param.grad, state, hyper)

    def _step_flat(self, flat: FlatBuffer, hyper: dict) -> bool:
        """One update over a whole flat buffer; False (nothing done) when it must fall back to the
        per-parameter path: a gradient is missing or the states cannot be joined."""
        if not flat.gather_grads():
            return False
        if not flat.published(self.state):  # the per-parameter states changed (load_state_dict...)
            states = [self.state.get(p) for p in flat.params]
            state = build_flat_state(flat, states, lambda: self._init_state(flat.param, hyper))
            if state is None:
                return False
            flat.state, flat.state_views = state, {}
        if use_fused(flat.data):  # a GPU array, or the compiled CPU form: one pass over the buffer
            self._update(flat.param, flat.grad, flat.state, hyper)
        else:
            flat.update_in_pieces(lambda param, grad, state: self._update(param, grad, state, hyper))
        flat.publish(self.state)
        return True

    def gradient_arrays(self) -> list:
        """The gradients the next step reads: each flat gradient buffer whole (gathered, one array
        per group buffer), then the gradient of every parameter outside a buffer (or in a buffer
        that falls back because some gradient is missing)."""
        arrays, covered = [], set()
        for flat in self._flat_buffers:
            if flat.gather_grads():
                arrays.append(flat.grad)
                covered.update(map(id, flat.params))
        for group in self.param_groups:
            arrays += [p.grad for p in group["params"] if id(p) not in covered and p.grad is not None]
        return arrays

    def _resolve(self, group: ParamGroup) -> dict:
        """The group's hyperparameters for this step, with a schedule ``lr`` evaluated."""
        hyper = dict(group)
        if callable(hyper.get("lr")):
            value = hyper["lr"](self.step_count)
            hyper["lr"] = self.hyperparameters["lr"](f"lr (schedule at step {self.step_count})", value)
        return hyper

    def _init_state(self, param: Parameter, group: dict) -> dict:
        raise NotImplementedError

    def _update(self, param: Parameter, grad, state: dict, group: dict) -> None:
        raise NotImplementedError

    # -- memory ----------------------------------------------------------------------------------

    def state_bytes(self) -> int:
        """Bytes held by the arrays of the optimizer state (nested lists included, as L-BFGS's
        history), measured from the arrays themselves."""
        return sum(_array_bytes(state) for state in self.state.values())

    def state_bytes_per_parameter(self) -> float:
        """``state_bytes()`` divided by the number of parameter elements that have state."""
        elements = sum(int(p.size) for p in self.state)
        return self.state_bytes() / elements if elements else 0.0

    # -- saving and loading ----------------------------------------------------------------------

    def state_dict(self) -> dict:
        """``{'state': {index: {...}}, 'param_groups': [...], 'step_count': n}``, all copies."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {key: _copy_value(value) for key, value in group.items() if key != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {
            index[id(param)]: {key: _copy_value(value) for key, value in param_state.items()}
            for param, param_state in self.state.items()
            if id(param) in index
        }
        return {"state": state, "param_groups": groups, "step_count": self.step_count}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore from ``state_dict()``'s output; everything is checked before anything changes,
        and the argument is never modified or aliased."""
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= set(state_dict):
            raise TypeError("state_dict must be a dict with 'state' and 'param_groups' entries")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"loaded state dict has {len(saved_groups)} parameter groups, optimizer has {len(self.param_groups)}"
            )
        owner: dict[Any, tuple[Parameter, ParamGroup]] = {}
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"parameter group {i}: loaded state dict has {len(saved['params'])} parameters, "
                    f"optimizer has {len(group['params'])}"
                )
            owner.update({key: (param, group) for key, param in zip(saved["params"], group["params"])})
        new_groups = []
        for saved, group in zip(saved_groups, self.param_groups):
            entries = {k: _copy_value(v) for k, v in saved.items() if k not in GROUP_KEYS}
            entries["params"] = group["params"]
            if "param_names" in saved:
                entries["param_names"] = list(saved["param_names"])
            new_groups.append(ParamGroup(self, entries))
        new_state = {}
        for key, saved_state in state_dict["state"].items():
            if key not in owner:
                raise ValueError(f"loaded state dict has state for parameter {key!r}, which no group lists")
            param, group = owner[key]
            new_state[param] = self._load_param_state(param, group, saved_state, key)
        step_count = state_dict.get("step_count", 0)
        if isinstance(step_count, bool) or not isinstance(step_count, numbers.Integral) or step_count < 0:
            raise ValueError(f"Invalid step_count in state dict: {step_count!r}")
        self.param_groups[:] = new_groups
        self.state = new_state
        self.step_count = int(step_count)

    def _load_param_state(self, param: Parameter, group: dict, saved: dict, key) -> dict:
        template = self._init_state(param, group)
        where = f"state of parameter {key} ({param.name or tuple(param.shape)})"
        missing = set(template) - set(saved)
        if missing:
            raise ValueError(f"{where} is missing {sorted(missing)}")
        xp = get_array_module(param.data)
        loaded = {}
        for name, value in saved.items():
            if name in template:
                expected = template[name]
            elif name in self.lazy_state:
                expected = param.data
            else:
                raise ValueError(f"{where} has an unexpected entry {name!r}")
            if is_array(expected):
                if not is_array(value):
                    raise TypeError(f"{where}: {name!r} must be an array, got {type(value).__name__}")
                if tuple(value.shape) != tuple(expected.shape):
                    raise ValueError(
                        f"{where}: {name!r} has shape {tuple(value.shape)}, expected {tuple(expected.shape)}"
                    )
                if value.dtype != expected.dtype:
                    raise ValueError(f"{where}: {name!r} has dtype {value.dtype}, expected {expected.dtype}")
                loaded[name] = xp.array(value, copy=True)
            elif isinstance(expected, numbers.Integral):
                if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
                    raise ValueError(f"{where}: {name!r} must be a non-negative int, got {value!r}")
                loaded[name] = int(value)
            elif isinstance(expected, numbers.Real):
                if isinstance(value, bool) or not isinstance(value, numbers.Real):
                    raise ValueError(f"{where}: {name!r} must be a real number, got {value!r}")
                loaded[name] = float(value)
            else:
                loaded[name] = _copy_value(value)
        return loaded

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {key}: {group[key]}" for key in sorted(group) if key not in GROUP_KEYS]
        return "\n".join(lines + [")"])
