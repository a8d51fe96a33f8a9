"""The configurations each optimizer is checked with against ``torch.optim``.

Two sources: torch's own optimizer test database (``torch.testing._internal.common_optimizers.optim_db``,
every CPU input, with a tensor ``lr`` turned into a float) and our additions, so that every flag is
covered. Each optimizer that has a torch twin is listed once in ``TORCH_TWINS``.
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass

import optimlab.optim as optim
from optimlab.kernels import ElementwiseKernel
from optimlab.verify.parity import SHAPES

# our class name -> torch.optim class name
TORCH_TWINS = {
    "SGD": "SGD",
    "Adam": "Adam",
    "AdamW": "AdamW",
    "Adagrad": "Adagrad",
    "RMSprop": "RMSprop",
    "Adadelta": "Adadelta",
    "Adamax": "Adamax",
    "NAdam": "NAdam",
    "RAdam": "RAdam",
    "ASGD": "ASGD",
    "Rprop": "Rprop",
    "Adafactor": "Adafactor",
    "Muon": "Muon",
}

# configurations torch's database leaves out, so that every flag and combination is exercised
EXTRA_CONFIGS: dict[str, list[dict]] = {
    "SGD": [
        {"lr": 0.05, "momentum": 0.9, "nesterov": True},
        {"lr": 0.05, "momentum": 0.5, "dampening": 0.3, "weight_decay": 0.1, "maximize": True},
        {"lr": 0.05, "momentum": 0.9, "nesterov": True, "maximize": True},
    ],
    "Adam": [
        {"lr": 0.01, "decoupled_weight_decay": True, "weight_decay": 0.1},
        {"lr": 0.01, "amsgrad": True, "maximize": True},
        {"lr": 0.01, "betas": (0.3, 0.5), "eps": 1e-3, "amsgrad": True, "weight_decay": 0.05},
    ],
    "AdamW": [
        {"lr": 0.01, "amsgrad": True, "maximize": True, "weight_decay": 0.0},
        {"lr": 0.01, "betas": (0.5, 0.9), "eps": 1e-6},
    ],
    "Adagrad": [
        {"lr": 0.1, "lr_decay": 0.1, "initial_accumulator_value": 0.5, "eps": 1e-3, "maximize": True},
        {"lr": 0.1, "initial_accumulator_value": 2.0},
    ],
    "RMSprop": [
        {"lr": 0.01, "momentum": 0.9},
        {"lr": 0.01, "alpha": 0.5, "eps": 1e-3, "momentum": 0.5, "maximize": True},
        {"lr": 0.01, "alpha": 0.9, "centered": True},
        {"lr": 0.01, "centered": True, "momentum": 0.9, "maximize": True},
    ],
    "Adadelta": [
        {"lr": 0.5, "rho": 0.5, "eps": 1e-3, "maximize": True},
        {"rho": 0.99, "weight_decay": 0.05},
    ],
    "Adamax": [
        {"lr": 0.01, "betas": (0.5, 0.9), "eps": 1e-3, "weight_decay": 0.05, "maximize": True},
    ],
    "NAdam": [
        {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True, "maximize": True},
        {"lr": 0.01, "betas": (0.5, 0.9), "eps": 1e-3, "momentum_decay": 0.0},
    ],
    # the rectification switches on at step 6 with beta2 0.999 or 0.9, never with 0.6 (rho_inf = 4)
    "RAdam": [
        {"lr": 0.01, "betas": (0.9, 0.9)},
        {"lr": 0.01, "betas": (0.5, 0.6)},
        {"lr": 0.01, "eps": 1e-3, "weight_decay": 0.1, "decoupled_weight_decay": True, "maximize": True},
    ],
    # torch's t0 (100) starts averaging after 50 steps: these average from step 4 and 11
    "ASGD": [
        {"lr": 0.05, "t0": 3},
        {"lr": 0.05, "lambd": 0.01, "alpha": 0.5, "t0": 10, "weight_decay": 0.1, "maximize": True},
    ],
    "Rprop": [
        {"lr": 0.3, "etas": (0.3, 1.1), "step_sizes": (0.01, 0.2)},
        {"lr": 0.05, "etas": (0.2, 2.0), "maximize": True},
    ],
    "Adafactor": [
        {"lr": 0.1, "eps": (1e-3, 1e-2), "d": 1.2, "weight_decay": 0.05},
        {"lr": 0.05, "beta2_decay": 0.0, "maximize": True},
    ],
    # ns_dtype=None: the Newton–Schulz iteration in float64 against torch's with its bfloat16 cast removed
    "Muon": [
        {"lr": 0.02, "nesterov": False, "adjust_lr_fn": "match_rms_adamw", "ns_dtype": None},
        {"lr": 0.02, "momentum": 0.5, "weight_decay": 0.0, "adjust_lr_fn": "original", "ns_dtype": None},
        {"ns_steps": 3, "ns_coefficients": (2.0, -1.5, 0.5), "eps": 1e-3, "ns_dtype": None},
    ],
}

_TORCH_ONLY_KEYS = ("foreach", "fused", "capturable", "differentiable")

# parameter shapes of the parity problem where the default (a matrix, a vector, a scalar) does not fit
PROBLEM_SHAPES = {"Muon": ((5, 4), (3, 6))}


def _torch_muon():
    """torch's Muon, also taking our ``ns_dtype``: ``None`` runs torch's own Newton–Schulz code with
    its bfloat16 cast made a copy (so in the parameters' dtype); ``"bfloat16"`` is torch unchanged."""
    from unittest import mock

    import torch

    class TorchMuon(torch.optim.Muon):
        def __init__(self, params, *args, ns_dtype="bfloat16", **kwargs):
            super().__init__(params, *args, **kwargs)
            self.ns_dtype = ns_dtype

        def step(self, closure=None):
            if self.ns_dtype is not None:
                return super().step(closure)
            with mock.patch.object(torch.Tensor, "bfloat16", lambda tensor: tensor.clone()):
                return super().step(closure)

    return TorchMuon


# torch twins that need an adapter to take our extra arguments
TORCH_ADAPTERS = {"Muon": _torch_muon}


@dataclass(frozen=True)
class TorchCase:
    """One optimizer configuration to compare with its torch twin."""

    name: str
    kwargs: tuple
    desc: str

    @property
    def config(self) -> dict:
        return dict(self.kwargs)

    @property
    def ours(self):
        return getattr(optim, self.name)

    @property
    def theirs(self):
        import torch.optim

        if self.name in TORCH_ADAPTERS:
            return TORCH_ADAPTERS[self.name]()
        return getattr(torch.optim, TORCH_TWINS[self.name])

    @property
    def shapes(self) -> tuple:
        """The parameter shapes of the parity problem for this optimizer."""
        return PROBLEM_SHAPES.get(self.name, SHAPES)

    @property
    def has_kernel(self) -> bool:
        """Whether the optimizer's module defines a fused kernel (for the compiled-CPU tests)."""
        module = sys.modules[self.ours.__module__]
        return any(isinstance(value, ElementwiseKernel) for value in vars(module).values())

    def __str__(self) -> str:
        return f"{self.name}({self.desc})"


@functools.lru_cache(maxsize=None)
def torch_database_configs(torch_name: str) -> tuple[tuple[str, dict], ...]:
    """``(description, kwargs)`` of every CPU input torch's optimizer tests use for ``torch_name``."""
    import torch
    from torch.testing._internal.common_optimizers import optim_db

    for info in optim_db:
        if info.optim_cls.__name__ != torch_name:
            continue
        configs = []
        for entry in info.optim_inputs_func(device="cpu"):
            kwargs = {k: v for k, v in entry.kwargs.items() if k not in _TORCH_ONLY_KEYS}
            kwargs = {k: float(v) if isinstance(v, torch.Tensor) else v for k, v in kwargs.items()}
            configs.append((f"torch: {entry.desc}", kwargs))
        return tuple(configs)
    raise KeyError(f"torch's optimizer database has no {torch_name}")


def torch_cases(names=None) -> list[TorchCase]:
    """Every (optimizer, configuration) pair to check against torch."""
    cases = []
    for name in names or TORCH_TWINS:
        configs = list(torch_database_configs(TORCH_TWINS[name]))
        configs += [(", ".join(f"{k}={v}" for k, v in c.items()), c) for c in EXTRA_CONFIGS.get(name, [])]
        seen = set()
        for desc, kwargs in configs:
            key = tuple(sorted(kwargs.items()))
            if key not in seen:
                seen.add(key)
                cases.append(TorchCase(name, key, desc))
    return cases


def sixteen_bit_case(case: TorchCase) -> bool:
    """Whether a case's fp16/bf16 run through its fused kernel is held to "two roundings of the
    storage type per step" of the float32 run (tests of the CPU and GPU forms). Left out:
    ``maximize=True`` with a fixed step, which climbs the convex test objective out of fp16's range
    (65504; Adafactor's steps are relative to the parameter's RMS and clipped, and stay in range), and
    Rprop, whose step size is multiplied by η+ or η− on the *sign* of g_t·g_{t−1}: near the minimum
    one rounding that flips a sign changes a step by a factor, not by a rounding (measured: up to 0.39
    relative after 50 steps)."""
    return (case.has_kernel and case.name != "Rprop"
            and not (case.ours.elementwise and case.config.get("maximize")))
