"""``Module`` and ``Sequential``: the container protocol every layer follows.

A module computes ``forward(x)``, keeps what its backward pass needs, and ``backward(grad_out)``
returns ∂L/∂x given ∂L/∂y, *accumulating* ∂L/∂θ into each parameter's ``grad`` (the first write
sets it, later writes add, as ``loss.backward()`` does in PyTorch). Backward never writes into
``grad_out`` or into a gradient array the caller assigned (``Parameter.accumulate_grad``).

Parameters and sub-modules are found by walking the instance's attributes in the order they were
assigned, so names follow PyTorch's (``"0.weight"``, ``"attn.qkv.bias"``).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from optimlab.backend import asarray
from optimlab.parameter import Parameter


class Module:
    """Base class: parameter discovery, train/eval mode, ``zero_grad`` and ``__call__``."""

    training: bool = True

    def forward(self, *inputs):
        raise NotImplementedError

    def backward(self, grad_out):
        raise NotImplementedError

    def __call__(self, *inputs):
        return self.forward(*inputs)

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """``(dotted_name, parameter)`` pairs, each parameter once (tied weights are not repeated)."""
        seen: set[int] = set()
        for name, value in self._named_parameters_all(prefix):
            if id(value) not in seen:
                seen.add(id(value))
                yield name, value

    def _named_parameters_all(self, prefix: str):
        for name, value in vars(self).items():
            if isinstance(value, Parameter):
                yield prefix + name, value
            elif isinstance(value, Module):
                yield from value._named_parameters_all(prefix + name + ".")

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            p.zero_grad(set_to_none=set_to_none)

    def train(self, mode: bool = True) -> Module:
        """Set training mode here and in every sub-module (Dropout is the layer that cares)."""
        self.training = bool(mode)
        for _, child in self.named_children():
            child.train(mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def _cache(self, name: str):
        """A value saved by ``forward``; a clear error when ``backward`` comes first."""
        value = self.__dict__.get(name)
        if value is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        return value


class Sequential(Module):
    """Layers applied in order; backward runs them in reverse. Children are named ``"0"``, ``"1"``..."""

    def __init__(self, *layers: Module):
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential layer {i} must be a Module, got {type(layer).__name__}")
            setattr(self, str(i), layer)
        self.layers = list(layers)

    def __getitem__(self, i: int) -> Module:
        return self.layers[i]

    def __len__(self) -> int:
        return len(self.layers)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def backward(self, grad_out):
        for layer in reversed(self.layers):
            grad_out = layer.backward(grad_out)
        return grad_out


def new_parameter(init: np.ndarray, dtype, name: str) -> Parameter:
    """A parameter on the default backend holding ``init`` (drawn on the host, so a seed gives the
    same numbers on NumPy and CuPy)."""
    return Parameter(asarray(init, dtype=dtype), name=name)


def as_generator(rng) -> np.random.Generator:
    """``rng`` as a NumPy ``Generator``: pass a Generator to share one stream, or an int seed."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng must be a numpy.random.Generator or an int seed, got {type(rng).__name__}: {rng!r}")
