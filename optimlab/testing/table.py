"""The reliability table: one ``OptimizerInfo`` per optimizer exported by ``optimlab.optim``.

After torch's ``OptimizerInfo`` database (``torch.testing._internal.common_optimizers``): every
generic test in ``tests/reliability`` runs over this table, so an optimizer is covered by adding one
entry. An entry holds

* how to build it (``make``) and with which configurations (``configs``: the case tables of
  ``optimlab.verify`` where the optimizer has one, so the configurations checked against an oracle are
  the ones resumed, not a copy);
* its invalid inputs, one list of ``(bad value, exception)`` per hyperparameter (``optimlab.testing.invalid``);
* its capabilities: ``maximize``, ``weight_decay``, ``kernel`` (read from the class), and
  ``closure_required``, ``single_group``, ``matrix_only``, ``wrapper``;
* ``nonfinite``: what one step does to the parameters when a gradient holds NaN, +inf or −inf and
  nothing skips the step (``"nonfinite"``: some parameter entry becomes NaN/inf; ``"finite"``: the
  parameters stay finite, as for Lion's sign, Rprop's sign and Sophia's clipped ratio under ±inf;
  ``"raises <error>"``: Shampoo's eigendecomposition of a non-finite statistic), measured and
  asserted by ``tests/reliability/test_reliability_nonfinite.py``; with
  ``optimlab.training.step_if_finite`` (the skip option) nothing changes, for every entry;
* ``quirks``: edge cases (``tests/reliability/test_reliability_edge_cases.py``) where the optimizer,
  like its torch twin, does not do the generic thing, with the reason; the test asserts the quirk;
* ``oracle``: the independent implementation it is checked against.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Callable

import optimlab.optim as optim
from optimlab.kernels import ElementwiseKernel
from optimlab.testing import invalid as bad
from optimlab.verify.parity import SHAPES

NONFINITE_KINDS = ("nan", "inf", "-inf")
POISONED = dict.fromkeys(NONFINITE_KINDS, "nonfinite")
# sign-like updates: ±inf gives a finite step (the state is poisoned all the same), NaN does not
SIGN_BOUNDED = {"nan": "nonfinite", "inf": "finite", "-inf": "finite"}


def _configs(name: str, **extra) -> Callable[[], list[dict]]:
    """The configurations ``optimlab.verify`` checks ``name`` with (its torch cases, then its oracle
    cases), each with ``extra`` added; duplicates once."""

    def configs():
        from optimlab.verify.oracle_cases import oracle_cases
        from optimlab.verify.torch_cases import TORCH_TWINS, torch_cases

        cases = (torch_cases([name]) if name in TORCH_TWINS else []) + oracle_cases([name])
        unique = {repr(sorted(case.config.items())): {**case.config, **extra} for case in cases}
        return list(unique.values())

    return configs


# the 5×4 matrix of the parity problem (20 entries) takes the 8-bit path, the vector and scalar stay 32-bit
SMALL_8BIT = {"min_8bit_size": 16, "blocksize": 64}


def _sophia(params, config):
    """SophiaG with the runner's batch size ``bs`` (a ``step`` argument) bound to every step."""
    config = dict(config)
    batch_size = config.pop("bs", 5120)
    optimizer = optim.SophiaG(params, **config)
    step = optimizer.step
    optimizer.step = lambda closure=None: step(closure, bs=batch_size)
    return optimizer


def _adam_mini(params, config):
    """AdamMini over ``(name, param)`` pairs when the configuration names the parameters (its blocks)."""
    config = dict(config)
    names = config.pop("names", None)
    return optim.AdamMini(list(zip(names, params)) if names else params, **config)


def _lookahead(params, config):
    config = dict(config)
    inner = getattr(optim, config.pop("inner", "SGD"))(params, **config.pop("inner_kwargs", {"lr": 0.1}))
    return optim.Lookahead(inner, **config)


@dataclass(frozen=True)
class OptimizerInfo:
    """One optimizer's entry (see the module docstring)."""

    name: str
    configs: Callable[[], list[dict]] = field(repr=False)
    invalid: dict[str, list]
    oracle: str
    make: Callable | None = field(default=None, repr=False)
    base: dict = field(default_factory=dict)  # a plain configuration for the generic edge-case runs
    shapes: tuple = SHAPES
    closure_required: bool = False
    single_group: bool = False
    matrix_only: bool = False
    wrapper: bool = False
    nonfinite: dict = field(default_factory=lambda: dict(POISONED))
    quirks: dict = field(default_factory=dict)

    @property
    def cls(self):
        return getattr(optim, self.name)

    def build(self, params, config: dict | None = None):
        """The optimizer over ``params`` with ``config`` (default ``base``)."""
        config = self.base if config is None else config
        return self.make(params, config) if self.make else self.cls(params, **config)

    @property
    def hyperparameters(self) -> dict:
        """The rules of the optimizer's hyperparameters (the inner optimizer's for a wrapper)."""
        return getattr(self.cls, "hyperparameters", {})

    @property
    def maximize(self) -> bool:
        return "maximize" in self.hyperparameters

    @property
    def weight_decay(self) -> bool:
        return "weight_decay" in self.hyperparameters

    @property
    def kernel(self) -> bool:
        """Whether the optimizer's module defines a fused ``ElementwiseKernel``."""
        module = sys.modules[self.cls.__module__]
        return any(isinstance(value, ElementwiseKernel) for value in vars(module).values())


N, U, B, BETAS = bad.NUMERIC, bad.UNIT, bad.BOOL, bad.BETAS
ADAM = {"lr": N, "betas": BETAS, "eps": N, "weight_decay": N, "maximize": B}
ADAM_FAMILY = {**ADAM, "amsgrad": B, "decoupled_weight_decay": B, "eps_root": N,
               "amsgrad_max": bad.choice("corrected_max", None)}

TABLE = [
    OptimizerInfo("SGD", _configs("SGD"), {"lr": N, "momentum": U, "dampening": U, "weight_decay": N,
                                                 "nesterov": B, "maximize": B}, "torch.optim.SGD"),
    OptimizerInfo("Adam", _configs("Adam"), ADAM_FAMILY, "torch.optim.Adam"),
    OptimizerInfo("AdamW", _configs("AdamW"), ADAM_FAMILY, "torch.optim.AdamW"),
    OptimizerInfo("Adagrad", _configs("Adagrad"), {"lr": N, "lr_decay": N, "weight_decay": N,
                                                         "initial_accumulator_value": N, "eps": N, "maximize": B},
                  "torch.optim.Adagrad"),
    OptimizerInfo("RMSprop", _configs("RMSprop"), {"lr": N, "alpha": U, "eps": N, "weight_decay": N,
                                                         "momentum": U, "centered": B, "maximize": B},
                  "torch.optim.RMSprop"),
    OptimizerInfo("Adadelta", _configs("Adadelta"), {"lr": N, "rho": U, "eps": N, "weight_decay": N,
                                                           "maximize": B}, "torch.optim.Adadelta"),
    OptimizerInfo("Adamax", _configs("Adamax"), ADAM, "torch.optim.Adamax"),
    OptimizerInfo("NAdam", _configs("NAdam"), {**ADAM, "momentum_decay": N, "decoupled_weight_decay": B,
                                                     "form": bad.choice("dozat_nadam", None)},
                  "torch.optim.NAdam"),
    OptimizerInfo("RAdam", _configs("RAdam"), {**ADAM, "decoupled_weight_decay": B}, "torch.optim.RAdam"),
    OptimizerInfo("ASGD", _configs("ASGD"), {"lr": N, "lambd": N, "alpha": N, "t0": N, "weight_decay": N,
                                                   "maximize": B}, "torch.optim.ASGD",
                  quirks={"zero gradients": "λ (lambd) shrinks θ by (1 − λη) every step, gradient or not"}),
    OptimizerInfo("Rprop", _configs("Rprop"), {"lr": N, "etas": bad.ETAS, "step_sizes": bad.STEP_SIZES,
                                                     "maximize": B}, "torch.optim.Rprop", nonfinite=SIGN_BOUNDED,
                  quirks={"lr = 0": "lr is the initial step size; step sizes are clamped to at least step_sizes[0]"}),
    OptimizerInfo("Adafactor", _configs("Adafactor"),
                  {"lr": N, "beta2_decay": bad.NON_POSITIVE_REAL, "eps": bad.ADAFACTOR_EPS,
                   "d": bad.AT_LEAST_ONE, "weight_decay": N, "maximize": B, "convention": bad.choice("t5", None),
                   "min_dim_size_to_factor": bad.COUNT}, "torch.optim.Adafactor"),
    OptimizerInfo("Muon", _configs("Muon"),
                  {"lr": N, "weight_decay": N, "momentum": U, "nesterov": B, "ns_coefficients": bad.COEFFICIENTS,
                   "eps": N, "ns_steps": bad.NS_STEPS, "adjust_lr_fn": bad.choice("adam", 1.0),
                   "ns_dtype": bad.choice("float16", "bf16")},
                  "torch.optim.Muon", shapes=((5, 4), (3, 6)), matrix_only=True),
    OptimizerInfo("LBFGS", _configs("LBFGS"),
                  {"lr": N, "max_iter": bad.POSITIVE_COUNT, "max_eval": [(0, ValueError), (2.5, TypeError)],
                   "tolerance_grad": N, "tolerance_change": N, "history_size": bad.POSITIVE_COUNT,
                   "line_search_fn": bad.choice("armijo", "wolfe")},
                  "torch.optim.LBFGS", closure_required=True, single_group=True,
                  quirks={"frozen": "a None gradient is read as zeros and the quasi-Newton direction mixes "
                                    "coordinates: freeze a parameter by leaving it out"}),
    OptimizerInfo("Lion", _configs("Lion"), {"lr": N, "betas": BETAS, "weight_decay": N}, "lion-pytorch",
                  nonfinite=SIGN_BOUNDED),
    OptimizerInfo("LAMB", _configs("LAMB"),
                  {"lr": N, "betas": BETAS, "eps": N, "eps_root": N, "weight_decay": N,
                   "bias_correction": bad.choice("debias", True), "clamp_value": bad.OPTIONAL_NUMERIC},
                  "torch-optimizer, optax"),
    OptimizerInfo("LARS", _configs("LARS"),
                  {"lr": N, "momentum": U, "weight_decay": N, "trust_coefficient": N, "eps": N, "nesterov": B,
                   "trust_ratio": B}, "optax"),
    OptimizerInfo("Lookahead", _configs("Lookahead"),
                  {"k": bad.POSITIVE_COUNT, "alpha": U, "slow_start": bad.choice("paper", None)},
                  "torch-optimizer, optax", make=_lookahead, wrapper=True),
    OptimizerInfo("SGDScheduleFree", _configs("SGDScheduleFree"),
                  {"lr": N, "momentum": bad.OPEN_UNIT, "weight_decay": N, "warmup_steps": bad.COUNT, "r": N,
                   "weight_lr_power": N}, "schedulefree", base={"lr": 0.1}),
    OptimizerInfo("AdamWScheduleFree", _configs("AdamWScheduleFree"),
                  {"lr": N, "betas": BETAS, "eps": N, "weight_decay": N, "warmup_steps": bad.COUNT, "r": N,
                   "weight_lr_power": N, "decay_at_z": B}, "schedulefree"),
    OptimizerInfo("SophiaG", _configs("SophiaG"),
                  {"lr": N, "betas": BETAS, "rho": N, "weight_decay": N, "maximize": B}, "sophia-opt", make=_sophia,
                  nonfinite=SIGN_BOUNDED),
    OptimizerInfo("AdamMini", _configs("AdamMini"),
                  {"lr": N, "betas": BETAS, "eps": N, "weight_decay": N, "dim": bad.POSITIVE_COUNT,
                   "n_heads": bad.POSITIVE_COUNT, "n_kv_heads": [(0, ValueError), (2.5, TypeError)]},
                  "adam-mini", make=_adam_mini),
    OptimizerInfo("Shampoo", _configs("Shampoo"),
                  {"lr": N, "momentum": U, "weight_decay": N, "epsilon": bad.NONPOSITIVE,
                   "update_freq": bad.POSITIVE_COUNT, "convention": bad.choice("martens", None)},
                  "torch-optimizer", shapes=((5, 4), (4,), (2, 3, 4)),  # an order-3 tensor: one root per mode
                  nonfinite=dict.fromkeys(NONFINITE_KINDS, "raises LinAlgError")),
    OptimizerInfo("Adam8bit", _configs("Adam8bit", **SMALL_8BIT),
                  {"lr": N, "betas": BETAS, "eps": N, "weight_decay": N, "decoupled_weight_decay": B,
                   "min_8bit_size": bad.COUNT, "blocksize": bad.choice(100, "256")},
                  "bitsandbytes", base=SMALL_8BIT),
    OptimizerInfo("AdamW8bit", _configs("AdamW8bit", **SMALL_8BIT),
                  {"lr": N, "betas": BETAS, "eps": N, "weight_decay": N, "decoupled_weight_decay": B,
                   "min_8bit_size": bad.COUNT, "blocksize": bad.choice(100, "256")},
                  "bitsandbytes", base=SMALL_8BIT),
]

OPTIMIZERS = {info.name: info for info in TABLE}
