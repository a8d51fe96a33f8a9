"""The comparison the 8-bit kernel tests share: two runs' parameters and 8-bit states, bit for bit."""

import numpy as np

STATE_ARRAYS = ("exp_avg_codes", "exp_avg_sq_codes", "exp_avg_absmax", "exp_avg_sq_absmax")


def assert_identical_steps(params, states, other_params, other_states, host=np.asarray) -> None:
    """Parameters, codes, block maxima and step counts identical, tensor by tensor (``host`` brings
    an array to NumPy: ``cupy.asnumpy`` for a GPU run)."""
    for a, b, state, other in zip(params, other_params, states, other_states, strict=True):
        assert np.array_equal(host(a), host(b))
        for key in STATE_ARRAYS:
            assert np.array_equal(host(state[key]), host(other[key])), key
        assert state["step"] == other["step"]
