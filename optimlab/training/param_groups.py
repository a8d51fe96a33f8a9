r"""Parameter groups for the usual fine-grained rules, returned as torch-style group dicts.

* **No weight decay for biases, norm gains and other 1-D parameters.** Decay pulls weights towards
  zero to limit the scale of the function; a bias or a LayerNorm gain only shifts or rescales a
  feature, and decaying it adds bias without regularising (nanoGPT's ``configure_optimizers``:
  decay iff ``p.dim() >= 2``). Name patterns (``fnmatch``, e.g. ``"*emb*"``) exclude more.
* **Layer-wise learning-rate decay** (Clark et al., 2020, ELECTRA; Bao et al., 2022, BEiT): the
  layer at depth :math:`\ell` of :math:`L` gets :math:`\eta\,\gamma^{L-\ell}`, so layers near the
  input (pretrained, general) move less than the head.

Groups hold ``(name, Parameter)`` pairs under ``"params"``, a form both ``optimlab.optim`` and
``torch.optim`` (≥ 2.6) accept, keeping the names in ``param_names``.
"""

from __future__ import annotations

import fnmatch
import numbers
from typing import Callable, Iterable

from optimlab.parameter import Parameter


def _named(named_params: Iterable) -> list[tuple[str, Parameter]]:
    if hasattr(named_params, "named_parameters"):
        named_params = named_params.named_parameters()
    pairs = list(named_params)
    for item in pairs:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)
                and isinstance(item[1], Parameter)):
            raise TypeError(f"expected (name, Parameter) pairs (e.g. model.named_parameters()), got {item!r}")
    if not pairs:
        raise ValueError("no parameters given")
    return pairs


def _nonnegative(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0 or value == float("inf"):
        raise ValueError(f"{name} must be a non-negative finite number, got {value!r}")
    return float(value)


def uses_weight_decay(name: str, param: Parameter, no_decay_names: Iterable[str] = ()) -> bool:
    """True when ``param`` is at least 2-D and ``name`` matches none of the ``no_decay_names`` patterns."""
    return param.ndim >= 2 and not any(fnmatch.fnmatchcase(name, pattern) for pattern in no_decay_names)


def weight_decay_groups(named_params, weight_decay: float, no_decay_names: Iterable[str] = ()) -> list[dict]:
    """Two groups, ``{"params": ..., "weight_decay": weight_decay}`` and ``{..., "weight_decay": 0.0}``
    (an empty group is left out), split by ``uses_weight_decay``."""
    return layer_decay_groups(named_params, weight_decay=weight_decay, no_decay_names=no_decay_names)


def layer_decay_groups(named_params, *, weight_decay: float = 0.0, no_decay_names: Iterable[str] = (),
                       lr: float | None = None, layer_decay: float | None = None,
                       layer_of: Callable[[str], int] | None = None, num_layers: int | None = None) -> list[dict]:
    """Groups by (layer, decays?): ``{"params", "weight_decay"}``, plus ``"lr" = lr · layer_decay**(num_layers − ℓ)``
    when ``layer_decay`` is given, with ``ℓ = layer_of(name)`` in ``[0, num_layers]``.

    Groups are ordered by first appearance of their parameters; each group keeps model order.
    """
    pairs = _named(named_params)
    weight_decay = _nonnegative("weight_decay", weight_decay)
    no_decay_names = tuple(no_decay_names)
    if layer_decay is not None:
        layer_decay = _nonnegative("layer_decay", layer_decay)
        _nonnegative("lr", lr)
        if not callable(layer_of):
            raise TypeError("layer_decay needs layer_of, a function from parameter name to layer index")
        if isinstance(num_layers, bool) or not isinstance(num_layers, numbers.Integral) or num_layers < 0:
            raise ValueError(f"num_layers must be a non-negative int, got {num_layers!r}")
    groups: dict[tuple, dict] = {}
    for name, param in pairs:
        decays = uses_weight_decay(name, param, no_decay_names)
        key: tuple = (decays,)
        entries = {"weight_decay": weight_decay if decays else 0.0}
        if layer_decay is not None:
            layer = layer_of(name)
            if isinstance(layer, bool) or not isinstance(layer, numbers.Integral) or not 0 <= layer <= num_layers:
                raise ValueError(f"layer_of({name!r}) must be an int in [0, {num_layers}], got {layer!r}")
            key = (int(layer), decays)
            entries["lr"] = lr * layer_decay ** (num_layers - layer)
        groups.setdefault(key, {"params": [], **entries})["params"].append((name, param))
    return list(groups.values())
