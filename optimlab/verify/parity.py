"""Step-by-step parity with PyTorch: the same problem, the same hyperparameters, both optimizers
stepped side by side; after every step, parameters and every state entry are compared.

The error measure is the norm-wise relative error ``max|a - b| / max|b|`` (0 when both are zero),
so entries near zero don't inflate it; the harnesses take ``max|b|`` over the tensor's entries *and
the steps so far* (``RunningScale``), so that a tensor passing near zero, such as a 0-d parameter
crossing 0, is measured against its size along the run rather than at the instant it is smallest
(there a float32 rounding of 1e-7 would read as 1e-4 relative). In float64, agreement to ~1e-12 is what independent
implementations of the same formula reach (rounding differences of a few ulp, accumulated over 50
steps); anything larger is a different formula.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import numpy as np

from optimlab.parameter import Parameter

SHAPES = ((5, 4), (4,), ())


def relative_error(ours, theirs, scale: float = 0.0) -> float:
    """``max|ours - theirs| / max(max|theirs|, scale)`` over all entries (``inf`` on a shape or NaN
    mismatch)."""
    a, b = np.asarray(ours, dtype=np.float64), np.asarray(theirs, dtype=np.float64)
    if a.shape != b.shape:
        return float("inf")
    if not np.array_equal(np.isnan(a), np.isnan(b)):
        return float("inf")
    a, b = np.nan_to_num(a, nan=0.0), np.nan_to_num(b, nan=0.0)
    if a.size == 0:
        return 0.0
    diff = float(np.max(np.abs(a - b)))
    scale = max(float(np.max(np.abs(b))), scale)
    if diff == 0.0:
        return 0.0
    return diff / scale if scale > 0 else float("inf")


class RunningScale(dict):
    """The running ``max|theirs|`` of each compared tensor (by name) over its entries and the steps so
    far: the denominator of ``error``, see the module docstring."""

    def error(self, name, ours, theirs) -> float:
        magnitude = np.abs(np.nan_to_num(np.asarray(theirs, dtype=np.float64), nan=0.0))
        self[name] = max(self.get(name, 0.0), float(np.max(magnitude, initial=0.0)))
        return relative_error(ours, theirs, scale=self[name])


@dataclass
class TrajectoryProblem:
    """A smooth, noisy, separable objective over parameters of several shapes (a matrix, a bias
    vector, a 0-D scalar): ``f(θ) = Σ ½ a θ² − cos(3θ)/6 + ξ_t θ`` with fixed curvatures ``a`` and
    fresh noise ``ξ_t`` each step, so the trajectory feeds back through the parameters."""

    seed: int = 0
    shapes: tuple = SHAPES
    noise: float = 0.1
    initial: list = field(init=False)
    curvature: list = field(init=False)

    def __post_init__(self):
        rng = np.random.default_rng(self.seed)
        self.initial = [np.asarray(rng.standard_normal(s)) for s in self.shapes]
        self.curvature = [np.asarray(rng.uniform(0.5, 2.0, s)) for s in self.shapes]

    def _noise(self, index: int, step: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, index, step])
        return self.noise * np.asarray(rng.standard_normal(self.shapes[index]))

    def loss(self, values: list[np.ndarray], step: int) -> float:
        return float(sum(
            np.sum(0.5 * a * x * x - np.cos(3 * x) / 6 + self._noise(i, step) * x)
            for i, (x, a) in enumerate(zip(values, self.curvature))
        ))

    def grads(self, values: list[np.ndarray], step: int) -> list[np.ndarray]:
        return [
            np.asarray(a * x + 0.5 * np.sin(3 * x) + self._noise(i, step), dtype=x.dtype)
            for i, (x, a) in enumerate(zip(values, self.curvature))
        ]


@dataclass
class ParityResult:
    """Largest relative errors over all steps, parameters and state entries."""

    param_error: float
    state_error: float
    steps: int
    problems: list[str]

    @property
    def error(self) -> float:
        return max(self.param_error, self.state_error)

    def ok(self, tolerance: float) -> bool:
        return not self.problems and self.error <= tolerance


@contextlib.contextmanager
def torch_default_dtype(dtype):
    import torch

    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def _state_value(value) -> np.ndarray:
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    if isinstance(value, list):  # e.g. LBFGS's history: arrays or numbers, None where unset (as NaN)
        return np.array([np.nan if v is None else _state_value(v) for v in value], dtype=np.float64)
    return np.asarray(value)


def run_torch_parity(ours_cls, torch_cls, kwargs: dict, *, torch_kwargs: dict | None = None,
                     steps: int = 50, dtype=np.float64, seed: int = 0,
                     state_keys: dict | None = None, group_state_keys: dict | None = None,
                     state_views=None, before_step=None, after_step=None, shapes: tuple = SHAPES) -> ParityResult:
    """Step ``ours_cls`` and ``torch_cls`` side by side on a ``TrajectoryProblem``.

    ``torch_kwargs`` defaults to ``kwargs``; ``state_keys`` maps torch's state key names to ours
    where they differ. Every torch state entry must exist here (and vice versa).
    ``group_state_keys`` maps entries the other implementation keeps in its param groups (step
    counters, running sums) to our per-parameter state keys, compared like the state.
    ``state_views(optimizer)`` lists the state dicts to compare (default ``(optimizer.state,)``;
    a wrapper adds its inner optimizer's). ``before_step(optimizer, step)`` and
    ``after_step(optimizer, step)`` are called on both optimizers around every step, e.g. to switch
    train/eval modes; the comparison follows ``after_step``. ``shapes``: the parameters' shapes
    (for optimizers that accept only some, e.g. Muon's matrices).
    """
    import torch

    dtype = np.dtype(dtype)
    problem = TrajectoryProblem(seed, shapes)
    ours_params = [Parameter(x.astype(dtype)) for x in problem.initial]
    torch_dtype = {np.dtype(np.float64): torch.float64, np.dtype(np.float32): torch.float32}[dtype]
    torch_params = [torch.tensor(x.astype(dtype), requires_grad=True) for x in problem.initial]
    group_keys = group_state_keys or {}
    key_map = {**(state_keys or {}), **group_keys}
    views = state_views or (lambda optimizer: (optimizer.state,))
    param_error = state_error = 0.0
    scales = RunningScale()
    problems: list[str] = []

    with torch_default_dtype(torch_dtype if dtype == np.float64 else torch.float32):
        ours = ours_cls(ours_params, **kwargs)
        theirs = torch_cls(torch_params, **(kwargs if torch_kwargs is None else torch_kwargs))
        for step in range(steps):

            def ours_closure(step=step):
                values = [p.data for p in ours_params]
                for p, g in zip(ours_params, problem.grads(values, step)):
                    p.grad = g
                return problem.loss(values, step)

            def torch_closure(step=step):
                values = [p.detach().numpy() for p in torch_params]
                for p, g in zip(torch_params, problem.grads(values, step)):
                    p.grad = torch.from_numpy(g)
                return torch.tensor(problem.loss(values, step))

            for optimizer, closure in ((ours, ours_closure), (theirs, torch_closure)):
                if before_step is not None:
                    before_step(optimizer, step)
                optimizer.step(closure)
                if after_step is not None:
                    after_step(optimizer, step)
            ref_groups = {id(p): group for group in theirs.param_groups for p in group["params"]}
            for index, (mine, ref) in enumerate(zip(ours_params, torch_params)):
                param_error = max(param_error, scales.error(index, mine.data, ref.detach().numpy()))
                for view, (my_view, ref_view) in enumerate(zip(views(ours), views(theirs))):
                    ref_state = dict(ref_view.get(ref, {}))
                    my_state = my_view.get(mine, {})
                    if ref_state and view == 0:
                        ref_state.update({key: ref_groups[id(ref)][key] for key in group_keys})
                    expected_keys = {key_map.get(k, k) for k in ref_state}
                    if set(my_state) != expected_keys:
                        problems.append(
                            f"step {step + 1}, param {index}: state keys {sorted(my_state)} != torch {sorted(expected_keys)}"
                        )
                        continue
                    for key, value in ref_state.items():
                        if value is None:
                            continue
                        mine_value = my_state[key_map.get(key, key)]
                        state_error = max(state_error, scales.error((index, view, key), _state_value(mine_value),
                                                                    _state_value(value)))
            if problems:
                break
    return ParityResult(param_error, state_error, steps, problems)


def run_kernel_parity(cls, kwargs: dict, *, steps: int = 50, dtype=np.float64, seed: int = 0,
                      shapes: tuple = SHAPES) -> ParityResult:
    """Step ``cls`` twice on the same problem, once through the NumPy reference and once through the
    compiled CPU form of its fused kernel (``kernels.cpu_kernels``), comparing parameters and every
    state entry after every step: the kernel source itself is exercised without a GPU."""
    from optimlab.kernels import cpu_kernels

    problem = TrajectoryProblem(seed, shapes)
    runs = []
    for _ in range(2):
        params = [Parameter(x.astype(dtype)) for x in problem.initial]
        runs.append((params, cls(params, **kwargs)))
    param_error = state_error = 0.0
    scales = RunningScale()
    problems: list[str] = []
    for step in range(steps):
        for use_kernel, (params, optimizer) in enumerate(runs):

            def closure(params=params, step=step):
                values = [p.data for p in params]
                for p, g in zip(params, problem.grads(values, step)):
                    p.grad = g
                return problem.loss(values, step)

            with cpu_kernels(bool(use_kernel)):
                optimizer.step(closure)
        (ref_params, ref_opt), (ker_params, ker_opt) = runs
        for index, (ref, ker) in enumerate(zip(ref_params, ker_params)):
            param_error = max(param_error, scales.error(index, ker.data, ref.data))
            ref_state, ker_state = ref_opt.state.get(ref, {}), ker_opt.state.get(ker, {})
            if set(ref_state) != set(ker_state):
                problems.append(f"step {step + 1}, param {index}: kernel state {sorted(ker_state)} != {sorted(ref_state)}")
                return ParityResult(param_error, state_error, steps, problems)
            for key, value in ref_state.items():
                state_error = max(state_error, scales.error((index, key), ker_state[key], value))
    return ParityResult(param_error, state_error, steps, problems)
