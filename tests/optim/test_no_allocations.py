"""The NumPy path over flat buffers allocates no array memory per step once warmed up.

NumPy reports every array buffer it allocates to ``tracemalloc``, so the peak of traced memory
during one step bounds the temporaries the step creates. One float32 temporary of the 2**20-element
buffer used here would be 4 MiB. What remains is Python bookkeeping (floats, the resolved group
dict, small sets), which does not grow with the number of elements: the bounds below (1 KiB for the
reference update, 4 KiB for a whole ``optimizer.step()``) are three orders of magnitude below one
temporary, and the test also asserts that the peak is the same at 2**10 and 2**20 elements.
"""

import tracemalloc

import numpy as np
import pytest

import optimlab.optim as optim
from optimlab import Parameter
from optimlab.optim.adam import adam_init, adam_update
from optimlab.optim.flat import CHUNK, FlatState, scratch
from optimlab.optim.sgd import sgd_update

CONFIGS = [
    (optim.AdamW, {"lr": 1e-3}),
    (optim.Adam, {"lr": 1e-3, "weight_decay": 0.1, "amsgrad": True, "maximize": True}),
    (optim.SGD, {"lr": 1e-2, "momentum": 0.9}),
    (optim.SGD, {"lr": 1e-2, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1, "maximize": True}),
]


def _peak_bytes(step, repeats: int = 3) -> int:
    """Largest traced peak above the starting level over ``repeats`` calls of ``step``."""
    tracemalloc.start()
    try:
        peaks = []
        for _ in range(repeats):
            before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            step()
            peaks.append(tracemalloc.get_traced_memory()[1] - before)
        return max(peaks)
    finally:
        tracemalloc.stop()


def _flat_optimizer(cls, config, n):
    params = [Parameter(np.full(shape, 0.5, dtype=np.float32)) for shape in [(n,), (7, 3)]]
    optimizer = cls(params, **config).flatten()
    for p in params:
        p.grad = np.full(p.shape, 1e-3, dtype=np.float32)
    for _ in range(2):  # warm-up: state and scratch are created here
        optimizer.step()
    return optimizer


@pytest.mark.parametrize("cls, config", CONFIGS, ids=lambda v: v.__name__ if isinstance(v, type) else str(v))
def test_flat_step_allocates_nothing_that_grows_with_the_parameters(cls, config):
    small = _peak_bytes(_flat_optimizer(cls, config, 1 << 10).step)
    large = _peak_bytes(_flat_optimizer(cls, config, 1 << 20).step)
    assert large <= 4096, large
    assert large == small


@pytest.mark.parametrize("cls, config", CONFIGS, ids=lambda v: v.__name__ if isinstance(v, type) else str(v))
def test_the_pieces_share_their_temporaries(cls, config):
    """The pieces of the flat NumPy step run one after another, so the full-size ones share one set
    of temporaries: scratch of at most two pieces' size per name, not of the buffer's (a temporary
    per piece would also leave the cache between pieces)."""
    buffer = _flat_optimizer(cls, config, 1 << 20)._flat_buffers[0]
    distinct = {id(a): a for _, state, _ in buffer._pieces for a in state.scratch.values()}
    assert len(buffer._pieces) >= (1 << 20) // CHUNK
    assert 0 < sum(a.nbytes for a in distinct.values()) <= 2 * len(buffer._pieces[0][1].scratch) * CHUNK * 4


def test_reference_updates_allocate_under_one_kib():
    n = 1 << 20
    param, grad = np.full(n, 0.5, dtype=np.float32), np.full(n, 1e-3, dtype=np.float32)
    adam_state, sgd_state = FlatState(adam_init(param)), FlatState()
    def adamw():
        adam_update(param, grad, adam_state, lr=1e-3, weight_decay=1e-2, decoupled_weight_decay=True)

    def momentum():
        sgd_update(param, grad, sgd_state, lr=1e-2, momentum=0.9, dampening=0.1)

    for update in (adamw, momentum):
        update()  # first step: scratch (and SGD's momentum buffer) are allocated
        assert _peak_bytes(update) <= 1024


def test_first_step_does_allocate_so_the_measurement_can_see_arrays():
    """The probe is not blind: a fresh flat state must allocate its scratch (≥ one 4 MiB array)."""
    n = 1 << 20
    param, grad = np.full(n, 0.5, dtype=np.float32), np.full(n, 1e-3, dtype=np.float32)
    state = FlatState(adam_init(param))
    assert _peak_bytes(lambda: adam_update(param, grad, state, lr=1e-3), repeats=1) >= 4 * n


def test_scratch_is_kept_only_for_flat_states_and_is_never_exported():
    params = [Parameter(np.ones(5)), Parameter(np.ones(3))]
    optimizer = optim.Adam(params, lr=0.1, maximize=True).flatten()
    for p in params:
        p.grad = np.ones(p.shape)
    optimizer.step()
    _, piece_state, _ = optimizer._flat_buffers[0]._pieces[0]  # the NumPy path steps the buffer in pieces
    assert set(piece_state.scratch) == {"work", "grad"}
    buffer = optimizer._flat_buffers[0].data
    assert scratch(piece_state, "work", buffer) is piece_state.scratch["work"]  # reused, not reallocated
    assert all(set(s) == {"step", "exp_avg", "exp_avg_sq"} for s in optimizer.state_dict()["state"].values())
    assert optimizer.state_bytes() == 2 * 8 * 8  # exp_avg and exp_avg_sq of 8 float64 elements, no scratch
    plain = {}
    assert scratch(plain, "work", params[0].data) is not scratch(plain, "work", params[0].data)
    assert plain == {}
