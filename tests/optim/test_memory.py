"""Memory accounting: every exported optimizer's ``state_bytes()`` equals the bytes of the state it
really holds after a step on a small float32 model, and the book's table (``state_bytes_table``)
covers every optimizer with measured values.

The reference count walks ``state_dict()`` (copies made by another code path: every array it would
save, in nested lists and dicts too, the hyperparameters excluded) and sums ``nbytes``; the two must
agree exactly (integers). A few rows are also checked against bytes worked out by hand from the
shapes of ``MEMORY_SHAPES`` (256×512 weight + 512 bias = 131,584 float32 parameters).
"""

import numpy as np
import pytest

import optimlab.optim as optim
from optimlab import Parameter
from optimlab.optim.memory import MEMORY_SHAPES, state_bytes_table, stepped, stepping_optimizers

N_WEIGHT, N_BIAS = 256 * 512, 512
N = N_WEIGHT + N_BIAS


def _saved_bytes(tree) -> int:
    if isinstance(tree, np.ndarray):
        return tree.nbytes
    if isinstance(tree, dict):
        return sum(_saved_bytes(value) for key, value in tree.items() if key != "param_groups")
    if isinstance(tree, (list, tuple)):
        return sum(_saved_bytes(value) for value in tree)
    return 0


@pytest.fixture(scope="module")
def table():
    return {row.optimizer: row for row in state_bytes_table()}


def test_every_exported_optimizer_is_measured(table):
    exported = {name for name in optim.__all__ if hasattr(getattr(optim, name), "step")} - {"Optimizer"}
    assert set(stepping_optimizers()) == exported
    assert set(table) == exported


@pytest.mark.parametrize("name", stepping_optimizers())
def test_state_bytes_equals_the_bytes_of_the_real_state(name):
    optimizer, _ = stepped(name)
    assert optimizer.state_bytes() == _saved_bytes(optimizer.state_dict()) > (0 if name != "SGD" else -1)


def test_flattening_does_not_count_twice():
    """After ``flatten()`` each parameter's state is a view into one buffer: the same bytes."""
    optimizer, params = stepped("AdamW")
    flat_optimizer = optim.AdamW([Parameter(p.data.copy(), name=p.name) for p in params]).flatten()
    for param in flat_optimizer.param_groups[0]["params"]:
        param.grad = np.ones_like(param.data)
    flat_optimizer.step()
    assert flat_optimizer.state_bytes() == optimizer.state_bytes() == 2 * 4 * N


# bytes worked out from the shapes: Adam's m and v; Lion's m; Lookahead(AdamW): m, v and the slow
# weights; Adafactor: a (256, 1) row and a (1, 512) column factor for the matrix, a full v for the
# bias; 8-bit: one byte per element for m and v plus a float32 absmax per 256 elements for the
# matrix, float32 m and v for the 512-element bias (below min_8bit_size = 4096); Adam-mini: m plus
# one v per row of the matrix (256) and per element of the bias (a "bias" is Adam).
BY_HAND = {
    "Adam": 2 * 4 * N,
    "Lion": 4 * N,
    "Lookahead": 3 * 4 * N,
    "Adafactor": 4 * (256 + 512) + 4 * N_BIAS,
    "Adam8bit": 2 * (N_WEIGHT + 4 * N_WEIGHT // 256) + 2 * 4 * N_BIAS,
    "AdamMini": 4 * N + 4 * 256 + 4 * N_BIAS,
}


@pytest.mark.parametrize("name", sorted(BY_HAND))
def test_table_rows_match_bytes_worked_out_by_hand(table, name):
    assert MEMORY_SHAPES == {"mlp.weight": (256, 512), "mlp.bias": (512,)}
    assert table[name].state_bytes == BY_HAND[name]
    assert table[name].parameters == N
