r"""Figures of chapter 2: mini-batch gradient noise and the linear scaling rule, on
``BreastCancerLogistic`` (L2-regularised logistic regression on 427 training examples).

A mini-batch of :math:`B` examples drawn without replacement from :math:`N` has an unbiased mean
gradient with :math:`\mathbb E\|\bar g_B - \nabla f\|^2 = \frac{\sigma^2}{B}\,\frac{N-B}{N-1}`, where
:math:`\sigma^2 = \frac1N\sum_i\|g_i - \nabla f\|^2` is the per-example variance. The linear scaling rule
(Goyal et al., 2017) keeps :math:`\eta/B` fixed, so that one epoch moves the weights by about the same
amount whatever the batch size.
"""

from __future__ import annotations

import numpy as np

from optimlab.optim import SGD
from optimlab.plots._common import new_figure, styled
from optimlab.problems import BreastCancerLogistic

L2 = 1e-2
SCALING = {"batch_sizes": (4, 8, 16, 32, 64, 128, 256), "base_lr": 0.02, "fixed_lr": 0.08, "epochs": 5, "seeds": 2}


def task(batch_size: int = 1, batch_seed: int = 0) -> BreastCancerLogistic:
    """The chapter's task (float64, λ = 10⁻²) with its batch stream reseeded by ``batch_seed``: the split
    and the initial weights stay those of seed 0."""
    problem = BreastCancerLogistic(l2=L2, batch_size=batch_size)
    problem.batch_rng = np.random.default_rng(batch_seed)
    return problem


def flat_grad(problem, batch=None) -> np.ndarray:
    """∇ of the task's loss on ``batch`` (default: all training data) as one vector (weight, then bias)."""
    for p in problem.parameters():
        p.grad = None
    problem.loss_and_grad(batch)
    return np.concatenate([p.grad.ravel() for p in problem.parameters()])


def per_example_grads(problem) -> np.ndarray:
    """The N × d matrix of single-example gradients at the current weights."""
    x, y = problem.x_train, problem.y_train
    return np.stack([flat_grad(problem, (x[i:i + 1], y[i:i + 1])) for i in range(len(x))])


def minibatch_noise(grads, batch_sizes, draws: int, seed: int = 0) -> np.ndarray:
    """Monte-Carlo E‖ḡ_B − ḡ_N‖² for each B: ``draws`` batches drawn without replacement from the rows."""
    rng = np.random.default_rng(seed)
    full = grads.mean(axis=0)
    return np.array([np.mean([np.sum((grads[rng.choice(len(grads), b, replace=False)].mean(axis=0) - full) ** 2)
                              for _ in range(draws)]) for b in batch_sizes])


def predicted_noise(grads, batch_sizes) -> np.ndarray:
    """σ²/B · (N − B)/(N − 1), the exact expectation for sampling without replacement."""
    n, b = len(grads), np.asarray(batch_sizes, float)
    sigma2 = np.mean(np.sum((grads - grads.mean(axis=0)) ** 2, axis=1))
    return sigma2 / b * (n - b) / (n - 1)


def excess_loss(batch_size: int, lr: float, epochs: int, batch_seed: int, optimum: float) -> float:
    """f(θ) − f* on the full training set after ``epochs`` · N/B SGD steps at batch size B."""
    problem = task(batch_size, batch_seed)
    optimizer = SGD(problem.parameters(), lr=lr)
    for _ in range(epochs * len(problem.x_train) // batch_size):
        optimizer.zero_grad()
        problem.loss_and_grad(problem.next_batch())
        optimizer.step()
    for p in problem.parameters():
        p.grad = None
    return problem.loss_and_grad() - optimum


def optimum() -> float:
    """f* of the task, from L-BFGS on the full batch (strongly convex: a unique minimiser)."""
    from optimlab.optim import LBFGS

    problem = task()
    optimizer = LBFGS(problem.parameters(), lr=1.0, max_iter=500, line_search_fn="strong_wolfe",
                      tolerance_grad=1e-10, tolerance_change=0.0)

    def closure():
        for p in problem.parameters():
            p.grad = None
        return problem.loss_and_grad()

    optimizer.step(closure)
    return closure()


def linear_scaling(setting=SCALING) -> dict:
    """Mean excess loss over the seeds for each batch size, at a fixed lr and at lr = base_lr · B."""
    f_star, sizes = optimum(), setting["batch_sizes"]
    seeds = range(setting["seeds"])

    def mean_excess(lr_of):
        return np.array([np.mean([excess_loss(b, lr_of(b), setting["epochs"], s, f_star) for s in seeds]) for b in sizes])

    return {"batch_sizes": np.array(sizes), "optimum": f_star,
            "fixed": mean_excess(lambda b: setting["fixed_lr"]),
            "scaled": mean_excess(lambda b: setting["base_lr"] * b)}


@styled
def sgd_gradient_noise():
    """Mini-batch gradient noise against B at the initial weights: Monte Carlo vs the exact formula."""
    grads = per_example_grads(task())
    sizes = np.array([1, 2, 4, 8, 16, 32, 64, 128, 256, 400])
    fig, axes = new_figure(1, 1, width=5.6, height=3.4)
    ax = axes[0, 0]
    ax.loglog(sizes, minibatch_noise(grads, sizes, draws=400), "o", color="C0", label="measured (400 batches each)")
    fine = np.arange(1, len(grads))
    ax.loglog(fine, predicted_noise(grads, fine), "-", color="C0", lw=1,
              label=r"$\frac{\sigma^2}{B}\,\frac{N-B}{N-1}$ (without replacement)")
    ax.loglog(fine, predicted_noise(grads, [1])[0] / fine, "k:", lw=1, label=r"$\sigma^2 / B$")
    ax.set_xlabel("batch size $B$")
    ax.set_ylabel(r"$\mathbb{E}\,\|\bar g_B - \nabla f\|^2$")
    ax.set_title(f"logistic regression, N = {len(grads)}, at the initial weights")
    ax.legend(frameon=False, loc="lower left")
    return fig


@styled
def sgd_linear_scaling(results=None):
    """Excess loss after a fixed number of epochs against B, fixed lr vs lr ∝ B (``results``: a
    ``linear_scaling()`` result, computed when not given)."""
    results = results or linear_scaling()
    setting = SCALING
    fig, axes = new_figure(1, 1, width=5.6, height=3.4)
    ax = axes[0, 0]
    sizes = results["batch_sizes"]
    ax.loglog(sizes, results["fixed"], "o-", color="C0", label=rf"fixed $\eta = {setting['fixed_lr']:g}$")
    ax.loglog(sizes, results["scaled"], "s-", color="C1", label=rf"linear scaling $\eta = {setting['base_lr']:g}\,B$")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("batch size $B$")
    ax.set_ylabel(r"$f(\theta) - f^\star$ after " + f"{setting['epochs']} epochs")
    ax.set_title(f"SGD on logistic regression, mean of {setting['seeds']} batch orders")
    ax.legend(frameon=False, loc="upper left")
    return fig
