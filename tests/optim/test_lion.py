"""Lion in closed form (the oracle comparison is in ``test_oracle_cases``): the first step from a zero
momentum, and every coordinate moving by exactly η (plus the decay)."""

import numpy as np

from optimlab import Parameter
from optimlab.optim.lion import Lion


def test_first_step_closed_form():
    theta0, grad = np.array([1.0, -2.0, 0.5, 3.0]), np.array([0.3, -0.1, 0.0, -4.0])
    lr, weight_decay = 0.1, 0.5
    param = Parameter(theta0.copy())
    optimizer = Lion([param], lr=lr, betas=(0.9, 0.99), weight_decay=weight_decay)
    param.grad = grad
    optimizer.step()
    # θ₁ = (1 − ηλ)θ₀ − η sign((1 − β₁)g), m₁ = (1 − β₂)g; sign(0) = 0 leaves that coordinate decayed only
    np.testing.assert_array_equal(param.data, (1 - lr * weight_decay) * theta0 - lr * np.sign(grad))
    np.testing.assert_allclose(optimizer.state[param]["exp_avg"], 0.01 * grad, rtol=1e-15)


def test_every_coordinate_moves_by_the_learning_rate():
    rng = np.random.default_rng(0)
    param = Parameter(rng.standard_normal(100))
    optimizer = Lion([param], lr=0.01)
    for _ in range(5):
        before = param.data.copy()
        param.grad = rng.standard_normal(100) * 10.0 ** rng.uniform(-6, 6, 100)
        optimizer.step()
        np.testing.assert_allclose(np.abs(param.data - before), 0.01, rtol=1e-12)


def test_state_is_one_moment():
    param = Parameter(np.ones((3, 4)))
    optimizer = Lion([param])
    param.grad = np.ones((3, 4))
    optimizer.step()
    assert set(optimizer.state[param]) == {"exp_avg"}
    assert optimizer.state_bytes() == 8 * 12
