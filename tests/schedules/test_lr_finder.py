"""The LR range test on a real task: logistic regression on scikit-learn's breast-cancer data
(569 samples, 30 standardised features + bias, mini-batches of 32 in a fixed shuffled order),
plain SGD from w = 0. Self-contained (optimlab.problems was not committed when this was written).

Criterion, stated: let L(eta) be the full-data loss after 60 SGD steps at a constant eta, L0 = log 2
the loss at w = 0 and L* the best L over a 19-point log grid 1e-3..30. A rate is *fast* when it
achieves at least 90% of the best loss reduction: L(eta) - L* <= 0.1 (L0 - L*). The suggestion must
be fast itself and lie between the smallest and largest fast grid rates. The criterion is not
trivially met: the slow ends of the grid (eta <= 0.03 and eta >= 17.8) fail it.
"""

import math

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

import optimlab
from optimlab.optim import SGD
from optimlab.training.lr_finder import LRRangeTest, lr_range_test

X, Y = load_breast_cancer(return_X_y=True)
X = np.hstack([(X - X.mean(0)) / X.std(0), np.ones((len(X), 1))])
ORDER = np.random.default_rng(0).permutation(len(X))
BATCH = 32
STEPS = 60


def loss_and_grad(w, Xb, yb):
    z = Xb @ w
    loss = np.mean(np.logaddexp(0.0, z) - yb * z)
    return loss, Xb.T @ (0.5 * (1 + np.tanh(z / 2)) - yb) / len(yb)  # sigmoid via tanh: no overflow


class Task:
    def __init__(self, lr=0.1, momentum=0.0):
        self.param = optimlab.Parameter(np.zeros(X.shape[1]))
        self.opt = SGD([self.param], lr=lr, momentum=momentum)
        self.batch = 0

    def closure(self):
        idx = ORDER[(np.arange(BATCH) + self.batch * BATCH) % len(X)]
        self.batch += 1
        loss, self.param.grad = loss_and_grad(self.param.data, X[idx], Y[idx])
        return loss

    def train(self, steps=STEPS):
        for _ in range(steps):
            self.closure()
            self.opt.step()
        return loss_and_grad(self.param.data, X, Y)[0]


@pytest.fixture(scope="module")
def grid():
    lrs = np.logspace(-3, 1.5, 19)
    final = np.array([Task(lr).train() for lr in lrs])
    best, start = final.min(), math.log(2)
    fast = final - best <= 0.1 * (start - best)
    return lrs, final, best, start, fast


@pytest.mark.parametrize("sweep", [
    dict(start_lr=1e-4, end_lr=100.0, num_steps=100),
    dict(start_lr=1e-4, end_lr=1e4, num_steps=200, smoothing=0.9),
])
def test_suggestion_lies_where_training_is_fastest(grid, sweep):
    lrs, final, best, start, fast = grid
    assert not fast[lrs <= 0.03].any() and not fast[lrs >= 17.8].any()  # the criterion discriminates
    task = Task()
    result = lr_range_test(task.opt, task.closure, **sweep)
    assert result.suggestion is not None
    assert lrs[fast].min() <= result.suggestion <= lrs[fast].max()
    reached = Task(result.suggestion).train()
    assert reached - best <= 0.1 * (start - best), f"suggestion {result.suggestion:.3g} reached {reached:.4f}"


def test_divergence_stops_the_sweep():
    task = Task()
    result = lr_range_test(task.opt, task.closure, start_lr=1e-4, end_lr=1e4, num_steps=200, smoothing=0.9)
    assert result.diverged and len(result.lrs) < 200
    assert result.smoothed[-1] > 4.0 * result.smoothed.min()
    assert np.all(result.smoothed[:-1] <= 4.0 * np.minimum.accumulate(result.smoothed[:-1]))
    # the sweep is exponential: constant ratio between consecutive rates, from start_lr
    ratios = result.lrs[1:] / result.lrs[:-1]
    np.testing.assert_allclose(ratios, (1e8) ** (1 / 199), rtol=1e-12)
    assert result.lrs[0] == 1e-4


def test_smoothing_is_the_bias_corrected_moving_average():
    task = Task()
    result = lr_range_test(task.opt, task.closure, start_lr=1e-3, end_lr=1.0, num_steps=30, smoothing=0.8)
    expected = [np.sum(0.2 * 0.8 ** np.arange(i, -1, -1) * result.losses[:i + 1]) / (1 - 0.8 ** (i + 1))
                for i in range(len(result.losses))]
    np.testing.assert_allclose(result.smoothed, expected, rtol=1e-12)


def test_restores_parameters_gradients_and_optimizer_state():
    task = Task(lr=0.05, momentum=0.9)
    task.train(7)  # momentum buffers exist
    task.closure()
    before = (task.param.data.copy(), task.param.grad.copy(), task.opt.state_dict())
    lr_range_test(task.opt, task.closure, start_lr=1e-3, end_lr=10.0, num_steps=40)
    after = task.opt.state_dict()
    np.testing.assert_array_equal(task.param.data, before[0])
    np.testing.assert_array_equal(task.param.grad, before[1])
    assert after["param_groups"][0]["lr"] == 0.05 and after["step_count"] == before[2]["step_count"]
    np.testing.assert_array_equal(after["state"][0]["momentum_buffer"], before[2]["state"][0]["momentum_buffer"])

    def failing():
        task.closure()
        raise RuntimeError("data loader died")
    with pytest.raises(RuntimeError, match="data loader"):
        lr_range_test(task.opt, failing, num_steps=10)
    np.testing.assert_array_equal(task.param.data, before[0])
    assert task.opt.param_groups[0]["lr"] == 0.05


def test_plot_helper():
    import matplotlib
    matplotlib.use("Agg")
    task = Task()
    result = lr_range_test(task.opt, task.closure, start_lr=1e-4, end_lr=100.0, num_steps=50)
    ax = result.plot()
    assert ax.get_xscale() == "log" and len(ax.lines) == 3
    assert isinstance(result, LRRangeTest)


@pytest.mark.parametrize("kwargs, error, name", [
    (dict(start_lr=0.0), ValueError, "start_lr"),
    (dict(start_lr=1.0, end_lr=0.5), ValueError, "end_lr"),
    (dict(num_steps=1), ValueError, "num_steps"),
    (dict(smoothing=1.0), ValueError, "smoothing"),
    (dict(diverge_threshold=1.0), ValueError, "diverge_threshold"),
    (dict(skip_start=-1), ValueError, "skip_start"),
])
def test_bad_arguments(kwargs, error, name):
    task = Task()
    with pytest.raises(error, match=name):
        lr_range_test(task.opt, task.closure, **kwargs)
