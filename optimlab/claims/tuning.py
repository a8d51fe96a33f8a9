r"""The tuning protocol shared by the experiment claims (kind X): tasks, optimizers, one training run
and a learning-rate sweep, all cached so that the claims share one computation per process.

Protocol (the same for every optimizer, so that comparisons are at equal tuning effort):

* **seeds** ``SEEDS`` = 0, 1, 2; a seed fixes the train/test split, the initial weights and the batch
  order (``optimlab.problems.seeded_rng``). Generalisation claims re-run the tuned setting on the
  unseen ``FRESH_SEEDS`` = 3, 4, 5, so the number they report is not the one the tuning selected on;
* **grids** of learning rates (and weight decays) spaced by a half decade (×√10), 5–8 values around
  the optimizer's usual range (``LR_GRIDS``; a claim that needs a finer grid states it); a tuned value
  at a grid edge is reported (``at_edge``) and the tests assert it does not happen;
* **score** the mean over the seeds of the final held-out (test split) loss; a run whose loss becomes
  non-finite is stopped and scores +∞;
* everything in float64 under one BLAS thread (``single_blas_thread``), so the numbers do not
  depend on the machine's core count.
"""

from __future__ import annotations

import contextlib
import functools
import math
from dataclasses import dataclass

import numpy as np

from optimlab.optim import (LAMB, LARS, SGD, Adam, AdamW, AdamWScheduleFree, Lion, Lookahead, SophiaG)
from optimlab.optim.sophia import gnb_sample_labels
from optimlab.problems import BreastCancerLogistic, DigitsMLP, StdlibCharLM
from optimlab.schedules import cosine, linear, warmup_constant
from optimlab.training import Trainer

SEEDS = (0, 1, 2)
FRESH_SEEDS = (3, 4, 5)


def log_grid(low: float, count: int) -> tuple[float, ...]:
    """``count`` values 10^(k/2) from ``low`` (rounded to the nearest 10^(k/2)) upwards, a half decade (×√10)
    apart, to 3 significant digits: ``log_grid(3.16e-4, 3)`` is (3.16e-4, 1e-3, 3.16e-3)."""
    first = round(2 * math.log10(low))
    return tuple(float(f"{10 ** ((first + k) / 2):.3g}") for k in range(count))


@contextlib.contextmanager
def single_blas_thread():
    """One BLAS thread (threadpoolctl, shipped with scikit-learn); without it, leave the defaults."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


TASKS = {
    # digits: 1348 training / 449 test images, MLP 64–128–10; 300 steps of batch 64 ≈ 14 epochs
    "digits": (lambda seed, batch_size: DigitsMLP(seed=seed, batch_size=batch_size, dtype=np.float64), 64, 300),
    # breast cancer: logistic regression, 427 training / 142 test rows; 200 steps of batch 32 ≈ 15 epochs
    "cancer": (lambda seed, batch_size: BreastCancerLogistic(seed=seed, batch_size=batch_size), 32, 200),
    # tiny char transformer: 1 layer, width 32, 2 heads, context 16; 200 steps of 16 windows
    "charlm": (lambda seed, batch_size: StdlibCharLM(seed=seed, block_size=16, batch_size=batch_size, d_model=32,
                                                     n_heads=2, n_layers=1, eval_windows=64, dtype=np.float64), 16, 200),
}

OPTIMIZERS = {
    "sgd": lambda params, lr, **h: SGD(params, lr=lr, **h),
    "heavy_ball": lambda params, lr, **h: SGD(params, lr=lr, momentum=0.9, **h),
    "nesterov": lambda params, lr, **h: SGD(params, lr=lr, momentum=0.9, nesterov=True, **h),
    "adam": lambda params, lr, **h: Adam(params, lr=lr, **h),
    "adamw": lambda params, lr, **h: AdamW(params, lr=lr, **{"weight_decay": 0.0, **h}),
    "lion": lambda params, lr, **h: Lion(params, lr=lr, **h),
    "lookahead_adam": lambda params, lr, **h: Lookahead(Adam(params, lr=lr, **h), k=5, alpha=0.5),
    "sophia": lambda params, lr, **h: SophiaG(params, lr=lr, **{"weight_decay": 0.0, **h}),
    "schedule_free_adamw": lambda params, lr, **h: AdamWScheduleFree(params, lr=lr, **h),
    "lamb": lambda params, lr, **h: LAMB(params, lr=lr, **h),
    "lars": lambda params, lr, **h: LARS(params, lr=lr, **h),
}


# One learning-rate grid per optimizer (7–8 values, half a decade apart), wide enough for every task used
LR_GRIDS = {
    "sgd": log_grid(1e-2, 7), "heavy_ball": log_grid(1e-3, 7), "nesterov": log_grid(1e-3, 7),
    "adam": log_grid(1e-4, 8), "lion": log_grid(1e-5, 7), "lookahead_adam": log_grid(1e-4, 8),
    "schedule_free_adamw": log_grid(1e-4, 7),
}


def no_bias_correction(lr: float, beta1: float = 0.9, beta2: float = 0.999):
    r"""The lr schedule that turns torch's Adam into Adam *without* bias correction, up to ε:
    η_t = η (1 − β₁ᵗ)/√(1 − β₂ᵗ) gives θ_t = θ_{t−1} − η m_t/(√v_t + ε√(1 − β₂ᵗ)). (The schedule gets the
    number of steps taken, t − 1.)"""
    return lambda taken: lr * (1 - beta1 ** (taken + 1)) / math.sqrt(1 - beta2 ** (taken + 1))


def lr_schedule(name: str, lr: float, steps: int, warmup: int = 0):
    """``"constant"``, ``"cosine"`` / ``"linear"`` decay to 0 at ``steps``, ``"warmup"`` (linear from 0
    over ``warmup`` steps, then constant) or ``"no_bias_correction"`` (see ``no_bias_correction``)."""
    schedules = {
        "constant": lambda: lr,
        "cosine": lambda: cosine(lr, steps),
        "linear": lambda: linear(lr, 0.0, steps),
        "warmup": lambda: warmup_constant(lr, warmup),
        "no_bias_correction": lambda: no_bias_correction(lr),
    }
    if name not in schedules:
        raise ValueError(f"schedule must be one of {sorted(schedules)}, got {name!r}")
    return schedules[name]()


class _SophiaTrainer(Trainer):
    """``Trainer`` plus SophiaG's Gauss–Newton–Bartlett refresh: every ``hessian_interval`` steps, the
    gradient of the loss on labels sampled from the model (``gnb_sample_labels``, on a fresh batch)
    feeds ``update_hessian``; each step passes ``bs`` = the tokens (or examples) of a batch, as the
    authors' training script does (``optimizer.step`` is wrapped, since ``Trainer`` calls it bare)."""

    def __init__(self, task, optimizer, *, seed: int, **kwargs):
        super().__init__(task, optimizer, **kwargs)
        self.label_rng = np.random.default_rng([seed, 3])  # a stream apart from seeded_rng's three
        optimizer.step = functools.partial(optimizer.step, bs=task.batch_size * getattr(task, "block_size", 1))

    def train_step(self) -> float:
        loss = super().train_step()
        if self.optimizer.hessian_due():
            x, _ = self.task.next_batch()
            for p in self.task.parameters():
                p.zero_grad()
            self.task.loss_and_grad((x, gnb_sample_labels(self.task.model(x), self.label_rng)))
            self.optimizer.update_hessian()
        return loss


@dataclass(frozen=True)
class Run:
    """One training run: held-out (test split) and training-set loss/accuracy at the checkpoints
    ``steps`` (every ``eval_every``; the last is the final step), the mini-batch loss of every step
    (``batch_loss``). ``diverged``: stopped at a non-finite loss."""

    steps: tuple[int, ...]
    test_loss: tuple[float, ...]
    test_accuracy: tuple[float, ...]
    train_loss: tuple[float, ...]
    batch_loss: tuple[float, ...]
    diverged: bool

    @property
    def final_test_loss(self) -> float:
        return math.inf if self.diverged else self.test_loss[-1]

    @property
    def final_test_accuracy(self) -> float:
        return 0.0 if self.diverged else self.test_accuracy[-1]

    @property
    def final_train_loss(self) -> float:
        return math.inf if self.diverged else self.train_loss[-1]


def run(task: str, optimizer: str, lr: float, seed: int, *, schedule: str = "constant", warmup: int = 0,
        batch_size: int | None = None, steps: int | None = None, eval_every: int = 50, **hyper) -> Run:
    """Train ``TASKS[task]`` (seeded by ``seed``) with ``OPTIMIZERS[optimizer]`` at peak learning rate
    ``lr`` under ``schedule`` (``lr_schedule``) for ``steps`` (default: the task's) steps of
    ``batch_size``; ``hyper`` goes to the optimizer. Cached on the resolved arguments, so that
    claims asking for the same run share it."""
    _, default_batch, default_steps = TASKS[task]
    return _run(task, optimizer, float(lr), seed, schedule, warmup, default_batch if batch_size is None else batch_size,
                default_steps if steps is None else steps, eval_every, tuple(sorted(hyper.items())))


@functools.cache
def _run(task, optimizer, lr, seed, schedule, warmup, batch_size, steps, eval_every, hyper) -> Run:
    with single_blas_thread(), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        model_task = TASKS[task][0](seed, batch_size)
        optimizer_instance = OPTIMIZERS[optimizer](list(model_task.parameters()),
                                                   lr_schedule(schedule, lr, steps, warmup), **dict(hyper))
        trainer = (_SophiaTrainer(model_task, optimizer_instance, seed=seed) if optimizer == "sophia"
                   else Trainer(model_task, optimizer_instance))
        record = {"steps": [], "test_loss": [], "test_accuracy": [], "train_loss": []}
        while trainer.step < steps:
            history = trainer.fit(min(eval_every, steps - trainer.step))
            if not all(map(math.isfinite, history["loss"][-eval_every:])):
                return Run(**{k: tuple(v) for k, v in record.items()}, batch_loss=tuple(history["loss"]), diverged=True)
            test, train = trainer.evaluate(), _evaluate_train(trainer)
            record["steps"].append(trainer.step)
            record["test_loss"].append(test["loss"])
            record["test_accuracy"].append(test["accuracy"])
            record["train_loss"].append(train["loss"])
    diverged = not all(map(math.isfinite, record["test_loss"] + record["train_loss"]))
    return Run(**{k: tuple(v) for k, v in record.items()}, batch_loss=tuple(history["loss"]), diverged=diverged)


def _evaluate_train(trainer) -> dict:
    """Training-set metrics, in the optimizer mode ``Trainer.evaluate`` uses (Schedule-Free's x)."""
    trainer._set_optimizer_mode(False)
    try:
        return trainer.task.evaluate("train")
    finally:
        trainer._set_optimizer_mode(True)


def seed_runs(task: str, optimizer: str, lr: float, seeds=SEEDS, **kwargs) -> list[Run]:
    return [run(task, optimizer, lr, seed, **kwargs) for seed in seeds]


def mean_final(task: str, optimizer: str, lr: float, seeds=SEEDS, metric: str = "final_test_loss", **kwargs) -> float:
    """Mean over ``seeds`` of one final metric (``Run`` property name)."""
    return float(np.mean([getattr(r, metric) for r in seed_runs(task, optimizer, lr, seeds, **kwargs)]))


@dataclass(frozen=True)
class Sweep:
    """Scores (mean final held-out loss over ``SEEDS``) of a grid; ``best`` minimises it."""

    grid: tuple
    scores: tuple[float, ...]

    @property
    def best(self):
        return self.grid[int(np.argmin(self.scores))]

    @property
    def best_score(self) -> float:
        return float(min(self.scores))

    @property
    def at_edge(self) -> bool:
        """True when the best value is the first or last of a (1-D) grid."""
        return int(np.argmin(self.scores)) in (0, len(self.grid) - 1)


def lr_sweep(task: str, optimizer: str, grid: tuple[float, ...], **kwargs) -> Sweep:
    """``mean_final`` test loss at each lr of ``grid`` (keyword arguments go to ``run``)."""
    return Sweep(grid, tuple(mean_final(task, optimizer, lr, **kwargs) for lr in grid))


def lr_decay_sweep(task: str, optimizer: str, lrs: tuple[float, ...], decays: tuple[float, ...], **kwargs) -> Sweep:
    """Joint (lr, weight_decay) grid, scored as ``lr_sweep``; ``best`` is an (lr, weight_decay) pair."""
    grid = tuple((lr, wd) for lr in lrs for wd in decays)
    return Sweep(grid, tuple(mean_final(task, optimizer, lr, weight_decay=wd, **kwargs) for lr, wd in grid))


def paired_gap(task: str, a: tuple, b: tuple, *, metric: str = "final_test_loss", seeds=SEEDS) -> tuple[float, float]:
    """Mean and standard deviation over ``seeds`` of metric(a) − metric(b), seed by seed, for two
    settings ``(optimizer, lr, run keyword arguments)``."""
    gaps = [getattr(x, metric) - getattr(y, metric)
            for x, y in zip(seed_runs(task, a[0], a[1], seeds, **a[2]), seed_runs(task, b[0], b[1], seeds, **b[2]))]
    return float(np.mean(gaps)), float(np.std(gaps))


def leading(evidence: dict, *keys: str) -> dict:
    """``evidence`` with ``keys`` first: the ledger shows the first few numbers of each claim."""
    return {**{key: evidence[key] for key in keys}, **evidence}
