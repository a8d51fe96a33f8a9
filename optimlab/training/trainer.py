"""A small training loop over any task with the ``optimlab.problems.Task`` contract, recording a
metric history, with optional accumulation, clipping, loss scaling, master weights and averaging.

The task provides ``parameters()``, ``next_batch()``, ``loss_and_grad(batch, loss_scale)`` (forward,
backward of ``loss_scale · L`` into ``p.grad``, returns ``L``) and ``evaluate() -> dict``. Everything
runs on the task's arrays, so the same loop runs on NumPy and CuPy.
"""

from __future__ import annotations

from optimlab.backend import get_array_module, is_array
from optimlab.training.gradients import accumulate_gradients, accumulation_steps_checked, guarded_step
from optimlab.training.progress import Progress


class History:
    """Metric name -> the steps it was recorded at and its values (``history["loss"]``,
    ``history.steps("eval_accuracy")``)."""

    def __init__(self):
        self.series: dict[str, tuple[list[int], list[float]]] = {}

    def log(self, step: int, **values) -> None:
        for name, value in values.items():
            steps, recorded = self.series.setdefault(name, ([], []))
            steps.append(step)
            recorded.append(value)

    def __getitem__(self, name: str) -> list:
        return self.series[name][1]

    def __contains__(self, name: str) -> bool:
        return name in self.series

    def steps(self, name: str) -> list[int]:
        return self.series[name][0]


def _check_batch(batch, step: int) -> None:
    arrays = batch if isinstance(batch, tuple) else (batch,)
    for i, array in enumerate(arrays):
        if is_array(array) and array.dtype.kind == "f" and not bool(get_array_module(array).isfinite(array).all()):
            raise ValueError(f"training batch at step {step} contains NaN or infinity (array {i} of the batch)")


def _current_lr(optimizer):
    lr = optimizer.param_groups[0]["lr"]
    return lr(optimizer.step_count) if callable(lr) else lr


class Trainer:
    """``Trainer(task, optimizer, ...).fit(steps) -> History``.

    Each step: zero the model's gradients; draw ``accumulation_steps`` batches and accumulate their
    mean gradient (times the scaler's S); ``guarded_step`` (unscale, clip to ``max_grad_norm``, step
    unless a gradient is inf/NaN, update the scaler) — through ``master.step`` when fp32
    ``MasterWeights`` are given, and then the optimizer must hold ``master.master_params``; update the
    ``averaged`` parameters (SWA/EMA) after a taken step; ``scheduler.step()``.
    Recorded every step: ``loss``, ``lr`` (group 0), ``skipped``, and ``grad_norm``/``scale`` when used;
    every ``eval_every`` steps: ``eval_<metric>`` from ``evaluate()``. Optimizers with ``train()`` and
    ``eval()`` (Schedule-Free) are switched to eval mode for evaluation and back. A progress bar goes to
    ``progress_stream`` (default stderr) only when it is a terminal.
    """

    def __init__(self, task, optimizer, *, scheduler=None, accumulation_steps: int = 1, max_grad_norm=None,
                 scaler=None, master=None, averaged=None, eval_every: int = 0, progress_stream=None):
        self.task, self.optimizer, self.scheduler = task, optimizer, scheduler
        self.accumulation_steps = accumulation_steps_checked(accumulation_steps)
        if isinstance(eval_every, bool) or not isinstance(eval_every, int) or eval_every < 0:
            raise ValueError(f"eval_every must be a non-negative int (0: never), got {eval_every!r}")
        self.max_grad_norm, self.scaler, self.master, self.averaged = max_grad_norm, scaler, master, averaged
        self.eval_every, self.progress_stream = eval_every, progress_stream
        self.history, self.step = History(), 0

    def _set_optimizer_mode(self, training: bool) -> None:
        switch = getattr(self.optimizer, "train" if training else "eval", None)
        if callable(switch):
            switch()

    def evaluate(self) -> dict:
        """``task.evaluate()`` with the optimizer in eval mode and, if any, the averaged parameters."""
        self._set_optimizer_mode(False)
        try:
            if self.averaged is None:
                return self.task.evaluate()
            with self.averaged.applied():
                return self.task.evaluate()
        finally:
            self._set_optimizer_mode(True)

    def train_step(self) -> float:
        """One optimizer step (see the class docstring); returns the mean training loss of its batches."""
        for p in self.task.parameters():
            p.zero_grad()
        batches = [self.task.next_batch() for _ in range(self.accumulation_steps)]
        for batch in batches:
            _check_batch(batch, self.step)
        scale = 1.0 if self.scaler is None else self.scaler.get_scale()
        lr = _current_lr(self.optimizer)
        loss = accumulate_gradients(self.task.loss_and_grad, batches, "mean", loss_scale=scale)
        stepper = guarded_step if self.master is None else self.master.step
        result = stepper(self.optimizer, scaler=self.scaler, max_grad_norm=self.max_grad_norm)
        if self.averaged is not None and result.stepped:
            self.averaged.update()
        if self.scheduler is not None:
            self.scheduler.step()
        self.step += 1
        self.history.log(self.step, loss=loss, lr=lr, skipped=not result.stepped)
        if result.grad_norm is not None:
            self.history.log(self.step, grad_norm=result.grad_norm)
        if self.scaler is not None:
            self.history.log(self.step, scale=scale)
        return loss

    def fit(self, steps: int) -> History:
        """Train for ``steps`` optimizer steps (continuing from earlier calls); return the history."""
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise ValueError(f"steps must be a non-negative int, got {steps!r}")
        self._set_optimizer_mode(True)
        with Progress(steps, desc="train", stream=self.progress_stream) as bar:
            for _ in range(steps):
                loss = self.train_step()
                metrics = {"loss": loss}
                if self.eval_every and self.step % self.eval_every == 0:
                    evaluation = {f"eval_{name}": value for name, value in self.evaluate().items()}
                    self.history.log(self.step, **evaluation)
                    metrics.update(evaluation)
                bar.update(1, **metrics)
        return self.history
