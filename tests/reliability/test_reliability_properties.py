"""Property tests (hypothesis): validation fuzzing over the table, and three invariants of the
updates: Adam's first step is at most lr per coordinate, Lion's step is lr·sign(c) in every
coordinate, SGD's trajectory is linear in lr (for gradients that do not depend on θ)."""

import inspect
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from optimlab import Parameter
from optimlab.optim import SGD, Adam, Lion
from optimlab.testing import TABLE
from optimlab.testing.checks import names_key_and_value

EPS = np.finfo(np.float64).eps
SETTINGS = settings(max_examples=60, deadline=None)
ENTRIES = [info for info in TABLE if not info.wrapper]
scalars = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 5), st.booleans(), st.none(),
                    st.text(max_size=3))
values = st.one_of(scalars, st.tuples(scalars, scalars), st.tuples(scalars, scalars, scalars))


def _nonfinite_inside(value) -> bool:
    if isinstance(value, (tuple, list)):
        return any(_nonfinite_inside(v) for v in value)
    return isinstance(value, float) and not math.isfinite(value)


def _verdict(action, key, value):
    """``None`` when accepted, else the error (which must be a ValueError/TypeError naming key and value)."""
    try:
        action()
    except (ValueError, TypeError) as error:
        assert names_key_and_value(str(error), key, value), str(error)
        return type(error)
    return None


@SETTINGS
@given(data=st.data(), value=values)
def test_validation_fuzzing(data, value):
    """Any value for any hyperparameter: rejected with a ValueError/TypeError naming both, or accepted
    and finite; the constructor and a later assignment give the same verdict."""
    info = data.draw(st.sampled_from(ENTRIES))
    key = data.draw(st.sampled_from(sorted(info.hyperparameters)))
    optimizer = info.build([Parameter(np.ones(info.shapes[0]))])
    assigned = _verdict(lambda: optimizer.param_groups[0].__setitem__(key, value), key, value)
    if assigned is None:
        assert not _nonfinite_inside(value), f"{info.name} accepted {key}={value!r}"
    signature = inspect.signature(info.cls.__init__).parameters
    # a constructor argument equal to its default may mean "derive it" (LBFGS's max_eval=None)
    if key in signature and not (value is None and signature[key].default is None):
        params = [Parameter(np.ones(info.shapes[0]))]
        built = _verdict(lambda: info.build(params, {**info.base, key: value}), key, value)
        assert (built is None) == (assigned is None), (info.name, key, value, built, assigned)


# normal floats: a subnormal gradient times (1 − β₁) or lr underflows, which is rounding, not the update rule
finite = st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=False)
grads = arrays(np.float64, st.integers(1, 8), elements=finite)


@SETTINGS
@given(g=grads, lr=st.floats(1e-6, 1.0), beta1=st.floats(0.0, 0.99), beta2=st.floats(0.0, 0.999),
       eps=st.floats(1e-12, 1.0), amsgrad=st.booleans(), maximize=st.booleans())
def test_adam_first_step_is_at_most_lr(g, lr, beta1, beta2, eps, amsgrad, maximize):
    """Step 1: m̂ = g, v̂ = g², so |Δθ| = lr·|g|/(|g| + ε) ≤ lr (θ = 0, so Δθ is computed without
    cancellation; a few ulp of rounding allowed)."""
    param = Parameter(np.zeros_like(g))
    Adam([param], lr=lr, betas=(beta1, beta2), eps=eps, amsgrad=amsgrad, maximize=maximize).step(
        lambda: setattr(param, "grad", g))
    assert np.all(np.abs(param.data) <= lr * (1 + 8 * EPS))


@SETTINGS
@given(g1=grads, data=st.data(), lr=st.floats(1e-6, 1.0), beta1=st.floats(0.0, 0.99), beta2=st.floats(0.0, 0.99))
def test_lion_step_is_lr_sign(g1, data, lr, beta1, beta2):
    """Without decay Lion moves every coordinate by exactly 0 or ±lr: from θ = 0 the first step is
    −lr·sign(g) bit for bit; the second moves each coordinate by lr up to the rounding of θ ± lr."""
    g2 = data.draw(arrays(np.float64, g1.shape, elements=finite))
    param = Parameter(np.zeros_like(g1))
    optimizer = Lion([param], lr=lr, betas=(beta1, beta2))
    param.grad = g1
    optimizer.step()
    assert np.array_equal(param.data, -lr * np.sign(g1))
    before = param.data.copy()
    param.grad = g2
    optimizer.step()
    step = np.abs(param.data - before)
    assert np.all((step == 0) | (np.abs(step - lr) <= 4 * EPS * (np.abs(before) + lr)))


@SETTINGS
@given(g=arrays(np.float64, st.tuples(st.integers(1, 3), st.integers(1, 6)), elements=finite),
       lr=st.floats(1e-6, 1.0), scale=st.floats(0.1, 10.0), momentum=st.floats(0.0, 0.99),
       nesterov=st.booleans())
def test_sgd_trajectory_is_linear_in_lr(g, lr, scale, momentum, nesterov):
    """With θ-independent gradients g₁..g_k (rows of ``g``), θ_k = −lr·Σ(buffers): scaling lr scales the
    whole trajectory (to a few ulp per step)."""
    runs = []
    for rate in (lr, scale * lr):
        param = Parameter(np.zeros(g.shape[1]))
        optimizer = SGD([param], lr=rate, momentum=momentum, nesterov=nesterov and momentum > 0)
        for row in g:
            param.grad = row.copy()
            optimizer.step()
        runs.append(param.data)
    tiny = np.finfo(np.float64).smallest_subnormal  # lr·g may itself be subnormal
    bound = 8 * len(g) * (EPS * scale * lr * np.abs(g).sum(axis=0) / (1 - momentum) + tiny)
    assert np.all(np.abs(runs[1] - scale * runs[0]) <= bound)
