"""Oracle checks for the memory-efficient and curvature optimizers (SophiaG, AdamMini, Shampoo), in
``oracle_cases``' format: ``check(config, *, steps, dtype, seed, build) -> ParityResult``.

These oracles do not fit ``run_torch_parity``: their state has other names, shapes or bookkeeping
entries, and Sophia needs its Hessian estimator called between steps. ``run_side_by_side`` is the
general runner: both optimizers on the same ``TrajectoryProblem``, parameters and the state entries
that ``compare_state`` pairs up compared after every step.
"""

from __future__ import annotations

import numpy as np

from optimlab.parameter import Parameter
from optimlab.verify.parity import SHAPES, ParityResult, TrajectoryProblem, relative_error, torch_default_dtype

# optimizers whose checks need their own runner (batch size, Hessian cadence, parameter names; a closure
# for LBFGS; an 8-bit state for the 8-bit Adams), so the generic kernel tests leave them to their own
# test modules (resume runs over every optimizer in tests/reliability, through optimlab.testing's table)
SIDE_BY_SIDE = frozenset({"SophiaG", "AdamMini", "Shampoo", "LBFGS", "Adam8bit", "AdamW8bit"})


def run_side_by_side(ours_factory, theirs_factory, *, steps: int = 50, seed: int = 0, shapes=SHAPES,
                     dtype=np.float64, compare_state=None, after_step=None) -> ParityResult:
    """Step ``ours_factory(params)`` and ``theirs_factory(tensors)`` on the same problem.

    ``compare_state(ours_state, theirs_state)`` returns ``[(name, ours_array, theirs_array), ...]``
    for one parameter (ours is reshaped to the oracle's shape); ``after_step(optimizer, params,
    step)`` runs after every step of both (``params`` are ours or the torch tensors)."""
    import torch

    problem = TrajectoryProblem(seed, shapes=shapes)
    ours_params = [Parameter(x.astype(dtype)) for x in problem.initial]
    torch_params = [torch.tensor(x.astype(dtype), requires_grad=True) for x in problem.initial]
    torch_dtype = torch.float64 if np.dtype(dtype) == np.float64 else torch.float32
    param_error = state_error = 0.0
    problems: list[str] = []
    with torch_default_dtype(torch_dtype):
        ours, theirs = ours_factory(ours_params), theirs_factory(torch_params)
        for step in range(steps):
            for p, g in zip(ours_params, problem.grads([p.data for p in ours_params], step)):
                p.grad = g
            for p, g in zip(torch_params, problem.grads([p.detach().numpy() for p in torch_params], step)):
                p.grad = torch.from_numpy(g)
            ours.step()
            theirs.step()
            if after_step is not None:
                after_step(ours, ours_params, step)
                after_step(theirs, torch_params, step)
            for index, (mine, ref) in enumerate(zip(ours_params, torch_params)):
                param_error = max(param_error, relative_error(mine.data, ref.detach().numpy()))
                if compare_state is None:
                    continue
                try:
                    pairs = compare_state(ours.state.get(mine, {}), theirs.state.get(ref, {}))
                except KeyError as missing:
                    problems.append(f"step {step + 1}, param {index}: state entry {missing} is missing")
                    return ParityResult(param_error, state_error, steps, problems)
                for _, a, b in pairs:
                    b = b.detach().cpu().numpy() if hasattr(b, "detach") else np.asarray(b)
                    state_error = max(state_error, relative_error(np.reshape(a, np.shape(b)), b))
    return ParityResult(param_error, state_error, steps, problems)


def same_keys(*keys, renamed: dict | None = None):
    """A ``compare_state`` pairing our ``keys`` with the oracle's entry of the same (or ``renamed``) name."""
    renamed = renamed or {}
    return lambda ours, theirs: [(k, ours[k], theirs[renamed.get(k, k)]) for k in keys]


# -- SophiaG against sophia-opt (the authors' reference) -------------------------------------------

SOPHIA_ESTIMATOR_SEED = 12345


def sophia_estimator_grads(values, step):
    """A stand-in for the sampled-label gradient ĝ: the problem's gradient under other noise."""
    return TrajectoryProblem(SOPHIA_ESTIMATOR_SEED, shapes=tuple(np.shape(v) for v in values)).grads(values, step)


def sophia_check(config, *, steps, dtype, seed, build):
    """``step(bs=B)`` each step and ``update_hessian()`` with ``sophia_estimator_grads`` every
    ``hessian_interval`` steps, on both."""
    import sophia_opt
    import torch

    config = dict(config)
    bs, interval = config.pop("bs"), config.pop("hessian_interval")

    def factory(cls):
        def make(params):
            optimizer = cls(params, **config)
            step = optimizer.step
            optimizer.step = lambda closure=None: step(closure, bs=bs)
            return optimizer
        return make

    def after_step(optimizer, params, step):
        if step % interval != interval - 1:
            return
        is_torch = hasattr(params[0], "detach")
        values = [p.detach().numpy() if is_torch else p.data for p in params]
        for p, g in zip(params, sophia_estimator_grads(values, step)):
            p.grad = torch.from_numpy(g) if is_torch else g
        optimizer.update_hessian()

    return run_side_by_side(factory(build), factory(sophia_opt.SophiaG), steps=steps, seed=seed, dtype=dtype,
                            after_step=after_step, compare_state=same_keys("exp_avg", "hessian", "step"))


SOPHIA_CONFIGS = [
    {"lr": 0.01, "bs": 5120, "hessian_interval": 10},
    {"lr": 0.01, "betas": (0.9, 0.5), "rho": 1.0, "bs": 16, "hessian_interval": 1},
    {"lr": 0.02, "betas": (0.5, 0.9), "rho": 0.5, "weight_decay": 0.0, "bs": 4, "hessian_interval": 3,
     "maximize": True},
]


# -- AdamMini against adam-mini (the authors' package) --------------------------------------------


def _adam_mini_state(ours, theirs):
    """Our ``vmean`` is the package's ``vmean`` (block scalars) or ``v`` (Adam blocks: biases)."""
    return [("step", ours["step"], theirs["step"]), ("m", ours["m"], theirs["m"]),
            ("vmean", ours["vmean"], theirs["vmean"] if "vmean" in theirs else theirs["v"])]


def adam_mini_check(config, *, steps, dtype, seed, build):
    """Both optimizers over named parameters (``config["names"]``, one per ``TrajectoryProblem``
    shape): the names decide the blocks."""
    from adam_mini import Adam_mini

    config = dict(config)
    names = config.pop("names")
    return run_side_by_side(
        lambda params: build(list(zip(names, params)), **config),
        lambda tensors: Adam_mini(list(zip(names, tensors)), verbose=False, **config),
        steps=steps, seed=seed, dtype=dtype, compare_state=_adam_mini_state,
    )


ADAM_MINI_CONFIGS = [
    {"names": ("layer.weight", "layer.bias", "scale"), "lr": 0.01},
    {"names": ("mlp.c_fc.weight", "ln_f.weight", "temperature"), "lr": 0.01, "weight_decay": 0.1},
    {"names": ("attn.q_proj.weight", "attn.k_proj.bias", "gain"), "lr": 0.02, "betas": (0.5, 0.9), "eps": 1e-3,
     "weight_decay": 0.05, "dim": 10, "n_heads": 20},
    {"names": ("wte.weight", "norm.weight", "x"), "lr": 0.01, "betas": (0.8, 0.99), "weight_decay": 0.1},
]


# -- Shampoo against torch-optimizer (its convention: exponent −1/k, sequential statistics) -------


def _every_array(ours, theirs):
    """Every array of our state against the oracle's entry of the same name."""
    return [(key, value, theirs[key]) for key, value in ours.items() if key != "step"]


def shampoo_check(config, *, steps, dtype, seed, build):
    """Shampoo against ``torch_optimizer.Shampoo`` (``config`` selects our ``convention``; the oracle
    has only its own, ``"torch_optimizer"``)."""
    import torch_optimizer

    theirs = {key: value for key, value in config.items() if key != "convention"}
    return run_side_by_side(lambda params: build(params, **config),
                            lambda tensors: torch_optimizer.Shampoo(tensors, **theirs),
                            steps=steps, seed=seed, dtype=dtype, compare_state=_every_array)


# SVD (torch-optimizer) vs eigendecomposition (ours) of statistics with condition numbers up to ~1e6:
# ~κ·ulp ≈ 1e-10 per root, accumulated over 50 steps (measured 5e-10)
SHAMPOO_TOLERANCE = 1e-8
SHAMPOO_CONFIGS = [
    {"lr": 0.1, "convention": "torch_optimizer"},
    {"lr": 0.05, "momentum": 0.5, "weight_decay": 0.1, "convention": "torch_optimizer"},
    {"lr": 0.1, "epsilon": 1e-2, "update_freq": 3, "convention": "torch_optimizer"},
]
