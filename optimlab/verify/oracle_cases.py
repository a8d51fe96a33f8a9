"""Optimizers beyond ``torch.optim``, each checked against an independent implementation (its oracle).

One ``OracleCase`` per (optimizer, oracle, configuration): our class, the oracle's package and
class or function, the configuration and the float64 tolerance. Oracles built on torch
(lion-pytorch, torch-optimizer, schedulefree) run through ``run_torch_parity``; optax's run through
``run_optax_parity`` (JAX with ``jax_enable_x64`` switched on, so float64 is float64). Every case
compares the parameters and every state entry after every step. ``optimlab verify`` prints one row
per case; the tests run them all. The oracles are test-only dependencies (the ``verify`` extra).

Tolerance: 1e-12 relative in float64, as for ``torch.optim`` (the same formula in a different
operation order differs by a few ulp per step; a different formula shows at 1e-3 or more), except
where a case states another with its reason: Shampoo (SVD vs eigh), LBFGS (3 steps, state 1e-8),
the 8-bit Adams (float32 by definition) and Adafactor's optax form (optax's float32 decay schedule).
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

import optimlab.optim as optim
from optimlab.optim.lamb import LAMB, LARS
from optimlab.optim.lion import Lion
from optimlab.optim.nadam import NAdam
from optimlab.optim.lookahead import Lookahead
from optimlab.optim.schedule_free import AdamWScheduleFree, SGDScheduleFree
from optimlab.optim.adam_mini import AdamMini
from optimlab.optim.shampoo import Shampoo
from optimlab.optim.sophia import SophiaG
from optimlab.parameter import Parameter
from optimlab.verify.parity import SHAPES, ParityResult, TrajectoryProblem, relative_error, run_torch_parity
from optimlab.verify.quantised import TOLERANCE as QUANTISED_TOLERANCE
from optimlab.verify.quantised import adam8bit_check
from optimlab.verify.side_by_side import (  # SophiaG, AdamMini, Shampoo: runners and configurations
    ADAM_MINI_CONFIGS, SHAMPOO_CONFIGS, SHAMPOO_TOLERANCE, SOPHIA_CONFIGS, adam_mini_check, shampoo_check, sophia_check,
)

FLOAT64_TOLERANCE = 1e-12
ADAFACTOR_OPTAX_TOLERANCE = 1e-7


@dataclass
class OracleCase:
    """One configuration of one of our optimizers against one oracle."""

    name: str
    oracle: str
    target: str
    config: dict
    check: Callable[..., ParityResult] = field(repr=False)
    build: Callable = field(repr=False)
    tolerance: float = FLOAT64_TOLERANCE
    shapes: tuple = SHAPES  # the parity problem's parameter shapes, as ``TorchCase.shapes``

    def ours(self, params, **config):
        """Our optimizer over ``params`` with ``config`` (a wrapper builds its inner optimizer too)."""
        return self.build(params, **config)

    def run(self, steps: int = 50, dtype=np.float64, seed: int = 0) -> ParityResult:
        """Step ours and the oracle side by side; errors over every step, parameter and state entry."""
        return self.check(self.config, steps=steps, dtype=dtype, seed=seed)

    def __str__(self) -> str:
        return f"{self.name}[{self.oracle}]({describe(self.config)})"


def describe(config: dict) -> str:
    return ", ".join(f"{k}={describe(v) if isinstance(v, dict) else v}" for k, v in config.items()) or "defaults"


# -- running an optax oracle ---------------------------------------------------------------------


def _optax():
    import jax

    jax.config.update("jax_enable_x64", True)
    import optax

    return optax


def _find_state(tree, type_name: str):
    """The first optax state of type ``type_name`` in a (nested) chain state."""
    if type(tree).__name__ == type_name:
        return tree
    children = tree if isinstance(tree, (tuple, list)) else getattr(tree, "_asdict", lambda: {})().values()
    for child in children:
        found = _find_state(child, type_name) if isinstance(child, tuple) else None
        if found is not None:
            return found
    return None


def run_optax_parity(ours_factory, config: dict, transformation, *, entries, steps: int = 50, dtype=np.float64,
                     seed: int = 0, lookahead: bool = False) -> ParityResult:
    """Step ``ours_factory(params, **config)`` and an optax ``GradientTransformation`` side by side on a
    ``TrajectoryProblem``. ``entries`` is a list of ``(label, ours(optimizer, param), theirs(state,
    params) -> list)`` pairs of state arrays to compare; ``lookahead`` wraps optax's parameters in
    ``LookaheadParams`` (compared as the fast ones)."""
    optax = _optax()
    import jax
    import jax.numpy as jnp

    problem = TrajectoryProblem(seed)
    ours_params = [Parameter(x.astype(dtype)) for x in problem.initial]
    optimizer = ours_factory(ours_params, **config)
    theirs = [jnp.asarray(x.astype(dtype)) for x in problem.initial]
    if lookahead:
        theirs = optax.LookaheadParams.init_synced(theirs)
    state = transformation.init(theirs)
    update = jax.jit(transformation.update)
    param_error = state_error = 0.0
    for step in range(steps):

        def closure(step=step):
            values = [p.data for p in ours_params]
            for p, g in zip(ours_params, problem.grads(values, step)):
                p.grad = g
            return problem.loss(values, step)

        optimizer.step(closure)
        fast = theirs.fast if lookahead else theirs
        grads = [jnp.asarray(g) for g in problem.grads([np.asarray(p) for p in fast], step)]
        updates, state = update(grads, state, theirs)
        theirs = optax.apply_updates(theirs, updates)
        fast = theirs.fast if lookahead else theirs
        for index, (mine, ref) in enumerate(zip(ours_params, fast)):
            param_error = max(param_error, relative_error(mine.data, np.asarray(ref)))
            for _, ours_entry, theirs_entry in entries:
                reference = np.asarray(theirs_entry(state, theirs)[index])
                state_error = max(state_error, relative_error(ours_entry(optimizer, mine), reference))
    return ParityResult(param_error, state_error, steps, [])


def _state(key: str, inner: bool = False):
    """Our state entry ``key`` of a parameter (in the wrapped optimizer's state with ``inner``)."""
    return lambda optimizer, param: (optimizer.optimizer if inner else optimizer).state[param][key]


# -- the oracles, family by family ---------------------------------------------------------------


def _torch_check(theirs, translate=lambda config: config, **parity):
    """A check through ``run_torch_parity`` against ``theirs(params, **translate(config))``."""

    def check(config, *, steps, dtype, seed, build):
        return run_torch_parity(build, theirs, config, torch_kwargs=translate(config), steps=steps, dtype=dtype,
                                seed=seed, **parity)

    return check


def _lion_pytorch(params, **config):
    from lion_pytorch import Lion

    return Lion(params, **config)


def _torch_optimizer_lamb(params, *, bias_correction, **config):
    from torch_optimizer import Lamb

    return Lamb(params, debias=bias_correction == "step_size", **config)


def _build_lookahead(params, *, inner, inner_kwargs, **config):
    return Lookahead(getattr(optim, inner)(params, **inner_kwargs), **config)


def _torch_optimizer_lookahead(params, *, inner, inner_kwargs, slow_start="first_step", **config):
    import torch
    from torch_optimizer import Lookahead

    return Lookahead(getattr(torch.optim, inner)(params, **inner_kwargs), **config)


def _schedulefree(class_name: str):
    def build(params, *, memory_saving, **config):
        import schedulefree

        return getattr(schedulefree, class_name)(params, **config, **({"foreach": False} if memory_saving else {}))

    return build


def _switch_modes(optimizer, step) -> None:
    """Train before every step; evaluate after every third, so both modes' parameters are compared.
    schedulefree's AdamW classes print on every switch: silenced."""
    with contextlib.redirect_stdout(io.StringIO()):
        optimizer.train() if step >= 0 else optimizer.eval()


def _eval_sometimes(optimizer, step) -> None:
    if step % 3 == 2:
        _switch_modes(optimizer, -1)


SCHEDULE_FREE_GROUP_STATE = {"k": "step", "weight_sum": "weight_sum", "lr_max": "lr_max"}


def _optax_lamb(config):
    optax = _optax()
    beta1, beta2 = config.get("betas", (0.9, 0.999))
    return optax.lamb(config["lr"], b1=beta1, b2=beta2, eps=config.get("eps", 1e-6),
                      eps_root=config.get("eps_root", 0.0), weight_decay=config.get("weight_decay", 0.0))


def _optax_lars(config):
    optax = _optax()
    return optax.lars(config["lr"], weight_decay=config.get("weight_decay", 0.0),
                      trust_coefficient=config.get("trust_coefficient", 0.001), eps=config.get("eps", 0.0),
                      trust_ratio_mask=config.get("trust_ratio", True), momentum=config.get("momentum", 0.9),
                      nesterov=config.get("nesterov", False))


def _optax_lookahead(config):
    optax = _optax()
    inner = config["inner_kwargs"]
    return optax.lookahead(optax.sgd(inner["lr"], momentum=inner.get("momentum", 0.0) or None),
                           sync_period=config.get("k", 5), slow_step_size=config.get("alpha", 0.5))


def _optax_check(transformation, entries, lookahead=False):
    """A check through ``run_optax_parity``; ``entries(config)`` lists the state arrays to compare."""

    def check(config, *, steps, dtype, seed, build):
        return run_optax_parity(build, config, transformation(config), entries=entries(config), steps=steps,
                                dtype=dtype, seed=seed, lookahead=lookahead)

    return check


def _optax_adam(config, *, nesterov=False):
    """optax's Adam family from primitives, decay placed as ``config`` asks: L2 (``add_decayed_weights``
    before ``scale_by_adam``) or decoupled and lr-scaled (after it, as ``optax.adamw``/``nadamw``)."""
    optax = _optax()
    beta1, beta2 = config.get("betas", (0.9, 0.999))
    adam = optax.scale_by_adam(b1=beta1, b2=beta2, eps=config.get("eps", 1e-8), eps_root=config.get("eps_root", 0.0),
                               nesterov=nesterov)
    decay = optax.add_decayed_weights(config.get("weight_decay", 0.0))
    steps = [adam, decay] if config.get("decoupled_weight_decay") else [decay, adam]
    return optax.chain(*steps, optax.scale_by_learning_rate(config["lr"]))


def _optax_amsgrad(config):
    """``optax.amsgrad`` (maximum after bias correction) with the decay placed as ``_optax_adam``'s."""
    optax = _optax()
    beta1, beta2 = config.get("betas", (0.9, 0.999))
    amsgrad = optax.scale_by_amsgrad(b1=beta1, b2=beta2, eps=config.get("eps", 1e-8),
                                     eps_root=config.get("eps_root", 0.0))
    decay = optax.add_decayed_weights(config.get("weight_decay", 0.0))
    steps = [amsgrad, decay] if config.get("decoupled_weight_decay") else [decay, amsgrad]
    return optax.chain(*steps, optax.scale_by_learning_rate(config["lr"]))


def _amsgrad_entries(config):
    state = lambda s: _find_state(s, "ScaleByAmsgradState")  # noqa: E731
    return [
        ("exp_avg", _state("exp_avg"), lambda s, params: state(s).mu),
        ("exp_avg_sq", _state("exp_avg_sq"), lambda s, params: state(s).nu),
        ("max_exp_avg_sq", _state("max_exp_avg_sq"), lambda s, params: state(s).nu_max),
    ]


def _optax_adafactor(config):
    """``optax.adafactor`` with our Adafactor's arguments (convention "optax"; no momentum)."""
    optax = _optax()
    eps1, eps2 = config.get("eps", (None, 1e-3))
    assert eps2 == 1e-3, "optax.adafactor fixes the parameter-scale floor at 1e-3"
    return optax.adafactor(config["lr"], min_dim_size_to_factor=config.get("min_dim_size_to_factor", 128),
                           decay_rate=-config.get("beta2_decay", -0.8), clipping_threshold=config.get("d", 1.0),
                           weight_decay_rate=config.get("weight_decay") or None, eps=1e-30 if eps1 is None else eps1)


def _adafactor_entries(config):
    """The second-moment statistics: (R, C) of a factored parameter (optax's v_row, v_col, without
    our size-1 axes), else the full V̂ (optax's v; its v_row/v_col are then placeholders)."""
    def ours(optimizer, param):
        state = optimizer.state[param]
        return np.concatenate([np.ravel(state[key]) for key in ("row_var", "col_var", "variance") if key in state])

    def theirs(state, params):
        factored = _find_state(state, "FactoredState")
        return [np.concatenate([np.ravel(row), np.ravel(col)]) if np.size(v) == 1 and np.size(p) > 1 else np.ravel(v)
                for row, col, v, p in zip(factored.v_row, factored.v_col, factored.v, params)]

    return [("second moment", ours, theirs)]


def _optax_nadam(config):
    """``optax.nadam`` (``nadamw`` with decoupled decay): ``scale_by_adam(nesterov=True)``."""
    return _optax_adam(config, nesterov=True)


def _adam_moment_entries(config):
    return [
        ("exp_avg", _state("exp_avg"), lambda state, params: _find_state(state, "ScaleByAdamState").mu),
        ("exp_avg_sq", _state("exp_avg_sq"), lambda state, params: _find_state(state, "ScaleByAdamState").nu),
    ]


def _lars_entries(config):
    """optax's trace holds the negated lr-scaled buffer; without momentum we keep no buffer."""
    if config.get("momentum", 0.9) == 0:
        return []
    return [("momentum_buffer", _state("momentum_buffer"),
             lambda state, params: [-t for t in _find_state(state, "TraceState").trace])]


def _lookahead_entries(config):
    return [
        ("slow_param", _state("slow_param"), lambda state, params: params.slow),
        ("momentum_buffer", _state("momentum_buffer", inner=True),
         lambda state, params: _find_state(state.fast_state, "TraceState").trace),
    ]

# (our class, oracle package, oracle target, check, build, configurations)
ORACLES = [
    ("Lion", "lion-pytorch", "lion_pytorch.Lion", _torch_check(_lion_pytorch), Lion, [
        {},
        {"lr": 0.01},
        {"lr": 0.01, "betas": (0.95, 0.98), "weight_decay": 0.1},
        {"lr": 0.003, "betas": (0.0, 0.5), "weight_decay": 1.0},
        {"lr": 0.01, "weight_decay": 0.5, "decoupled_weight_decay": True},
        {"lr": 0.003, "betas": (0.95, 0.98), "weight_decay": 0.05, "decoupled_weight_decay": True},
    ]),
    ("Adam", "optax", "optax.adam", _optax_check(_optax_adam, _adam_moment_entries), optim.Adam, [
        {"lr": 0.01},
        {"lr": 0.01, "eps_root": 1e-3},
        {"lr": 0.02, "betas": (0.5, 0.9), "eps": 0.0, "eps_root": 1e-6, "weight_decay": 0.1},
        {"lr": 0.01, "eps_root": 1e-4, "weight_decay": 0.1, "decoupled_weight_decay": True},
    ]),
    ("Adam", "optax", "optax.amsgrad", _optax_check(_optax_amsgrad, _amsgrad_entries), optim.Adam, [
        {"lr": 0.01, "betas": (0.3, 0.5), "eps": 1e-3, "amsgrad": True, "amsgrad_max": "corrected"},
        {"lr": 0.01, "amsgrad": True, "amsgrad_max": "corrected", "eps_root": 1e-6, "weight_decay": 0.05},
    ]),
    # optax computes its decay schedule 1 − t^−0.8 in float32 (factorized._decay_rate_pow): β̂₂ is off by
    # up to a float32 ulp (6e-8 relative), which enters V̂ directly (measured ≤ 4e-8) and the parameters
    # through √V̂ (≤ 4e-9 over 50 steps); the same chain with the schedule in float64 agrees to 1e-15.
    # Hence 1e-7 here; the torch convention differs from it by more than 1e-3.
    ("Adafactor", "optax", "optax.adafactor", _optax_check(_optax_adafactor, _adafactor_entries), optim.Adafactor, [
        {"lr": 0.01, "convention": "optax"},
        {"lr": 0.05, "weight_decay": 0.01, "convention": "optax", "min_dim_size_to_factor": 2},
        {"lr": 0.05, "beta2_decay": -0.5, "eps": (1e-20, 1e-3), "d": 1.5, "convention": "optax",
         "min_dim_size_to_factor": 1},
    ], ADAFACTOR_OPTAX_TOLERANCE),
    ("NAdam", "optax", "optax.nadam", _optax_check(_optax_nadam, _adam_moment_entries), NAdam, [
        {"lr": 0.01, "form": "nesterov_adam"},
        {"lr": 0.02, "betas": (0.5, 0.9), "eps": 1e-3, "form": "nesterov_adam"},
        {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True, "form": "nesterov_adam"},
        {"lr": 0.01, "weight_decay": 0.05, "form": "nesterov_adam"},
    ]),
    ("LAMB", "torch-optimizer", "torch_optimizer.Lamb", _torch_check(_torch_optimizer_lamb), LAMB, [
        {"lr": 0.01, "bias_correction": "none", "clamp_value": 10.0},
        {"lr": 0.01, "bias_correction": "step_size", "clamp_value": 10.0, "weight_decay": 0.1},
        {"lr": 0.02, "betas": (0.5, 0.9), "eps": 1e-3, "bias_correction": "none", "clamp_value": 1.0,
         "weight_decay": 0.05},
        {"lr": 0.02, "bias_correction": "step_size", "clamp_value": 1.5},
    ]),
    ("LAMB", "optax", "optax.lamb", _optax_check(_optax_lamb, _adam_moment_entries), LAMB, [
        {"lr": 0.01},
        {"lr": 0.01, "weight_decay": 0.1, "eps_root": 1e-8},
        {"lr": 0.02, "betas": (0.5, 0.9), "eps": 1e-3},
    ]),
    ("LARS", "optax", "optax.lars", _optax_check(_optax_lars, _lars_entries), LARS, [
        {"lr": 1.0, "trust_coefficient": 0.02},
        {"lr": 0.5, "trust_coefficient": 0.05, "weight_decay": 0.01, "nesterov": True},
        {"lr": 1.0, "momentum": 0.0, "trust_coefficient": 0.01, "eps": 1e-6},
        {"lr": 0.1, "momentum": 0.5, "trust_ratio": False, "weight_decay": 0.1},
    ]),
    ("Lookahead", "torch-optimizer", "torch_optimizer.Lookahead",
     _torch_check(_torch_optimizer_lookahead, state_views=lambda opt: (opt.state, opt.optimizer.state)),
     _build_lookahead, [
         {"inner": "SGD", "inner_kwargs": {"lr": 0.05}},
         {"inner": "Adam", "inner_kwargs": {"lr": 0.01}, "k": 5, "alpha": 0.5},
         {"inner": "SGD", "inner_kwargs": {"lr": 0.05, "momentum": 0.9, "nesterov": True}, "k": 3, "alpha": 0.8},
     ]),
    ("Lookahead", "optax", "optax.lookahead", _optax_check(_optax_lookahead, _lookahead_entries, lookahead=True),
     _build_lookahead, [
         {"inner": "SGD", "inner_kwargs": {"lr": 0.05, "momentum": 0.9}, "slow_start": "initial"},
         {"inner": "SGD", "inner_kwargs": {"lr": 0.05, "momentum": 0.5}, "k": 3, "alpha": 0.8,
          "slow_start": "initial"},
     ]),
]

_SGD_SF = [
    {"lr": 0.1},
    {"lr": 0.1, "momentum": 0.5, "weight_decay": 0.05, "warmup_steps": 10},
    {"lr": 0.2, "r": 1.0, "weight_lr_power": 1.0, "warmup_steps": 5},
]
_ADAMW_SF = [
    {"lr": 0.01},
    {"lr": 0.02, "betas": (0.5, 0.9), "weight_decay": 0.1, "warmup_steps": 10},
    {"lr": 0.01, "eps": 1e-3, "weight_lr_power": 0.0, "r": 0.5},
]
for _ours, _reference, _fast, _configs, _extra in [
    (SGDScheduleFree, "SGDScheduleFreeReference", "SGDScheduleFree", _SGD_SF, []),
    (AdamWScheduleFree, "AdamWScheduleFreeReference", "AdamWScheduleFree", _ADAMW_SF,
     [{"lr": 0.01, "weight_decay": 0.1, "decay_at_z": True, "warmup_steps": 3}]),
]:
    for _target, _memory_saving, _more in [(_reference, False, _extra), (_fast, True, [])]:
        ORACLES.append((
            _ours.__name__, "schedulefree", f"schedulefree.{_target}",
            _torch_check(_schedulefree(_target), translate=lambda config: config, before_step=_switch_modes,
                         after_step=_eval_sometimes, group_state_keys=SCHEDULE_FREE_GROUP_STATE),
            _ours,
            [{**config, "memory_saving": _memory_saving} for config in _configs + _more],
        ))


# LBFGS runs up to 20 inner iterations per step on the noisy, non-convex parity problem, so ulp-level
# differences (BLAS dot products here, torch's kernels there) grow chaotically over 50 steps: it is
# compared over its first 3 steps. Parameters agree to 1e-12 there; the state only to 1e-8, since
# once an inner loop converges the history vectors y = g_{k+1} − g_k are differences of nearly equal
# gradients (a few ulp of |g| are ~1e-16·|g|/|y| relative in y; measured ≤ 4e-9).
LBFGS_STEPS = 3
LBFGS_TOLERANCE = 1e-8


def lbfgs_configs() -> list[dict]:
    """torch's own LBFGS test inputs and a short history with a small step."""
    from optimlab.verify.torch_cases import torch_database_configs

    return [kwargs for _, kwargs in torch_database_configs("LBFGS")] + [{"history_size": 3, "max_iter": 5, "lr": 0.5}]


def lbfgs_check(config, *, steps, dtype, seed, build):
    """``LBFGS`` against ``torch.optim.LBFGS`` over the first ``min(steps, 3)`` steps (see above)."""
    import torch

    return run_torch_parity(build, torch.optim.LBFGS, config, steps=min(steps, LBFGS_STEPS), dtype=dtype, seed=seed)


# (our class, oracle package, oracle target, check, build, configurations, tolerance)
ORACLES += [
    ("LBFGS", "torch", "torch.optim.LBFGS", lbfgs_check, optim.LBFGS, lbfgs_configs, LBFGS_TOLERANCE),
    ("Adam8bit", "bitsandbytes", "bitsandbytes (de)quantise + torch.optim.Adam", adam8bit_check, optim.Adam8bit,
     [{"lr": 0.01}, {"lr": 0.01, "betas": (0.5, 0.9), "eps": 1e-6, "weight_decay": 0.1}], QUANTISED_TOLERANCE),
    ("AdamW8bit", "bitsandbytes", "bitsandbytes (de)quantise + torch.optim.AdamW", adam8bit_check, optim.AdamW8bit,
     [{"lr": 0.01}, {"lr": 0.01, "betas": (0.9, 0.99), "weight_decay": 0.1}], QUANTISED_TOLERANCE),
    ("SophiaG", "sophia-opt", "sophia_opt.SophiaG", sophia_check, SophiaG, SOPHIA_CONFIGS),
    ("AdamMini", "adam-mini", "adam_mini.Adam_mini", adam_mini_check, AdamMini, ADAM_MINI_CONFIGS),
    ("Shampoo", "torch-optimizer", "torch_optimizer.Shampoo", shampoo_check, Shampoo, SHAMPOO_CONFIGS,
     SHAMPOO_TOLERANCE),
]


def oracle_cases(names=None) -> list[OracleCase]:
    """Every (optimizer, oracle, configuration) to check; ``names`` selects our classes."""
    cases = []
    for name, package, target, check, build, configs, *tolerance in ORACLES:
        if names is None or name in names:
            configs = configs() if callable(configs) else configs  # LBFGS's come from torch's test database
            cases += [OracleCase(name, package, target, config, lambda config, check=check, build=build, **kw:
                                 check(config, build=build, **kw), build, *tolerance) for config in configs]
    return cases


ORACLE_NAMES = tuple(dict.fromkeys(name for name, *_ in ORACLES))
