"""Optimizer memory, measured: the bytes of state each exported optimizer holds per parameter.

``state_bytes_table()`` builds every optimizer of ``optimlab.optim`` over the same float32 model
(``MEMORY_SHAPES``: a 256×512 weight matrix and a 512 bias, 131,584 parameters), takes one step
(LBFGS: one ``step(closure)``, up to ``max_iter`` = 20 inner iterations) and reads
``state_bytes()``, which sums ``nbytes`` over the arrays the optimizer really allocated. Nothing is
typed in: a different layout, dtype or shape changes the table. What varies with the shape is
stated in the book: Adafactor's factored moment is O(n + m) for an n×m matrix, Shampoo's
preconditioners O(n² + m²), Adam-mini's second moment one float per block (a row here), 8-bit Adam's
states 1 byte per element plus one float32 absmax per 256-element block (tensors of 4096 elements
or more; smaller ones, the bias here, stay in float32), L-BFGS's history two vectors per iteration.
Muon takes only matrices, so its model is the weight alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import optimlab.optim as optim
from optimlab.parameter import Parameter

MEMORY_SHAPES = {"mlp.weight": (256, 512), "mlp.bias": (512,)}
MATRIX_ONLY = ("Muon",)


@dataclass(frozen=True)
class MemoryRow:
    """One optimizer's measured state memory on the table's model."""

    optimizer: str
    parameters: int
    weight_bytes: int
    state_bytes: int

    @property
    def bytes_per_parameter(self) -> float:
        return self.state_bytes / self.parameters

    @property
    def total_over_weights(self) -> float:
        """(weights + state) / weights: the optimizer's memory in units of the model's weights."""
        return (self.weight_bytes + self.state_bytes) / self.weight_bytes


def stepping_optimizers() -> list[str]:
    """Every optimizer class exported by ``optimlab.optim`` (the ``Optimizer`` base excluded)."""
    return [name for name in optim.__all__ if hasattr(getattr(optim, name), "step") and name != "Optimizer"]


def build(name: str, params: list[Parameter]):
    """``name``'s optimizer with its defaults over ``params``; Lookahead wraps AdamW, Adam-mini gets
    the parameters' names (its blocks come from them)."""
    if name == "Lookahead":
        return optim.Lookahead(optim.AdamW(params))
    if name == "AdamMini":
        return optim.AdamMini([(p.name, p) for p in params])
    return getattr(optim, name)(params)


def model(name: str, dtype=np.float32, seed: int = 0) -> list[Parameter]:
    """The table's model for optimizer ``name``: seeded float32 parameters (matrices only for Muon)."""
    rng = np.random.default_rng(seed)
    shapes = {key: shape for key, shape in MEMORY_SHAPES.items() if len(shape) == 2 or name not in MATRIX_ONLY}
    return [Parameter(rng.normal(size=shape).astype(dtype), name=key) for key, shape in shapes.items()]


def stepped(name: str, dtype=np.float32, seed: int = 0):
    """``(optimizer, params)`` after one step on a quadratic ½Σ dᵢθᵢ² (d in [1, 10], so L-BFGS takes
    several iterations)."""
    params = model(name, dtype, seed)
    rng = np.random.default_rng(seed + 1)
    curvature = [rng.uniform(1.0, 10.0, size=p.shape).astype(dtype) for p in params]
    optimizer = build(name, params)

    def closure():
        for param, d in zip(params, curvature):
            param.grad = d * param.data
        return sum(0.5 * float(np.sum(d * p.data * p.data)) for p, d in zip(params, curvature))

    optimizer.step(closure)
    return optimizer, params


def stepped_optimizer(optimizer_cls, shape, *, dtype=np.float32, seed=0, name=None, **hyper):
    """``optimizer_cls([θ], **hyper)`` over one parameter of ``shape`` (named ``name``: Adam-mini's blocks
    come from it) after one step with a random gradient of entries in [½, 1½], so that its lazily
    created state exists (squares stay normal numbers even in fp16); returns ``(optimizer, θ)``."""
    rng = np.random.default_rng(seed)
    param = Parameter(rng.normal(size=shape).astype(dtype), name=name)
    optimizer = optimizer_cls([param], **hyper)
    param.grad = rng.uniform(0.5, 1.5, size=shape).astype(dtype)
    optimizer.step()
    return optimizer, param


def state_bytes_per_parameter(optimizer_cls, shape=(4096,), *, dtype=np.float32, name=None, **hyper) -> float:
    """``optimizer.state_bytes_per_parameter()`` measured after one step on one parameter of ``shape``
    (see ``stepped_optimizer``)."""
    optimizer, _ = stepped_optimizer(optimizer_cls, shape, dtype=dtype, name=name, **hyper)
    return optimizer.state_bytes_per_parameter()


def state_bytes_table(dtype=np.float32) -> list[MemoryRow]:
    """One measured ``MemoryRow`` per exported optimizer (see the module docstring)."""
    rows = []
    for name in stepping_optimizers():
        optimizer, params = stepped(name, dtype)
        rows.append(MemoryRow(name, sum(p.size for p in params), sum(p.data.nbytes for p in params),
                              optimizer.state_bytes()))
    return rows


def markdown_table(rows: list[MemoryRow]) -> str:
    """The table as Markdown, sorted by bytes per parameter: state bytes per parameter, and weights
    plus state in units of the weights."""
    lines = ["| optimizer | state bytes / parameter | weights + state (× weights) |", "|---|---:|---:|"]
    for row in sorted(rows, key=lambda r: (r.bytes_per_parameter, r.optimizer)):
        lines.append(f"| {row.optimizer} | {row.bytes_per_parameter:.2f} | {row.total_over_weights:.2f} |")
    return "\n".join(lines)
