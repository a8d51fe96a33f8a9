"""``Task``: a model, a loss, a train/test split and a seeded stream of mini-batches.

The training-loop contract, the same for every task::

    opt.zero_grad()
    loss = task.loss_and_grad(task.next_batch())   # forward + backward, accumulates into p.grad
    opt.step()
    task.evaluate()                                 # {"loss": ..., "accuracy": ...} on held-out data

Data live on the default backend (``optimlab.set_backend``); indices are drawn on the host from
NumPy ``Generator``s seeded from one ``seed``, so a seed gives the same run on NumPy and CuPy.
"""

from __future__ import annotations

import numpy as np

from optimlab.backend import asarray, get_array_module


_PURPOSES = ("split", "init", "batches")


def seeded_rng(seed: int, purpose: str) -> np.random.Generator:
    """An independent stream per purpose (``"split"``, ``"init"``, ``"batches"``) from one seed, so
    changing, say, the batch size leaves the data split and the initial weights unchanged."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return np.random.default_rng([int(seed), _PURPOSES.index(purpose)])


def check_finite(name: str, array) -> None:
    """Raise ``ValueError`` naming ``array`` if it holds NaN or infinity."""
    xp = get_array_module(array)
    if np.issubdtype(array.dtype, np.floating) and not bool(xp.isfinite(array).all()):
        raise ValueError(f"{name} contains NaN or infinity")


def split_indices(n: int, test_fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A seeded random split of range(n) into (train, test) index arrays, each sorted."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    order = rng.permutation(n)
    n_test = int(round(test_fraction * n))
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def standardize(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(x − μ)/σ with μ, σ from the training rows only (σ = 0 features are only centred)."""
    mean, std = train.mean(axis=0), train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return (train - mean) / std, (test - mean) / std


class Task:
    """Supervised task over arrays ``x_train, y_train, x_test, y_test`` (host NumPy, moved to the
    default backend). Subclasses build the model and may override ``next_batch``."""

    def __init__(self, model, loss_fn, x_train, y_train, x_test, y_test, *, batch_size: int, seed: int,
                 dtype=np.float32):
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        for name, array in (("x_train", x_train), ("y_train", y_train), ("x_test", x_test), ("y_test", y_test)):
            check_finite(f"{type(self).__name__} {name}", array)
        self.model, self.loss_fn, self.batch_size = model, loss_fn, int(batch_size)

        def to_device(a):
            return asarray(a, dtype=dtype if np.issubdtype(a.dtype, np.floating) else None)

        self.x_train, self.y_train = to_device(x_train), to_device(y_train)
        self.x_test, self.y_test = to_device(x_test), to_device(y_test)
        self.batch_rng = seeded_rng(seed, "batches")

    def parameters(self):
        return self.model.parameters()

    def next_batch(self):
        """``batch_size`` training examples drawn without replacement from the seeded stream."""
        xp = get_array_module(self.x_train)
        rows = xp.asarray(self.batch_rng.choice(len(self.x_train), self.batch_size, replace=False))
        return self.x_train[rows], self.y_train[rows]

    def loss_and_grad(self, batch=None, loss_scale: float = 1.0) -> float:
        """Mean loss on ``batch`` (default: the full training set); back-propagates ∂(loss_scale · L)/∂θ
        and accumulates it into each ``p.grad``. Returns the unscaled loss."""
        x, y = (self.x_train, self.y_train) if batch is None else batch
        if batch is not None:
            check_finite("batch inputs", x)
            check_finite("batch targets", y)
        self.model.train()
        loss = self.loss_fn(self.model(x), y)
        self.model.backward(self.loss_fn.backward(loss_scale))
        return float(loss)

    def predict(self, logits):
        """Predicted labels from model outputs (class index of the largest logit)."""
        return logits.argmax(axis=-1)

    def evaluate(self, split: str = "test") -> dict[str, float]:
        """Mean loss and accuracy on ``"test"`` or ``"train"`` data, in eval mode, without gradients."""
        if split not in ("test", "train"):
            raise ValueError(f"split must be 'test' or 'train', got {split!r}")
        x, y = (self.x_test, self.y_test) if split == "test" else (self.x_train, self.y_train)
        was_training = self.model.training
        self.model.eval()
        total_loss = correct = count = 0.0
        for start in range(0, len(x), 1024):
            xb, yb = x[start:start + 1024], y[start:start + 1024]
            logits = self.model(xb)
            total_loss += float(self.loss_fn(logits, yb)) * yb.size
            correct += float((self.predict(logits) == yb).sum())
            count += yb.size
        self.model.train(was_training)
        return {"loss": total_loss / count, "accuracy": correct / count}
