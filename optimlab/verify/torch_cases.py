"""The configurations each optimizer is checked with against ``torch.optim``.

Two sources: torch's own optimizer test database (``torch.testing._internal.common_optimizers.optim_db``,
every CPU input, with a tensor ``lr`` turned into a float) and our additions, so that every flag is
covered. Each optimizer that has a torch twin is listed once in ``TORCH_TWINS``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import optimlab.optim as optim

# our class name -> torch.optim class name
TORCH_TWINS = {
    "SGD": "SGD",
    "Adam": "Adam",
    "AdamW": "AdamW",
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
}

_TORCH_ONLY_KEYS = ("foreach", "fused", "capturable", "differentiable")


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

        return getattr(torch.optim, TORCH_TWINS[self.name])

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
