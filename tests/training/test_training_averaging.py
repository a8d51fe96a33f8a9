"""SWA and EMA against torch.optim.swa_utils.AveragedModel on the same parameter sequence (float64)."""

import numpy as np
import pytest
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from optimlab import Parameter
from optimlab.training import EMA, SWA

TOL = 1e-12  # float64; the same few operations per update, in the same order


def parameter_sequence(steps=25, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=(3, 4)), rng.normal(size=3)) for _ in range(steps)]


def torch_average(sequence, **kwargs):
    model = torch.nn.Linear(4, 3).double()
    averaged = AveragedModel(model, **kwargs)
    for weight, bias in sequence:
        with torch.no_grad():
            model.weight.copy_(torch.from_numpy(weight))
            model.bias.copy_(torch.from_numpy(bias))
        averaged.update_parameters(model)
    return [averaged.module.weight.detach().numpy(), averaged.module.bias.detach().numpy()]


def our_average(sequence, make):
    params = [Parameter(np.zeros((3, 4))), Parameter(np.zeros(3))]
    average = make(params)
    for values in sequence:
        for p, v in zip(params, values):
            p.data[...] = v
        average.update()
    assert average.n_averaged == len(sequence)
    return average.averaged


def warmup_avg_fn(decay):
    """The warmup rule β_n = min(β, (1 + n)/(10 + n)) written as an AveragedModel avg_fn."""
    def avg_fn(averaged, current, num_averaged):
        n = int(num_averaged)
        return averaged + (current - averaged) * (1 - min(decay, (1 + n) / (10 + n)))
    return avg_fn


@pytest.mark.parametrize("make, torch_kwargs", [
    (SWA, {}),
    (lambda ps: EMA(ps, decay=0.9), {"multi_avg_fn": get_ema_multi_avg_fn(0.9)}),
    (lambda ps: EMA(ps, decay=0.999), {"multi_avg_fn": get_ema_multi_avg_fn(0.999)}),
    (lambda ps: EMA(ps, decay=0.95, warmup=True), {"avg_fn": warmup_avg_fn(0.95)}),
])
def test_average_matches_torch_averaged_model(make, torch_kwargs):
    sequence = parameter_sequence()
    for ours, theirs in zip(our_average(sequence, make), torch_average(sequence, **torch_kwargs)):
        np.testing.assert_allclose(ours, theirs, rtol=TOL, atol=TOL)


def test_swa_is_the_arithmetic_mean():
    sequence = parameter_sequence(steps=7, seed=1)
    ours = our_average(sequence, SWA)
    np.testing.assert_allclose(ours[0], np.mean([w for w, _ in sequence], axis=0), rtol=1e-13, atol=1e-13)


def test_warmup_decay_closed_form():
    ema = EMA([Parameter(np.zeros(1))], decay=0.99, warmup=True)
    assert [ema.decay_at(n) for n in (0, 1, 8, 1000)] == [0.1, 2 / 11, 0.5, 0.99]


def test_applied_restores_parameters_and_state_dict_round_trip(xp):
    p = Parameter(xp.asarray([1.0, 2.0]))
    ema = EMA([p], decay=0.5)
    ema.update()
    p.data[...] = xp.asarray([3.0, 6.0])
    ema.update()  # average = (2, 4)
    with ema.applied():
        assert p.data.tolist() == [2.0, 4.0]
    assert p.data.tolist() == [3.0, 6.0]
    saved = ema.state_dict()
    other = EMA([Parameter(xp.zeros(2))], decay=0.5)
    other.load_state_dict(saved)
    saved["averaged"][0][...] = 0  # no aliasing
    assert other.averaged[0].tolist() == [2.0, 4.0] and other.n_averaged == 2


def test_averaging_bad_inputs():
    p = Parameter(np.zeros(2))
    for decay in (0.0, 1.0, -0.1, float("nan"), True):
        with pytest.raises(ValueError, match="decay"):
            EMA([p], decay=decay)
    swa = SWA([p])
    with pytest.raises(ValueError, match="shape"):
        swa.copy_to([Parameter(np.zeros(3))])
    with pytest.raises(ValueError, match="average 0"):
        swa.load_state_dict({"n_averaged": 1, "averaged": [np.zeros(3)]})
    with pytest.raises(ValueError, match="n_averaged"):
        swa.load_state_dict({"n_averaged": -1, "averaged": [np.zeros(2)]})
