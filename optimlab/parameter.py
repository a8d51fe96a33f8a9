"""``Parameter``: an array to optimise, with the gradient the caller gives it."""

from __future__ import annotations

import numpy as np

from optimlab.backend import asarray, get_array_module, is_array, is_cupy_array


def _check_floating(name: str, array) -> None:
    if not np.issubdtype(array.dtype, np.floating) and str(array.dtype) != "bfloat16":
        raise TypeError(f"{name} must have a floating dtype, got {array.dtype}")


class Parameter:
    """A trainable array.

    ``data`` is a NumPy or CuPy array (updated in place by optimizers); ``grad`` is ``None`` until
    the caller sets it (``p.grad = g``) or accumulates into it (``p.accumulate_grad(g)``).
    Optimizers never write into an array the caller assigned as ``grad``: the array stays the
    caller's, and ``accumulate_grad`` replaces it with a fresh sum rather than adding into it.
    Equality and hashing are by identity, so a parameter can key optimizer state.
    """

    __slots__ = ("data", "_grad", "_grad_owned", "name")

    def __init__(self, data, name: str | None = None):
        if isinstance(data, Parameter):
            raise TypeError("data must be an array, got a Parameter")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a str or None, got {type(name).__name__}: {name!r}")
        array = data if is_array(data) else asarray(data)
        if not is_array(data) and not np.issubdtype(array.dtype, np.floating):
            array = array.astype(np.float64)
        _check_floating("Parameter data", array)
        self.data = array
        self.name = name
        self._grad = None
        self._grad_owned = False

    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def grad(self):
        return self._grad

    @grad.setter
    def grad(self, value) -> None:
        if value is not None:
            self._check_grad(value)
        self._grad = value
        self._grad_owned = False

    def use_grad_buffer(self, view) -> None:
        """Make ``grad`` a view into an optimizer's flat gradient buffer, owned by the library so
        that ``accumulate_grad`` adds into it in place (see ``optimlab.optim.flat``)."""
        self._check_grad(view)
        self._grad, self._grad_owned = view, True

    def accumulate_grad(self, value) -> None:
        """``grad += value``, allocating on first use; never writes into a caller's array."""
        self._check_grad(value)
        if self._grad is None or not self._grad_owned:
            xp = get_array_module(value)
            total = xp.array(value, dtype=self.data.dtype, copy=True)
            if self._grad is not None:
                total += self._grad
            self._grad = total
            self._grad_owned = True
        else:
            self._grad += value

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop the gradient, or make it zeros (a fresh array when the current one is the caller's)."""
        if set_to_none or self._grad is None:
            self._grad, self._grad_owned = None, False
        elif self._grad_owned:
            self._grad.fill(0)
        else:
            xp = get_array_module(self.data)
            self._grad, self._grad_owned = xp.zeros_like(self.data), True

    def _check_grad(self, value) -> None:
        label = f"gradient of parameter {self.name!r}" if self.name else "gradient"
        if not is_array(value):
            raise TypeError(f"{label} must be an array, got {type(value).__name__}")
        if is_cupy_array(value) != is_cupy_array(self.data):
            raise TypeError(f"{label} is on a different backend than the parameter")
        if tuple(value.shape) != tuple(self.data.shape):
            raise ValueError(f"{label} has shape {tuple(value.shape)}, parameter has {tuple(self.data.shape)}")
        if value.dtype != self.data.dtype:
            raise TypeError(f"{label} has dtype {value.dtype}, parameter has {self.data.dtype}")

    def __repr__(self) -> str:
        name = f"{self.name!r}, " if self.name else ""
        return f"Parameter({name}shape={tuple(self.shape)}, dtype={self.dtype})"
