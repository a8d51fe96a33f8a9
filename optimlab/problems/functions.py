"""Test functions with known minimisers: quadratics (ill-conditioned, noisy), Rosenbrock, Beale and
a 2-D saddle. Each has ``value(x)``, ``grad(x)``, ``minimizer``, ``min_value`` and a ``start``
point, and works on NumPy or CuPy vectors (the backend of ``x``).
"""

from __future__ import annotations

import numpy as np

from optimlab.backend import get_array_module
from optimlab.nn.module import as_generator


def _check_point(problem, x) -> None:
    if x.shape != (problem.dim,):
        raise ValueError(f"{type(problem).__name__} expects a point of shape ({problem.dim},), got {tuple(x.shape)}")


class Quadratic:
    """f(x) = ½ (x − x*)ᵀ A (x − x*),  ∇f(x) = A (x − x*),  A symmetric positive definite.

    With ``noise_std`` = σ > 0, ``grad`` returns a stochastic gradient A (x − x*) + σ ξ, ξ ~ N(0, I)
    drawn from a ``Generator`` seeded by ``seed`` (``value`` stays exact). The condition number
    κ = λ_max / λ_min of A sets how slowly gradient descent converges: with step 1/λ_max the error
    along the λ_min eigenvector shrinks by (1 − 1/κ) per step.
    """

    def __init__(self, matrix, minimizer, *, noise_std: float = 0.0, seed=0):
        matrix, minimizer = np.asarray(matrix, dtype=np.float64), np.asarray(minimizer, dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape != (minimizer.size, minimizer.size) or minimizer.ndim != 1:
            raise ValueError(f"Quadratic needs an (n, n) matrix and an (n,) minimizer, got {matrix.shape} and {minimizer.shape}")
        if not (np.isfinite(matrix).all() and np.isfinite(minimizer).all()):
            raise ValueError("Quadratic matrix and minimizer must be finite (found NaN or infinity)")
        if not np.allclose(matrix, matrix.T, rtol=0, atol=1e-12 * np.abs(matrix).max()):
            raise ValueError("Quadratic matrix must be symmetric")
        self.eigenvalues = np.linalg.eigvalsh(matrix)
        if self.eigenvalues[0] <= 0:
            raise ValueError(f"Quadratic matrix must be positive definite, smallest eigenvalue is {self.eigenvalues[0]:.3g}")
        if not noise_std >= 0:
            raise ValueError(f"noise_std must be non-negative, got {noise_std!r}")
        self.matrix, self.minimizer, self.noise_std = matrix, minimizer, float(noise_std)
        self.dim, self.min_value = minimizer.size, 0.0
        self.start = np.zeros(self.dim)
        self.rng = as_generator(seed)

    @classmethod
    def ill_conditioned(cls, dim: int, condition_number: float, *, noise_std: float = 0.0, seed=0) -> Quadratic:
        """A = Q diag(λ) Qᵀ with λ_i = κ^{−i/(n−1)} (so λ_max = 1, λ_min = 1/κ), Q a random rotation
        and x* ~ N(0, I), both drawn from ``seed``."""
        if dim < 2 or not condition_number >= 1:
            raise ValueError(f"need dim ≥ 2 and condition_number ≥ 1, got dim={dim!r}, condition_number={condition_number!r}")
        rng = as_generator(seed)
        q, r = np.linalg.qr(rng.normal(size=(dim, dim)))
        q *= np.sign(np.diag(r))  # a uniformly distributed rotation (Mezzadri's sign fix)
        eigenvalues = float(condition_number) ** (-np.arange(dim) / (dim - 1))
        return cls((q * eigenvalues) @ q.T, rng.normal(size=dim), noise_std=noise_std, seed=rng)

    @property
    def condition_number(self) -> float:
        return float(self.eigenvalues[-1] / self.eigenvalues[0])

    def value(self, x):
        _check_point(self, x)
        xp = get_array_module(x)
        d = x - xp.asarray(self.minimizer, dtype=x.dtype)
        return 0.5 * d @ (xp.asarray(self.matrix, dtype=x.dtype) @ d)

    def grad(self, x):
        _check_point(self, x)
        xp = get_array_module(x)
        g = xp.asarray(self.matrix, dtype=x.dtype) @ (x - xp.asarray(self.minimizer, dtype=x.dtype))
        if self.noise_std:
            g = g + xp.asarray(self.noise_std * self.rng.normal(size=self.dim), dtype=x.dtype)
        return g


class Rosenbrock:
    """f(x, y) = (a − x)² + b (y − x²)²; minimiser (a, a²), f* = 0; a curved narrow valley.

    ∇f = (−2(a − x) − 4 b x (y − x²),  2 b (y − x²)). Classic start (−1.2, 1).
    """

    dim, min_value = 2, 0.0

    def __init__(self, a: float = 1.0, b: float = 100.0):
        self.a, self.b = float(a), float(b)
        self.minimizer = np.array([self.a, self.a**2])
        self.start = np.array([-1.2, 1.0])

    def value(self, p):
        _check_point(self, p)
        x, y = p
        return (self.a - x) ** 2 + self.b * (y - x * x) ** 2

    def grad(self, p):
        _check_point(self, p)
        xp = get_array_module(p)
        x, y = p
        return xp.stack([-2 * (self.a - x) - 4 * self.b * x * (y - x * x), 2 * self.b * (y - x * x)])


class Beale:
    """f(x, y) = Σ_{i=1..3} (c_i − x + x yⁱ)²,  c = (1.5, 2.25, 2.625); minimiser (3, ½), f* = 0.

    ∇f = Σ 2 r_i (yⁱ − 1,  i x y^{i−1}) with residuals r_i = c_i − x + x yⁱ. Start (1, 1.5).
    """

    dim, min_value = 2, 0.0
    constants = (1.5, 2.25, 2.625)

    def __init__(self):
        self.minimizer = np.array([3.0, 0.5])
        self.start = np.array([1.0, 1.5])

    def value(self, p):
        _check_point(self, p)
        x, y = p
        return sum((c - x + x * y**i) ** 2 for i, c in enumerate(self.constants, start=1))

    def grad(self, p):
        _check_point(self, p)
        xp = get_array_module(p)
        x, y = p
        gx = gy = 0.0
        for i, c in enumerate(self.constants, start=1):
            r = c - x + x * y**i
            gx = gx + 2 * r * (y**i - 1)
            gy = gy + 2 * r * i * x * y ** (i - 1)
        return xp.stack([gx, gy])


class Saddle:
    """f(x, y) = ½ x² − ½ y² + ¼ y⁴: a saddle at the origin (Hessian diag(1, −1)) between two
    minima (0, ±1) with f* = −¼. ``minimizer`` is (0, 1), the one reached from y > 0.

    ∇f = (x,  −y + y³). The start (1, 10⁻³) lies close to the saddle's stable manifold (y = 0), so
    plain gradient descent stalls near the saddle before escaping.
    """

    dim, min_value = 2, -0.25

    def __init__(self):
        self.minimizer = np.array([0.0, 1.0])
        self.saddle_point = np.array([0.0, 0.0])
        self.start = np.array([1.0, 1e-3])

    def value(self, p):
        _check_point(self, p)
        x, y = p
        return 0.5 * x * x - 0.5 * y * y + 0.25 * y**4

    def grad(self, p):
        _check_point(self, p)
        xp = get_array_module(p)
        x, y = p
        return xp.stack([x, -y + y**3])
