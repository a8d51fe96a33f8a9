"""The trainer against a hand-written loop, its modes, history, progress output and bad inputs."""

import io

import numpy as np
import pytest

from optimlab.nn import Linear, MSELoss, Sequential, Tanh
from optimlab.optim import SGD
from optimlab.training import EMA, GradScaler, MasterWeights, Progress, Trainer


class ToyTask:
    """Regression with a small MLP on seeded synthetic data (the Task contract, on the default backend)."""

    def __init__(self, xp, dtype=np.float64, batch_size=8, seed=0):
        rng = np.random.default_rng(seed)
        self.xp, self.dtype, self.batch_size = xp, dtype, batch_size
        self.model = Sequential(Linear(3, 6, rng=rng, dtype=dtype), Tanh(), Linear(6, 1, rng=rng, dtype=dtype))
        x = rng.normal(size=(64, 3))
        self.x, self.y = xp.asarray(x, dtype=dtype), xp.asarray(np.sin(x).sum(axis=1, keepdims=True), dtype=dtype)
        self.batch_rng, self.loss_fn = np.random.default_rng(seed + 1), MSELoss()

    def parameters(self):
        return self.model.parameters()

    def next_batch(self):
        rows = self.xp.asarray(self.batch_rng.choice(len(self.x), self.batch_size, replace=False))
        return self.x[rows], self.y[rows]

    def loss_and_grad(self, batch, loss_scale=1.0):
        x, y = batch
        loss = self.loss_fn(self.model(x), y)
        self.model.backward(self.loss_fn.backward(loss_scale))
        return float(loss)

    def evaluate(self):
        return {"loss": float(self.loss_fn(self.model(self.x), self.y))}


def to_host(array):
    return array.get() if hasattr(array, "get") else array


def test_trainer_equals_a_hand_written_loop(xp):
    task, twin = ToyTask(xp), ToyTask(xp)
    history = Trainer(task, SGD(task.parameters(), lr=0.1, momentum=0.9), eval_every=5).fit(20)
    opt = SGD(twin.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for _ in range(20):
        twin.model.zero_grad()
        losses.append(twin.loss_and_grad(twin.next_batch()))
        opt.step()
    for p, q in zip(task.parameters(), twin.parameters()):
        np.testing.assert_array_equal(to_host(p.data), to_host(q.data))
    assert history["loss"] == losses and history.steps("loss") == list(range(1, 21))
    assert history.steps("eval_loss") == [5, 10, 15, 20]
    assert history["eval_loss"][-1] < history["eval_loss"][0]
    assert history["lr"] == [0.1] * 20 and not any(history["skipped"])


def test_accumulation_equals_the_concatenated_batch():
    task, twin = ToyTask(np, batch_size=4), ToyTask(np, batch_size=4)
    Trainer(task, SGD(task.parameters(), lr=0.1), accumulation_steps=3).fit(5)
    opt = SGD(twin.parameters(), lr=0.1)
    for _ in range(5):
        twin.model.zero_grad()
        parts = [twin.next_batch() for _ in range(3)]
        twin.loss_and_grad(tuple(np.concatenate(arrays) for arrays in zip(*parts)))
        opt.step()
    for p, q in zip(task.parameters(), twin.parameters()):
        # float64: the micro-batch sums are regrouped; 1e-12 relative holds with margin.
        np.testing.assert_allclose(p.data, q.data, rtol=1e-12, atol=1e-14)


class ModalSGD(SGD):
    """SGD with Schedule-Free's train()/eval() switches, recording the calls."""

    def __init__(self, params, log, **kwargs):
        super().__init__(params, **kwargs)
        self.log = log

    def train(self):
        self.log.append("train")

    def eval(self):
        self.log.append("eval")


def test_optimizer_modes_around_evaluation():
    log, task = [], ToyTask(np)
    trainer = Trainer(task, ModalSGD(task.parameters(), log, lr=0.05), eval_every=2)
    original = task.evaluate
    task.evaluate = lambda: log.append("evaluate") or original()
    trainer.fit(4)
    assert log == ["train", "eval", "evaluate", "train", "eval", "evaluate", "train"]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # fp16 overflow under the initial 2^20 scale, by design
def test_mixed_precision_averaging_and_clipping_in_the_loop():
    task = ToyTask(np, dtype=np.float16)
    master = MasterWeights(task.parameters())
    ema = EMA(master.master_params, decay=0.9)
    trainer = Trainer(task, SGD(master.master_params, lr=0.05), master=master, scaler=GradScaler(init_scale=2.0**20),
                      max_grad_norm=1.0, averaged=ema, eval_every=30)
    history = trainer.fit(60)
    assert history["skipped"][0]  # 2^20 · gradients overflow fp16: the scaler backs off and skips
    assert history["scale"][-1] < 2.0**20 and not history["skipped"][-1]
    assert history["eval_loss"][-1] < 0.5 * history["eval_loss"][0]
    assert len(history["grad_norm"]) == 60
    assert ema.n_averaged == 60 - sum(history["skipped"])


def test_progress_is_silent_off_terminal_and_drawn_on_one():
    quiet = io.StringIO()
    task = ToyTask(np)
    Trainer(task, SGD(task.parameters(), lr=0.1), progress_stream=quiet).fit(3)
    assert quiet.getvalue() == ""

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    with Progress(4, desc="run", stream=terminal, min_interval=0.0) as bar:
        for _ in range(4):
            bar.update(1, loss=0.123456)
    assert terminal.getvalue().endswith("\rrun 4/4 [########################]  loss=0.1235\x1b[K\n")


def test_trainer_bad_inputs_change_nothing():
    task = ToyTask(np)
    before = [p.data.copy() for p in task.parameters()]
    with pytest.raises(ValueError, match="accumulation_steps must be at least 1, got 0"):
        Trainer(task, SGD(task.parameters(), lr=0.1), accumulation_steps=0)
    with pytest.raises(ValueError, match="eval_every"):
        Trainer(task, SGD(task.parameters(), lr=0.1), eval_every=-1)
    task.x[:, 1] = np.nan
    trainer = Trainer(task, SGD(task.parameters(), lr=0.1))
    with pytest.raises(ValueError, match="batch at step 0 contains NaN"):
        trainer.fit(5)
    with pytest.raises(ValueError, match="steps"):
        trainer.fit(-1)
    assert trainer.step == 0
    for p, b in zip(task.parameters(), before):
        np.testing.assert_array_equal(p.data, b)
