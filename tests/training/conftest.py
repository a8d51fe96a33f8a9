"""Shared fixtures: the backend (NumPy always; CuPy where a GPU is usable, under the ``gpu`` marker)."""

import numpy as np
import pytest

from optimlab import backend


def _cupy_or_skip():
    try:
        return backend.cupy_module()
    except backend.BackendUnavailableError as exc:
        pytest.skip(str(exc))


@pytest.fixture(params=["numpy", pytest.param("cupy", marks=pytest.mark.gpu)])
def xp(request):
    """The array module under test; the default backend is set to it for the test's duration."""
    module = np if request.param == "numpy" else _cupy_or_skip()
    previous = backend.get_backend()
    backend.set_backend(request.param)
    yield module
    backend.set_backend(previous)
