r"""Figure of chapter 11: how far each layer moves per step, relative to its own norm.

For a tensor :math:`\theta_l` the relative update is :math:`\|\Delta\theta_l\| / \|\theta_l\|`. SGD's
is :math:`\eta\|g_l\|/\|\theta_l\|` and Adam's about :math:`\eta\sqrt{n_l}/\|\theta_l\|`, both set by
the layer's shape and scale; LAMB's trust ratio makes it exactly :math:`\eta` for every layer.
"""

from __future__ import annotations

import functools

import numpy as np

from optimlab.optim import LAMB, SGD, Adam
from optimlab.claims.tuning import single_blas_thread
from optimlab.plots._common import new_figure, styled
from optimlab.problems import DigitsMLP

LAYERS = ("hidden weight", "hidden bias", "output weight", "output bias")
OPTIMIZERS = {"SGD, lr 0.1": (SGD, {"lr": 0.1}), "Adam, lr 1e-3": (Adam, {"lr": 1e-3}),
              "LAMB, lr 0.01": (LAMB, {"lr": 0.01})}


@functools.cache
def relative_updates(optimizer_cls, steps=100, seed=0, batch_size=512, **hyper):
    """‖Δθ_l‖/‖θ_l‖ per step (rows) and tensor (columns, in ``LAYERS`` order) on the digits MLP.
    Cached (notebook and figure share the runs); do not modify the returned array."""
    task = DigitsMLP(seed=seed, hidden=64, batch_size=batch_size)
    params = list(task.parameters())
    optimizer = optimizer_cls(params, **hyper)
    ratios = np.zeros((steps, len(params)))
    with single_blas_thread():  # the same bits whatever the machine's core count
        for t in range(steps):
            optimizer.zero_grad()
            task.loss_and_grad()
            before = [p.data.astype(np.float64) for p in params]
            optimizer.step()
            ratios[t] = [np.linalg.norm(p.data - b) / np.linalg.norm(b) for p, b in zip(params, before)]
    return ratios


@styled
def lamb_relative_updates():
    """Relative update per layer and step for SGD, Adam and LAMB (batch 512)."""
    fig, axes = new_figure(3, 1, width=9.0, height=3.0, sharey=True)
    for ax, (name, (cls, hyper)) in zip(axes.flat, OPTIMIZERS.items()):
        ratios = relative_updates(cls, **hyper)
        for i, layer in enumerate(LAYERS):
            ax.semilogy(ratios[:, i], color=f"C{i}", lw=1.2, label=layer)
        ax.set_title(name)
        ax.set_xlabel("step $t$")
    axes[0, 0].set_ylabel(r"$\|\Delta\theta_l\| \,/\, \|\theta_l\|$")
    axes[0, 0].legend(frameon=False, fontsize=7)
    return fig
