"""One BLAS thread per test process: the suite multiplies small matrices, where extra threads only add
synchronisation, and under ``pytest -n 2`` on two cores they would oversubscribe the machine."""

import contextlib

import pytest

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # threadpoolctl comes with scikit-learn; without it, leave the defaults
    threadpool_limits = None


@pytest.fixture(autouse=True)
def _single_blas_thread():
    with threadpool_limits(limits=1, user_api="blas") if threadpool_limits else contextlib.nullcontext():
        yield
