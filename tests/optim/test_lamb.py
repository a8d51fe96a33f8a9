"""LAMB and LARS beyond the oracle runs (``test_oracle_cases``): the zero-norm trust ratio (ratio 1
when either norm is 0, as optax and torch-optimizer do) checked against both libraries and a closed
form, the clamp, and LARS's state without momentum."""

import numpy as np
import pytest
import torch

from optimlab import Parameter
from optimlab.optim.lamb import LAMB, LARS, trust_ratio


def test_trust_ratio_rule():
    assert trust_ratio(0.0, 3.0) == 1.0 and trust_ratio(2.0, 0.0) == 1.0 and trust_ratio(0.0, 0.0) == 1.0
    assert trust_ratio(2.0, 4.0) == 0.5 and trust_ratio(2.0, 3.0, eps=1.0) == 0.5


def test_lamb_from_zero_weights_closed_form_and_torch_optimizer():
    """θ₀ = 0: ‖θ‖ = 0, so the ratio is 1 and the first step is η·m̂/(√v̂ + ε) = η·g/(|g| + ε)."""
    from torch_optimizer import Lamb

    grad = np.array([0.5, -2.0, 0.0, 1e-3])
    lr, eps = 0.1, 1e-6
    ours = Parameter(np.zeros(4))
    optimizer = LAMB([ours], lr=lr, eps=eps)
    ours.grad = grad
    optimizer.step()
    np.testing.assert_allclose(ours.data, -lr * grad / (np.abs(grad) + eps), rtol=1e-14)
    assert optimizer.state[ours]["trust_ratio"] == 1.0

    mine = Parameter(np.zeros(4))
    torch_like = LAMB([mine], lr=lr, eps=eps, bias_correction="none", clamp_value=10.0)
    theirs = torch.zeros(4, dtype=torch.float64, requires_grad=True)
    reference = Lamb([theirs], lr=lr, eps=eps)
    for _ in range(3):
        mine.grad = grad
        theirs.grad = torch.from_numpy(grad.copy())
        torch_like.step()
        reference.step()
        np.testing.assert_allclose(mine.data, theirs.detach().numpy(), rtol=1e-14)


def test_lamb_from_zero_weights_matches_optax():
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import optax

    grad = np.array([[0.5, -2.0], [0.0, 1e-3]])
    ours = Parameter(np.zeros((2, 2)))
    optimizer = LAMB([ours], lr=0.1, weight_decay=0.01)
    transformation = optax.lamb(0.1, weight_decay=0.01)
    theirs = jnp.zeros((2, 2))
    state = transformation.init(theirs)
    for _ in range(3):
        ours.grad = grad
        optimizer.step()
        updates, state = transformation.update(jnp.asarray(grad), state, theirs)
        theirs = optax.apply_updates(theirs, updates)
        np.testing.assert_allclose(ours.data, np.asarray(theirs), rtol=1e-14)


def test_zero_gradient_without_decay_leaves_weights():
    """‖r‖ = 0: ratio 1 and a zero step (no division by zero)."""
    param = Parameter(np.ones(3))
    optimizer = LAMB([param], lr=0.1)
    param.grad = np.zeros(3)
    optimizer.step()
    np.testing.assert_array_equal(param.data, np.ones(3))
    assert optimizer.state[param]["trust_ratio"] == 1.0 and optimizer.state[param]["adam_norm"] == 0.0


def test_clamp_caps_the_weight_norm():
    param = Parameter(np.full(4, 10.0))  # ‖θ‖ = 20
    optimizer = LAMB([param], lr=0.1, clamp_value=5.0, bias_correction="none")
    param.grad = np.ones(4)
    optimizer.step()
    state = optimizer.state[param]
    assert state["weight_norm"] == 5.0
    assert state["trust_ratio"] == pytest.approx(5.0 / state["adam_norm"], rel=1e-15)


def test_lars_without_momentum_keeps_no_buffer():
    param = Parameter(np.ones(3))
    optimizer = LARS([param], lr=1.0, momentum=0.0, trust_coefficient=0.1)
    param.grad = np.array([1.0, 2.0, 2.0])
    optimizer.step()
    assert optimizer.state[param] == {}
    # τ = k‖θ‖/‖g‖ = 0.1·√3/3; θ₁ = θ₀ − τ g
    np.testing.assert_allclose(param.data, 1 - 0.1 * np.sqrt(3) / 3 * np.array([1.0, 2.0, 2.0]), rtol=1e-15)


@pytest.mark.parametrize("cls", [LAMB, LARS])
def test_trust_ratio_optimizers_cannot_flatten(cls):
    with pytest.raises(TypeError, match="not elementwise"):
        cls([Parameter(np.ones(3))]).flatten()
