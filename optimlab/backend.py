"""Array backends: NumPy on the CPU, CuPy on the GPU.

The backend of a computation is decided by where its arrays live (``get_array_module``), as in
CuPy's own ``cupy.get_array_module``. A global default (``set_backend``) decides where *new* arrays
are created (``asarray``). This is the only module that imports CuPy, and it does so lazily, so the
package imports and runs on machines without CuPy or without a GPU.
"""

from __future__ import annotations

import types

import numpy as np

BACKENDS = ("numpy", "cupy")
_default = "numpy"


class BackendUnavailableError(RuntimeError):
    """CuPy was asked for but cannot be used here (not installed, or no usable GPU)."""


def cupy_module() -> types.ModuleType:
    """Import and return CuPy, or raise ``BackendUnavailableError`` saying why it cannot be used."""
    try:
        import cupy
    except ImportError as exc:
        raise BackendUnavailableError(
            "backend 'cupy' needs CuPy: install optimlab with the 'cuda12' or 'cuda13' extra"
        ) from exc
    if not cupy.is_available():
        raise BackendUnavailableError(
            "backend 'cupy' needs a usable CUDA GPU, and cupy.is_available() is False on this machine"
        )
    return cupy


def set_backend(name: str) -> None:
    """Choose where new arrays are created: ``"numpy"`` (default) or ``"cupy"``."""
    global _default
    if not isinstance(name, str):
        raise TypeError(f"backend must be a str, got {type(name).__name__}: {name!r}")
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose one of {BACKENDS}")
    if name == "cupy":
        cupy_module()
    _default = name


def get_backend() -> str:
    """The name of the default backend."""
    return _default


def is_cupy_array(array) -> bool:
    """True for a CuPy ndarray, decided without importing CuPy."""
    return type(array).__module__.split(".")[0] == "cupy"


def is_array(value) -> bool:
    """True for a NumPy or CuPy ndarray."""
    return isinstance(value, np.ndarray) or (is_cupy_array(value) and hasattr(value, "shape"))


def get_array_module(*arrays) -> types.ModuleType:
    """``cupy`` if any argument is a CuPy array, else ``numpy``."""
    if any(is_cupy_array(a) for a in arrays):
        return cupy_module()
    return np


def default_module() -> types.ModuleType:
    """The array module of the default backend."""
    return cupy_module() if _default == "cupy" else np


def asarray(value, dtype=None):
    """``value`` as an array of the default backend (no copy when it already is one)."""
    return default_module().asarray(value, dtype=dtype)


def to_numpy(array) -> np.ndarray:
    """A NumPy array with the values of ``array`` (copied off the GPU when needed)."""
    if is_cupy_array(array):
        return array.get()
    return np.asarray(array)
