"""Acceptance runs: the real tasks learn with optimlab's own optimizers.

Tuning (seed 0, recorded here so the chosen values can be re-derived):
digits MLP, 300 steps of batch 64 (≈ 14 epochs): AdamW lr ∈ {1e-3, 3e-3} → test accuracy
0.967, 0.976; SGD (momentum 0.9, Nesterov) lr ∈ {0.03, 0.1} → 0.969, 0.976.
Wall time is reported next to CPU time (``time.process_time``): on a shared machine the wall time
measures the neighbours, the CPU time what the run costs.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from optimlab.optim import SGD, AdamW
from optimlab.problems import DigitsMLP, StdlibCharLM
from optimlab.problems.charlm import stdlib_corpus


def _train(task, optimizer, steps):
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        optimizer.zero_grad()
        task.loss_and_grad(task.next_batch())
        optimizer.step()
    return task.evaluate(), time.perf_counter() - wall, time.process_time() - cpu


@pytest.mark.parametrize("make_optimizer", [
    lambda params: AdamW(params, lr=3e-3, weight_decay=1e-2),
    lambda params: SGD(params, lr=0.1, momentum=0.9, nesterov=True),
], ids=["AdamW", "SGD-Nesterov"])
def test_digits_mlp_reaches_95_percent(make_optimizer, record_property):
    task = DigitsMLP(seed=0)
    result, wall, cpu = _train(task, make_optimizer(task.parameters()), 300)
    record_property("digits", f"accuracy={result['accuracy']:.4f} wall={wall:.1f}s cpu={cpu:.1f}s")
    assert result["accuracy"] >= 0.95


def _ngram_cross_entropy(train, val, order):
    """Validation cross-entropy (nats/char) of an add-0.1-smoothed unigram (order 1) or bigram
    (order 2) model counted on the training text: the bar a model using context has to clear."""
    v = 97
    if order == 1:
        counts = np.bincount(train, minlength=v) + 0.1
        return float(-np.log(counts[val] / counts.sum()).mean())
    counts = np.zeros((v, v))
    np.add.at(counts, (train[:-1], train[1:]), 1)
    counts += 0.1
    return float(-np.log(counts[val[:-1], val[1:]] / counts[val[:-1]].sum(axis=1)).mean())


def test_tiny_char_transformer_beats_the_unigram_model_quickly():
    """A fast smoke run (≈ 1 s CPU): 1 layer, width 32, 150 steps of 16 × 16 characters."""
    task = StdlibCharLM(seed=0, block_size=16, batch_size=16, d_model=32, n_heads=2, n_layers=1, eval_windows=64)
    unigram = _ngram_cross_entropy(*stdlib_corpus(), order=1)  # ≈ 3.07 nats on Python 3.11's stdlib
    result, _, _ = _train(task, AdamW(task.parameters(), lr=1e-2, betas=(0.9, 0.99), weight_decay=0.01), 150)
    assert result["loss"] < unigram - 0.3  # measured 2.41 (seed 0)


@pytest.mark.slow
def test_char_transformer_reaches_2_nats_in_600_steps(record_property):
    """The default model (2 layers, width 64, 4 heads, context 32, batch 32; 110k parameters) with
    AdamW(lr=3e-3, betas=(0.9, 0.99), weight_decay=0.01) for 600 steps.

    Bound: validation loss < 2.0 nats/char, below the smoothed bigram model (≈ 2.37), so the model
    uses more than one character of context. lr sweep (seed 0, Python 3.11, 600 steps, validation
    loss): 1e-2 → 2.09, 5e-3 → 1.84, 3e-3 → 1.78 (42 s CPU single-threaded, evaluations included).
    """
    task = StdlibCharLM(seed=0)
    bigram = _ngram_cross_entropy(*stdlib_corpus(), order=2)
    optimizer = AdamW(task.parameters(), lr=3e-3, betas=(0.9, 0.99), weight_decay=0.01)
    result, wall, cpu = _train(task, optimizer, 600)
    record_property("char_lm", f"val_loss={result['loss']:.4f} wall={wall:.1f}s cpu={cpu:.1f}s")
    assert result["loss"] < min(2.0, bigram)
