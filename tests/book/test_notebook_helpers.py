"""The notebooks' torch-parity helper passes a true match and fails a real mismatch."""

import pytest

torch = pytest.importorskip("torch")

from optimlab.optim import Adam, SGD  # noqa: E402
from optimlab.plots import torch_parity_report  # noqa: E402


def test_matching_optimizers_pass_with_their_error():
    report, worst = torch_parity_report([(SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9))], steps=10)
    assert "SGD" in report and 0 <= worst <= 1e-12


def test_a_different_method_fails_the_cell():
    # Adam's weight_decay is L2, AdamW's is decoupled: the same hyperparameters give different iterates.
    with pytest.raises(AssertionError, match="torch parity above 1e-12"):
        torch_parity_report([(Adam, torch.optim.AdamW, dict(lr=0.1, weight_decay=0.5))], steps=10)
