"""Muon beyond the registry's parity table: the 2-D restriction, the bfloat16 rounding against
torch's own cast, and the Newton–Schulz iteration against the SVD.

Tolerances: the rounding is exact (bit-equal); with the classical cubic coefficients (1.5, −0.5, 0)
the iteration converges quadratically to the polar factor UVᵀ, so 40 float64 steps reach it to
1e-12 (the SVD itself is accurate to ~1e-15 here)."""

import numpy as np
import pytest

from optimlab import Parameter
from optimlab.optim.muon import Muon, newton_schulz, round_to_bfloat16


def test_non_matrix_parameters_are_refused_with_the_reason_and_the_alternative():
    for shape in [(4,), (), (2, 3, 4)]:
        with pytest.raises(ValueError, match=r"2-D parameters.*shape.*AdamW"):
            Muon([Parameter(np.ones((3, 3))), Parameter(np.ones(shape), name="bias")])
    optimizer = Muon([Parameter(np.ones((3, 3)))])
    with pytest.raises(ValueError, match="2-D"):
        optimizer.add_param_group({"params": [Parameter(np.ones(3))]})
    assert len(optimizer.param_groups) == 1


def test_bfloat16_rounding_matches_torch():
    import torch

    rng = np.random.default_rng(0)
    values = np.concatenate([rng.standard_normal(10000) * 10.0 ** rng.integers(-30, 30, 10000),
                             [0.0, -0.0, 1.0 + 2.0**-8, 1.0 + 3 * 2.0**-8, np.inf, -np.inf, 3.3895e38]])
    single = values.astype(np.float32)
    expected = torch.from_numpy(single).bfloat16().float().numpy()
    np.testing.assert_array_equal(round_to_bfloat16(single), expected)


@pytest.mark.parametrize("shape", [(4, 6), (6, 4), (5, 5)])
def test_classical_newton_schulz_reaches_the_polar_factor(shape):
    rng = np.random.default_rng(1)
    matrix = rng.standard_normal(shape)
    u, _, vt = np.linalg.svd(matrix, full_matrices=False)
    result = newton_schulz(matrix, coefficients=(1.5, -0.5, 0.0), steps=40, ns_dtype=None)
    np.testing.assert_allclose(result, u @ vt, atol=1e-12)


def test_jordan_coefficients_give_singular_values_near_one():
    """Jordan's quintic trades exactness for speed: after 5 steps every singular value lies in
    roughly [0.7, 1.2] (his post), not at 1."""
    rng = np.random.default_rng(2)
    result = newton_schulz(rng.standard_normal((8, 5)), ns_dtype=None)
    singular = np.linalg.svd(result, compute_uv=False)
    assert np.all((singular > 0.6) & (singular < 1.25)), singular
