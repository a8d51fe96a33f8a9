r"""Figures of chapter 10: memory-efficient optimizers (Adafactor, 8-bit Adam, Adam-mini).

The bytes come from ``optimlab.optim.memory.state_bytes_table``: measured from the arrays each
optimizer allocates, never typed in. The training curves run each optimizer on the digits MLP
(``optimlab.problems.DigitsMLP``, seeded: the same mini-batches for every optimizer), whose
parameters are named as an MLP's (``mlp.fc1.weight``, ...) so that Adam-mini gives each matrix one
second-moment block per output neuron, as the adam-mini package does for MLP layers.
"""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits

from optimlab.optim import AdamMini, AdamW, AdamW8bit, Adafactor
from optimlab.optim.memory import state_bytes_table
from optimlab.plots._common import new_figure, styled
from optimlab.problems import DigitsMLP

# optimizer -> (class, hyperparameters) for the digits runs; AdamW's lr 3e-3 for the Adam family,
# torch's default relative step (lr 1e-2) for Adafactor
DIGITS_RUNS = {
    "AdamW": (AdamW, {"lr": 3e-3, "weight_decay": 0.0}),
    "AdamW8bit": (AdamW8bit, {"lr": 3e-3, "weight_decay": 0.0}),
    "AdamMini": (AdamMini, {"lr": 3e-3}),
    "Adafactor": (Adafactor, {"lr": 1e-2}),
}
DIGITS_STEPS = 100


def train_digits(name: str, steps: int = DIGITS_STEPS, seed: int = 0) -> tuple[np.ndarray, dict]:
    """Mini-batch training losses of ``DIGITS_RUNS[name]`` on the digits MLP, and its test metrics.
    BLAS runs on one thread: a multi-threaded matrix product sums in another order, and the figure
    must be the same bytes whatever the machine's thread count."""
    with threadpool_limits(limits=1, user_api="blas"):
        return _train_digits(name, steps, seed)


def _train_digits(name: str, steps: int, seed: int) -> tuple[np.ndarray, dict]:
    cls, hyper = DIGITS_RUNS[name]
    task = DigitsMLP(seed=seed)
    named = [(f"mlp.fc{1 + index // 2}.{kind}", param)
             for index, ((_, param), kind) in enumerate(zip(task.model.named_parameters(), ("weight", "bias") * 2))]
    optimizer = cls(named if cls is AdamMini else [param for _, param in named], **hyper)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        losses.append(task.loss_and_grad(task.next_batch()))
        optimizer.step()
    return np.array(losses), task.evaluate()


@styled
def memory_bytes_per_parameter(rows=None):
    """Measured optimizer-state bytes per parameter of every optimizer (float32 model; ``rows``:
    ``state_bytes_table()``, measured here when not given)."""
    rows = sorted(rows or state_bytes_table(), key=lambda row: row.bytes_per_parameter)
    fig, axes = new_figure(1, 1, width=6.4, height=4.6)
    ax = axes[0, 0]
    values = [row.bytes_per_parameter for row in rows]
    ax.barh([row.optimizer for row in rows], values, color=["C3" if v > 8 else "C0" if v >= 8 else "C2" for v in values])
    ax.axvline(8.0, color="0.4", lw=0.8, ls="--")
    ax.axvline(4.0, color="0.4", lw=0.8, ls=":")
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlabel("state bytes per parameter (measured; dashed: Adam's 8, dotted: the fp32 weight's 4)")
    ax.tick_params(axis="y", labelsize=7)
    return fig


@styled
def memory_training_curves(runs: dict | None = None):
    """Training loss on the digits MLP: AdamW against its memory-efficient variants (``runs``:
    ``train_digits`` results by name, computed here when not given)."""
    runs = runs or {name: train_digits(name) for name in DIGITS_RUNS}
    fig, axes = new_figure(1, 1, width=5.6, height=3.0)
    ax = axes[0, 0]
    styles = {"AdamW": "k-", "AdamW8bit": "C1--", "AdamMini": "C2-.", "Adafactor": "C0:"}
    window = 10
    for name in DIGITS_RUNS:
        losses, _ = runs[name]
        smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
        ax.semilogy(np.arange(window, losses.size + 1), smooth, styles[name], label=name)
    ax.set_xlabel("step")
    ax.set_ylabel(f"training loss ({window}-step mean)")
    ax.legend()
    return fig
