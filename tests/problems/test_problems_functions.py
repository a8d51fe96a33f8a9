"""Test functions: gradients against torch autograd, minimisers, conditioning, noise, trajectories."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from optimlab.parameter import Parameter
from optimlab.problems import Beale, Quadratic, Rosenbrock, Saddle, run_optimizer

# f written again in torch, independently of the package, for autograd to differentiate
TORCH_F = {
    Rosenbrock: lambda p: (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2,
    Beale: lambda p: (1.5 - p[0] + p[0] * p[1]) ** 2 + (2.25 - p[0] + p[0] * p[1] ** 2) ** 2
    + (2.625 - p[0] + p[0] * p[1] ** 3) ** 2,
    Saddle: lambda p: p[0] ** 2 / 2 - p[1] ** 2 / 2 + p[1] ** 4 / 4,
}


@pytest.mark.parametrize("cls", list(TORCH_F), ids=lambda c: c.__name__)
def test_2d_value_and_gradient_match_torch(cls):
    problem = cls()
    for point in np.random.default_rng(0).uniform(-2, 2, (10, 2)):
        t = torch.tensor(point, requires_grad=True)
        value = TORCH_F[cls](t)
        value.backward()
        np.testing.assert_allclose(problem.value(point), value.item(), rtol=1e-13)
        np.testing.assert_allclose(problem.grad(point), t.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("problem", [Rosenbrock(), Beale(), Saddle(), Quadratic.ill_conditioned(5, 100.0)],
                         ids=lambda p: type(p).__name__)
def test_minimizer_is_stationary_with_the_stated_value(problem):
    np.testing.assert_allclose(problem.grad(problem.minimizer), 0, atol=1e-12)
    np.testing.assert_allclose(problem.value(problem.minimizer), problem.min_value, atol=1e-15)
    # and it is a minimum: nearby points are higher
    for d in np.random.default_rng(1).normal(size=(20, problem.dim)) * 1e-3:
        assert problem.value(problem.minimizer + d) > problem.min_value


def test_saddle_point_is_a_saddle():
    s = Saddle()
    np.testing.assert_array_equal(s.grad(s.saddle_point), 0)
    assert s.value(np.array([1e-3, 0.0])) > 0 > s.value(np.array([0.0, 1e-3]))


def test_quadratic_gradient_matches_torch_and_conditioning_is_as_asked():
    q = Quadratic.ill_conditioned(6, 1e4, seed=3)
    np.testing.assert_allclose(np.linalg.cond(q.matrix), 1e4, rtol=1e-8)  # numpy's SVD, not our eigenvalues
    assert q.condition_number == pytest.approx(1e4, rel=1e-8)
    np.testing.assert_allclose(np.linalg.norm(q.matrix, 2), 1.0, rtol=1e-12)  # λ_max = 1
    x = np.random.default_rng(4).normal(size=6)
    t = torch.tensor(x, requires_grad=True)
    d = t - torch.from_numpy(q.minimizer)
    (0.5 * d @ torch.from_numpy(q.matrix) @ d).backward()
    np.testing.assert_allclose(q.grad(x), t.grad.numpy(), rtol=1e-12)


def test_noisy_quadratic_noise_has_the_stated_mean_and_std_and_is_seeded():
    a, b = (Quadratic.ill_conditioned(3, 10.0, noise_std=0.5, seed=7) for _ in range(2))
    x = np.ones(3)
    samples = np.stack([a.grad(x) for _ in range(4000)])
    np.testing.assert_array_equal(samples[0], b.grad(x))
    exact = Quadratic(a.matrix, a.minimizer).grad(x)
    # 4000 samples: standard error of the mean 0.5/√4000 ≈ 0.008, allow 5 of them; the std within 5%
    np.testing.assert_allclose(samples.mean(axis=0), exact, atol=0.04)
    np.testing.assert_allclose(samples.std(axis=0), 0.5, rtol=0.05)


def test_gradient_descent_trajectory_matches_the_closed_form():
    """With step η, x_t − x* = (I − ηA)^t (x_0 − x*): the helper, the quadratic and torch's SGD
    have to agree with linear algebra."""
    q = Quadratic.ill_conditioned(4, 50.0, seed=5)
    traj = run_optimizer(q, torch.optim.SGD, 30, lr=0.9)
    for t in (0, 1, 7, 30):
        expected = q.minimizer + np.linalg.matrix_power(np.eye(4) - 0.9 * q.matrix, t) @ (q.start - q.minimizer)
        np.testing.assert_allclose(traj.points[t], expected, rtol=1e-12, atol=1e-12)
    assert traj.points.shape == (31, 4) and traj.values[0] == pytest.approx(q.value(q.start))
    assert np.all(np.diff(traj.values) < 0)  # η < 2/λ_max: monotone decrease


class _PlainSGD:
    """The simplest torch-style optimizer on optimlab Parameters, to drive the helper."""

    def __init__(self, params, lr):
        self.params, self.lr = list(params), lr

    def step(self):
        for p in self.params:
            p.data -= self.lr * p.grad


def test_helper_drives_optimlab_and_torch_optimizers_identically():
    for problem in (Rosenbrock(), Beale(), Saddle()):
        ours = run_optimizer(problem, _PlainSGD, 200, lr=1e-3)
        theirs = run_optimizer(problem, torch.optim.SGD, 200, lr=1e-3)
        np.testing.assert_allclose(ours.points, theirs.points, rtol=1e-13, atol=1e-15)


def test_helper_passes_a_parameter_and_leaves_start_alone():
    seen = []

    class Spy(_PlainSGD):
        def __init__(self, params, lr):
            super().__init__(params, lr)
            seen.extend(self.params)

    start = np.array([0.5, 0.5])
    run_optimizer(Rosenbrock(), Spy, 3, start=start, lr=1e-3)
    assert isinstance(seen[0], Parameter) and seen[0].name == "x"
    np.testing.assert_array_equal(start, [0.5, 0.5])


def test_saddle_escape_takes_longer_from_closer_to_the_stable_manifold():
    s = Saddle()

    def steps_to_escape(y0):
        traj = run_optimizer(s, _PlainSGD, 400, start=np.array([1.0, y0]), lr=0.1)
        return int(np.argmax(traj.points[:, 1] > 0.5))

    # along y the iteration is y ← 1.1 y (while y is small): each factor 10 costs log(10)/log(1.1) ≈ 24 steps
    assert steps_to_escape(1e-6) - steps_to_escape(1e-3) == pytest.approx(3 * np.log(10) / np.log(1.1), abs=2)


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"expects a point of shape \(2,\), got \(3,\)"):
        Rosenbrock().grad(np.zeros(3))
    with pytest.raises(ValueError, match="positive definite"):
        Quadratic(np.diag([1.0, -1.0]), np.zeros(2))
    with pytest.raises(ValueError, match="symmetric"):
        Quadratic(np.array([[1.0, 0.5], [0.0, 1.0]]), np.zeros(2))
    with pytest.raises(ValueError, match="NaN"):
        Quadratic(np.eye(2), np.array([0.0, np.nan]))
    with pytest.raises(ValueError, match="noise_std must be non-negative"):
        Quadratic(np.eye(2), np.zeros(2), noise_std=-1.0)
    with pytest.raises(ValueError, match="steps must be a non-negative int"):
        run_optimizer(Rosenbrock(), _PlainSGD, -1, lr=0.1)
    with pytest.raises(ValueError, match=r"start must have shape \(2,\)"):
        run_optimizer(Rosenbrock(), _PlainSGD, 1, start=np.zeros(3), lr=0.1)
