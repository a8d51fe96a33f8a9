"""What the reliability tests do not cover of the optimizer shell: ``zero_grad`` (never writing into
the caller's gradient) with a closure, and state memory measured from the arrays.

Resume through bytes at steps 0, 1, N/2 and N−1 (and any step, by hypothesis), no aliasing between
``state_dict``/``load_state_dict`` and live state, load-time errors, and the caller's gradient never
written are checked for every optimizer and configuration of the table by
``tests/reliability/test_reliability_resume.py``; the step counter past 2**24 by the numerics probes."""

import numpy as np

import optimlab.optim as optim
from optimlab import Parameter


def _trained(name="Adam", **kwargs):
    params = [Parameter(np.ones((3, 2))), Parameter(np.zeros(2))]
    optimizer = getattr(optim, name)(params, **kwargs)
    for p in params:
        p.grad = np.full(p.shape, 0.5)
    optimizer.step()
    return optimizer, params


def test_zero_grad_and_closure():
    optimizer, params = _trained("SGD", lr=0.1)
    caller = np.ones(2)
    params[1].grad = caller
    optimizer.zero_grad(set_to_none=False)
    assert np.array_equal(params[1].grad, np.zeros(2)) and np.array_equal(caller, np.ones(2))
    optimizer.zero_grad()
    assert all(p.grad is None for p in params)
    assert optimizer.step(lambda: 4.5) == 4.5


def test_state_bytes_are_measured_from_the_arrays():
    optimizer, params = _trained("Adam", amsgrad=True)
    elements = sum(p.size for p in params)
    assert optimizer.state_bytes() == 3 * 8 * elements
    assert optimizer.state_bytes_per_parameter() == 24.0
