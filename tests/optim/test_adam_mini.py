"""AdamMini against the ``adam-mini`` package (the authors' implementation) over named parameters
whose names select every kind of block; the fused kernel against the NumPy reference; the block
partition against the package's state shapes; memory; bad input (resume and the caller's gradient:
``tests/reliability``, over the same configurations).

Tolerances: 1e-12 relative in float64 against the oracle and the kernel (the same formula in a
different operation order: a few ulp per step over 50 steps); 1e-5 for the float32 kernel.
"""

import numpy as np
import pytest

from optimlab import Parameter
from optimlab.kernels import cpu_compiler_available
from optimlab.optim.adam_mini import AdamMini, adam_mini_blocks
from optimlab.verify.parity import relative_error, run_kernel_parity
from optimlab.verify.side_by_side import ADAM_MINI_CONFIGS, adam_mini_check

CONFIGS = [pytest.param(c, id=", ".join(f"{k}={v}" for k, v in c.items())) for c in ADAM_MINI_CONFIGS]


@pytest.mark.parametrize("config", CONFIGS)
def test_matches_adam_mini(config):
    pytest.importorskip("adam_mini")
    result = adam_mini_check(config, steps=50, dtype=np.float64, seed=0, build=AdamMini)
    assert not result.problems, result.problems
    assert result.error <= 1e-12, result


SHAPED = [("layer.bias", (7,)), ("mlp.fc.weight", (6, 4)), ("lm_head.weight", (9, 3)), ("model.q_proj.weight", (8, 8)),
          ("model.wk.weight", (4, 8)), ("norm.weight", (5,)), ("conv.kernel", (2, 3, 4)), ("step_scale", ())]


def test_blocks_match_the_package_state():
    """The number of second-moment scalars per parameter equals the size of the package's ``vmean``
    (or ``v`` for Adam blocks) after one step, for every kind of name (dim 8, 4 heads: 16 per head)."""
    torch = pytest.importorskip("torch")
    adam_mini = pytest.importorskip("adam_mini")
    tensors = [torch.ones(shape, dtype=torch.float64, requires_grad=True) for _, shape in SHAPED]
    theirs = adam_mini.Adam_mini([(name, t) for (name, _), t in zip(SHAPED, tensors)], dim=8, n_heads=4, verbose=False)
    for t in tensors:
        t.grad = torch.ones_like(t)
    theirs.step()
    for (name, shape), t in zip(SHAPED, tensors):
        state = theirs.state[t]
        expected = (state["vmean"] if "vmean" in state else state["v"]).numel()
        assert adam_mini_blocks(name, shape, dim=8, n_heads=4) == expected, name


def test_state_bytes_are_one_scalar_per_block():
    params = [(name, Parameter(np.ones(shape, dtype=np.float32))) for name, shape in SHAPED]
    optimizer = AdamMini(params, dim=8, n_heads=4)
    for _, p in params:
        p.grad = np.ones(p.shape, dtype=np.float32)
    optimizer.step()
    elements = sum(p.size for _, p in params)
    blocks = 7 + 6 + 9 + 64 // 16 + 32 // 16 + 1 + 1 + 1  # bias: per element; rows; heads; one each
    assert optimizer.state_bytes() == 4 * (elements + blocks)


KERNEL_DTYPES = [(np.float64, 1e-12), (np.float32, 1e-5)]


@pytest.mark.skipif(not cpu_compiler_available(), reason="needs a C++ compiler (g++)")
@pytest.mark.parametrize("dtype,tolerance", KERNEL_DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("config", [{"lr": 0.01}, {"lr": 0.02, "betas": (0.5, 0.9), "eps": 1e-3, "weight_decay": 0.1}])
def test_kernel_matches_reference(config, dtype, tolerance):
    result = run_kernel_parity(AdamMini, config, steps=50, dtype=dtype)
    assert not result.problems, result.problems
    assert result.error <= tolerance, result


def test_one_block_per_tensor_is_adam_with_the_mean_square():
    """Closed form: a generic 2-element parameter, one step: v = (1 − β₂)·mean(g²), bias-corrected
    step η·g/(|…|·√mean(g²) + ε) with m̂ = g."""
    param = Parameter(np.array([1.0, 2.0]))
    optimizer = AdamMini([param], lr=0.1, eps=0.0)
    param.grad = np.array([3.0, 4.0])
    optimizer.step()
    rms = np.sqrt(12.5)
    np.testing.assert_allclose(optimizer.state[param]["vmean"], [0.001 * 12.5], rtol=1e-14)
    np.testing.assert_allclose(param.data, [1.0 - 0.1 * 3 / rms, 2.0 - 0.1 * 4 / rms], rtol=1e-14)


@pytest.mark.parametrize("name,shape,fragment", [
    ("attn.q_proj.weight", (3, 5), "dim²/n_heads"),
    ("mlp.weight", (6,), "2-D"),
])
def test_shapes_the_partition_cannot_split(name, shape, fragment):
    param = Parameter(np.ones(shape), name=name)
    param.grad = np.ones(shape)
    with pytest.raises(ValueError, match=fragment):
        AdamMini([param], dim=4, n_heads=2).step()


def test_kv_heads_must_divide_heads():
    with pytest.raises(ValueError, match="n_kv_heads"):
        AdamMini([Parameter(np.ones(2))], n_heads=8, n_kv_heads=3)
