"""A character-level language model trained on the Python standard library's own source code.

The corpus is a fixed list of pure-Python stdlib modules read from ``sysconfig.get_paths()["stdlib"]``,
so every machine with Python has it (the exact text follows the Python version). The vocabulary is
fixed, not learned from the text: newline, the 95 printable ASCII characters and one "unknown"
token for anything else (tabs, non-ASCII), 97 tokens in all. The last ``val_fraction`` of each file
is validation text, the rest training text, so the two never overlap.
"""

from __future__ import annotations

import os
import sysconfig

import numpy as np

from optimlab.backend import asarray, get_array_module
from optimlab.nn import CrossEntropyLoss, TransformerLM
from optimlab.problems.task import Task, seeded_rng

STDLIB_FILES = (
    "abc.py", "argparse.py", "bisect.py", "calendar.py", "colorsys.py", "contextlib.py", "copy.py", "csv.py",
    "dataclasses.py", "difflib.py", "enum.py", "fnmatch.py", "fractions.py", "functools.py", "glob.py",
    "heapq.py", "numbers.py", "operator.py", "pprint.py", "queue.py", "random.py", "shlex.py",
    "statistics.py", "string.py", "textwrap.py",
)
VOCAB = "\n" + "".join(chr(c) for c in range(32, 127))
UNKNOWN = len(VOCAB)
VOCAB_SIZE = len(VOCAB) + 1
_CODE = np.full(128, UNKNOWN, dtype=np.int64)
_CODE[[ord(c) for c in VOCAB]] = np.arange(len(VOCAB))


def encode(text: str) -> np.ndarray:
    """Token ids (int64) of ``text``; characters outside the vocabulary map to ``UNKNOWN``."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
    return np.where(codes < 128, _CODE[np.minimum(codes, 127)], UNKNOWN)


def decode(tokens) -> str:
    """Text of token ids (``UNKNOWN`` shown as "?")."""
    return "".join(VOCAB[t] if t < UNKNOWN else "?" for t in np.asarray(tokens).tolist())


def stdlib_corpus(files=STDLIB_FILES, val_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) token arrays: each file split at 1 − ``val_fraction`` of its length."""
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction!r}")
    root = sysconfig.get_paths()["stdlib"]
    train, val = [], []
    for name in files:
        with open(os.path.join(root, name), encoding="utf-8") as f:
            tokens = encode(f.read())
        cut = int(len(tokens) * (1 - val_fraction))
        train.append(tokens[:cut])
        val.append(tokens[cut:])
    return np.concatenate(train), np.concatenate(val)


def _windows(tokens: np.ndarray, starts, length: int):
    """Inputs tokens[s : s + length] and next-token targets tokens[s + 1 : s + length + 1]."""
    xp = get_array_module(tokens)
    rows = xp.asarray(starts)[:, None] + xp.arange(length)
    return tokens[rows], tokens[rows + 1]


class StdlibCharLM(Task):
    """Next-character prediction with a ``TransformerLM`` on ``stdlib_corpus()``.

    Training batches are ``batch_size`` windows of ``block_size`` characters at seeded random
    offsets in the training text. ``evaluate()`` uses ``eval_windows`` fixed, evenly spaced
    windows of the validation text (``"test"``) or of the training text (``"train"``); it reports the
    mean cross-entropy in nats per character and the next-character accuracy. A uniform guess scores
    ln 97 ≈ 4.57 nats.
    """

    def __init__(self, *, seed: int = 0, block_size: int = 32, batch_size: int = 32, d_model: int = 64,
                 n_heads: int = 4, n_layers: int = 2, eval_windows: int = 256, files=STDLIB_FILES,
                 val_fraction: float = 0.1, dtype=np.float32):
        train, val = stdlib_corpus(files, val_fraction)
        self.block_size = int(block_size)
        if min(len(train), len(val)) <= block_size + 1:
            raise ValueError(f"block_size {block_size} is too long for the corpus ({len(val)} validation characters)")
        model = TransformerLM(VOCAB_SIZE, block_size, d_model, n_heads, n_layers, rng=seeded_rng(seed, "init"), dtype=dtype)

        def fixed_windows(tokens):
            return _windows(tokens, np.linspace(0, len(tokens) - block_size - 1, eval_windows).astype(np.int64), block_size)

        x_train, y_train = fixed_windows(train)
        x_test, y_test = fixed_windows(val)
        super().__init__(model, CrossEntropyLoss(), x_train, y_train, x_test, y_test,
                         batch_size=batch_size, seed=seed, dtype=dtype)
        self.train_tokens = asarray(train)

    def next_batch(self):
        starts = self.batch_rng.integers(0, len(self.train_tokens) - self.block_size - 1, self.batch_size)
        return _windows(self.train_tokens, starts, self.block_size)
