"""Shampoo against an independent float64 closed form of the paper (written here with SciPy's
``fractional_matrix_power`` and ``einsum``: L ← L + GGᵀ, R ← R + GᵀG, θ ← θ − η L^{-1/4} G R^{-1/4},
and the order-k and vector forms), and against torch-optimizer's ``Shampoo`` under its convention.

Tolerances. Paper: 1e-10 relative — the same formula through a different matrix-root algorithm
(Schur vs eigendecomposition); the statistics have condition numbers up to ~1e6 (εI = 1e-4 beside
eigenvalues ~1e2), so each root carries ~κ·ulp ≈ 1e-10 relative error. torch-optimizer: 1e-8 —
its roots come from an SVD, and 50 sequential steps (each mode's statistic built from the previous
mode's preconditioned gradient) accumulate those errors (measured 5e-10). Resume and the caller's
gradient: ``tests/reliability`` (the table's Shampoo entry has an order-3 parameter too).
"""

import numpy as np
import pytest

from optimlab import Parameter
from optimlab.optim.shampoo import Shampoo
from optimlab.verify.parity import TrajectoryProblem, relative_error
from optimlab.verify.side_by_side import SHAMPOO_CONFIGS, shampoo_check

SHAPES = ((5, 4), (4,), (2, 3, 4))


def _paper_reference(initial, grads_fn, steps, *, lr, epsilon, update_freq=1):
    """Algorithm 2 of the paper for each parameter, float64, from scratch."""
    from scipy.linalg import fractional_matrix_power

    thetas = [x.copy() for x in initial]
    stats = [[epsilon * np.eye(n) for n in x.shape] for x in thetas]
    roots = [[None] * x.ndim for x in thetas]
    for step in range(steps):
        for index, (theta, grad) in enumerate(zip(thetas, grads_fn(thetas, step))):
            k = theta.ndim
            letters = "abcdefgh"[:k]
            for mode in range(k):
                unfolded = np.moveaxis(grad, mode, 0).reshape(grad.shape[mode], -1)
                stats[index][mode] = stats[index][mode] + unfolded @ unfolded.T  # H_i += G_(i) G_(i)ᵀ
                if step % update_freq == 0:
                    roots[index][mode] = np.real(fractional_matrix_power(stats[index][mode], -1 / (2 * k)))
            update = grad
            for mode in range(k):  # G ×_i H_i^{-1/2k}
                subscripts = f"z{letters[mode]},{letters}->{letters.replace(letters[mode], 'z')}"
                update = np.einsum(subscripts, roots[index][mode], update)
            thetas[index] = theta - lr * update
    return thetas, stats


@pytest.mark.parametrize("config", [{"lr": 0.1, "epsilon": 1e-4}, {"lr": 0.05, "epsilon": 1e-2, "update_freq": 3}])
def test_matches_the_paper_closed_form(config):
    problem = TrajectoryProblem(seed=0, shapes=SHAPES)
    expected, stats = _paper_reference(problem.initial, problem.grads, 30, **config)
    params = [Parameter(x.copy()) for x in problem.initial]
    optimizer = Shampoo(params, **config)
    for step in range(30):
        for p, g in zip(params, problem.grads([p.data for p in params], step)):
            p.grad = g
        optimizer.step()
    for p, theta, stat in zip(params, expected, stats):
        assert relative_error(p.data, theta) <= 1e-10
        for mode, matrix in enumerate(stat):
            assert relative_error(optimizer.state[p][f"precond_{mode}"], matrix) <= 1e-10  # built from the trajectory


def test_matrix_step_is_l_quarter_g_r_quarter():
    """One step by hand: G = diag(2, 1) gives L = R = εI + diag(4, 1), so the update is
    diag(2/(4+ε)^½, 1/(1+ε)^½) (each side contributes a fourth root)."""
    param = Parameter(np.zeros((2, 2)))
    optimizer = Shampoo([param], lr=1.0, epsilon=1e-4)
    param.grad = np.diag([2.0, 1.0])
    optimizer.step()
    np.testing.assert_allclose(param.data, -np.diag([2 / np.sqrt(4 + 1e-4), 1 / np.sqrt(1 + 1e-4)]), rtol=1e-14)


@pytest.mark.parametrize("config", SHAMPOO_CONFIGS, ids=str)
def test_torch_optimizer_convention_matches_torch_optimizer(config):
    pytest.importorskip("torch_optimizer")
    result = shampoo_check(config, steps=50, dtype=np.float64, seed=0, build=Shampoo)
    assert not result.problems, result.problems
    assert result.error <= 1e-8, result


def test_the_conventions_differ():
    """On a matrix the two conventions give different steps from the second one on (exponent and
    sequential statistics), so each test above can only pass with its own convention."""
    problem = TrajectoryProblem(seed=0, shapes=((3, 2),))
    results = []
    for convention in ("paper", "torch_optimizer"):
        param = Parameter(problem.initial[0].copy())
        optimizer = Shampoo([param], convention=convention)
        for step in range(3):
            param.grad = problem.grads([param.data], step)[0]
            optimizer.step()
        results.append(param.data)
    assert relative_error(*results) > 1e-2


def test_state_bytes_are_the_preconditioners():
    param = Parameter(np.ones((30, 20), dtype=np.float32))
    optimizer = Shampoo([param])
    param.grad = np.ones((30, 20), dtype=np.float32)
    optimizer.step()
    assert optimizer.state_bytes() == 4 * 2 * (30 * 30 + 20 * 20)


def test_float32_statistics_with_rounding_below_zero_stay_finite():
    """A 256×512 float32 step: L = εI + GGᵀ (entries ~1e4) has eigenvalues that float32 eigh puts
    below 0; the root uses |λ| (as torch-optimizer's SVD), so no NaN reaches the parameters."""
    from optimlab.optim.memory import stepped

    _, params = stepped("Shampoo")
    assert all(np.isfinite(p.data).all() for p in params)
