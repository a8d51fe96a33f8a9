"""Two small real classification tasks on scikit-learn's bundled data (no download).

* ``BreastCancerLogistic``: logistic regression on the 569 × 30 Wisconsin breast-cancer data.
* ``DigitsMLP``: a one-hidden-layer ReLU MLP on the 1797 8×8 handwritten digits (10 classes).

Features are standardised with training-set statistics; the train/test split is a seeded
permutation. Both need the ``data`` extra (scikit-learn).
"""

from __future__ import annotations

import numpy as np

from optimlab.nn import BCEWithLogitsLoss, CrossEntropyLoss, Linear, ReLU, Sequential
from optimlab.problems.task import Task, seeded_rng, split_indices, standardize


def _load(name: str):
    try:
        from sklearn import datasets
    except ImportError as exc:
        raise ImportError("this task needs scikit-learn: pip install 'optimlab[data]'") from exc
    return getattr(datasets, name)(return_X_y=True)


def _split(x, y, test_fraction, seed):
    train, test = split_indices(len(x), test_fraction, seeded_rng(seed, "split"))
    x_train, x_test = standardize(x[train], x[test])
    return x_train, y[train], x_test, y[test]


class BreastCancerLogistic(Task):
    """p(malignant | x) = σ(wᵀx + b), trained on the mean binary cross-entropy plus (λ/2)‖w‖².

    The L2 term (``l2`` = λ, default 0) makes the problem strongly convex, with a unique minimiser;
    its gradient λw is added to ``weight.grad`` in ``loss_and_grad``. Targets are floats in {0, 1}.
    """

    def __init__(self, *, seed: int = 0, test_fraction: float = 0.25, batch_size: int = 32, l2: float = 0.0,
                 dtype=np.float64):
        if not l2 >= 0:
            raise ValueError(f"l2 must be non-negative, got {l2!r}")
        x, y = _load("load_breast_cancer")
        x_train, y_train, x_test, y_test = _split(x, y.astype(np.float64), test_fraction, seed)
        model = Linear(x.shape[1], 1, rng=seeded_rng(seed, "init"), dtype=dtype)
        self.l2 = float(l2)
        super().__init__(model, BCEWithLogitsLoss(), x_train, y_train[:, None], x_test, y_test[:, None],
                         batch_size=batch_size, seed=seed, dtype=dtype)

    def loss_and_grad(self, batch=None, loss_scale: float = 1.0) -> float:
        loss = super().loss_and_grad(batch, loss_scale)
        if self.l2:
            w = self.model.weight.data
            self.model.weight.accumulate_grad(w * (self.l2 * loss_scale))
            loss += 0.5 * self.l2 * float((w * w).sum())
        return loss

    def predict(self, logits):
        return (logits > 0).astype(self.y_test.dtype)


class DigitsMLP(Task):
    """Linear(64, hidden) → ReLU → Linear(hidden, 10) with softmax cross-entropy on the digits."""

    def __init__(self, *, seed: int = 0, hidden: int = 128, test_fraction: float = 0.25, batch_size: int = 64,
                 dtype=np.float32):
        x, y = _load("load_digits")
        x_train, y_train, x_test, y_test = _split(x, y.astype(np.int64), test_fraction, seed)
        rng = seeded_rng(seed, "init")
        model = Sequential(Linear(64, hidden, rng=rng, dtype=dtype), ReLU(), Linear(hidden, 10, rng=rng, dtype=dtype))
        super().__init__(model, CrossEntropyLoss(), x_train, y_train, x_test, y_test,
                         batch_size=batch_size, seed=seed, dtype=dtype)
