"""Bad input gives an error that names what is wrong."""

from __future__ import annotations

import numpy as np
import pytest

import optimlab.nn as nn

F64 = np.float64


def test_linear_wrong_width():
    with pytest.raises(ValueError, match=r"last dimension 3, got shape \(5, 4\)"):
        nn.Linear(3, 2, rng=0, dtype=F64)(np.ones((5, 4)))


def test_linear_wrong_dtype():
    with pytest.raises(TypeError, match="dtype float32 .* got float64"):
        nn.Linear(3, 2, rng=0)(np.ones((5, 3)))


def test_layernorm_wrong_width_and_bad_eps():
    with pytest.raises(ValueError, match="last dimension 4"):
        nn.LayerNorm(4, dtype=F64)(np.ones((2, 3)))
    with pytest.raises(ValueError, match="eps must be positive"):
        nn.LayerNorm(4, eps=0.0)


def test_embedding_indices():
    emb = nn.Embedding(5, 2, rng=0)
    with pytest.raises(IndexError, match=r"\[0, 5\), got values in \[0, 5\]"):
        emb(np.array([0, 5]))
    with pytest.raises(IndexError, match=r"got values in \[-1, 1\]"):
        emb(np.array([-1, 1]))
    with pytest.raises(TypeError, match="indices must be integers"):
        emb(np.array([0.0, 1.0]))


def test_cross_entropy_targets():
    loss = nn.CrossEntropyLoss()
    logits = np.zeros((4, 3))
    with pytest.raises(ValueError, match=r"targets must have shape \(4,\).*got \(3,\)"):
        loss(logits, np.zeros(3, dtype=int))
    with pytest.raises(IndexError, match=r"\[0, 3\), got values in \[0, 3\]"):
        loss(logits, np.array([0, 1, 2, 3]))
    with pytest.raises(TypeError, match="integer class indices"):
        loss(logits, np.zeros(4))


def test_mse_shape_and_nan_target():
    loss = nn.MSELoss()
    with pytest.raises(ValueError, match=r"prediction has shape \(3,\) but target has \(3, 1\)"):
        loss(np.zeros(3), np.zeros((3, 1)))
    with pytest.raises(ValueError, match="target contains NaN"):
        loss(np.zeros(3), np.array([0.0, np.nan, 1.0]))


def test_bce_targets():
    loss = nn.BCEWithLogitsLoss()
    with pytest.raises(ValueError, match=r"logits have shape \(3,\) but targets have \(2,\)"):
        loss(np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 1\]"):
        loss(np.zeros(2), np.array([0.0, np.nan]))


def test_attention_and_transformer_shapes():
    with pytest.raises(ValueError, match=r"d_model \(6\) must be divisible by n_heads \(4\)"):
        nn.CausalSelfAttention(6, 4, rng=0)
    with pytest.raises(ValueError, match=r"\(batch, time, 8\), got shape \(2, 8\)"):
        nn.CausalSelfAttention(8, 2, rng=0, dtype=F64)(np.ones((2, 8)))
    with pytest.raises(ValueError, match="time ≤ 4"):
        nn.TransformerLM(5, 4, 8, 2, 1, rng=0)(np.zeros((1, 5), dtype=int))


def test_bad_hyperparameters():
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh', got 'fast'"):
        nn.GELU("fast")
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\), got 1"):
        nn.Dropout(1, rng=0)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator or an int seed"):
        nn.Linear(2, 2, rng=None)
    with pytest.raises(TypeError, match="layer 1 must be a Module"):
        nn.Sequential(nn.ReLU(), np.tanh)
