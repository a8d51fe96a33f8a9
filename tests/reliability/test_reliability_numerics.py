"""Numerics and contract probes, each also run on torch 2.13: optimlab passes every one; torch's
failures are measured (they are the premise: if torch stopped failing, the README's comparison
would be stale, so that is asserted too)."""

import numpy as np
import pytest

from optimlab.kernels import cpu_compiler_available
from optimlab.testing import probes

# the probes where torch 2.13 fails, measured; bf16 stagnation is the format's, on both sides
TORCH_FAILS = {"fp16_zero_gradients", "centered_rmsprop", "step_counter", "nonfinite_lr", "per_group_value",
               "state_aliasing"}
NEEDS_GXX = {"fp16_zero_gradients"}


@pytest.mark.parametrize("probe", probes.PROBES, ids=lambda probe: probe.__name__)
def test_probe_passes_here_and_torch_fails_where_expected(probe):
    if probe.__name__ in NEEDS_GXX and not cpu_compiler_available():
        pytest.skip("the fused kernel's CPU form needs g++")
    result = probe()
    assert result.ours_ok, result
    assert result.torch_ok == (probe.__name__ not in TORCH_FAILS), result


def test_bfloat16_emulation_keeps_what_bfloat16_can_hold():
    """The emulation used by the stagnation probe: representable values are unchanged, a value halfway
    between two bfloat16 neighbours goes to the even one (independent of ``round_to_bfloat16``: built
    from the bit pattern)."""
    from optimlab.optim.muon import round_to_bfloat16

    one, next_up = np.float32(1.0), np.array([0x3F810000], dtype=np.uint32).view(np.float32)[0]
    halfway = np.array([0x3F808000], dtype=np.uint32).view(np.float32)  # 1 + 2**-8, between 1 and 1 + 2**-7
    assert round_to_bfloat16(np.array([one, next_up], dtype=np.float32)).tolist() == [1.0, float(next_up)]
    assert round_to_bfloat16(halfway).tolist() == [1.0]


def test_torch_constructor_rejections_counts_what_torch_does():
    """torch 2.13's SGD refuses lr = −1 and takes lr = NaN; an argument torch lacks is not tried."""
    from optimlab.testing.checks import BadInput

    cases = [BadInput("SGD", "lr", -1.0, ValueError, "constructor"),
             BadInput("SGD", "lr", float("nan"), ValueError, "constructor"),
             BadInput("SGD", "lr", -1.0, ValueError, "assignment"),  # not a constructor value
             BadInput("Lion", "lr", -1.0, ValueError, "constructor"),  # no torch twin
             BadInput("Muon", "ns_dtype", "float16", ValueError, "constructor")]  # not in torch's signature
    assert probes.torch_constructor_rejections(cases) == (2, 1)
