"""Parameter-group helpers: membership by the ndim rule and by name, layer-wise lr (closed form),
and the dicts accepted by optimlab's and torch's optimizers."""

import numpy as np
import pytest
import torch

from optimlab.nn import LayerNorm, Linear, Sequential
from optimlab.optim import AdamW
from optimlab.training import layer_decay_groups, weight_decay_groups


def model():
    return Sequential(Linear(4, 8, rng=0, dtype=np.float64), LayerNorm(8, dtype=np.float64),
                      Linear(8, 8, rng=1, dtype=np.float64), Linear(8, 2, rng=2, dtype=np.float64))


def names(group):
    return [name for name, _ in group["params"]]


def test_no_decay_for_one_dimensional_parameters():
    decay, no_decay = weight_decay_groups(model(), 0.1)
    assert names(decay) == ["0.weight", "2.weight", "3.weight"] and decay["weight_decay"] == 0.1
    assert names(no_decay) == ["0.bias", "1.weight", "1.bias", "2.bias", "3.bias"] and no_decay["weight_decay"] == 0.0


def test_no_decay_by_name_pattern():
    decay, no_decay = weight_decay_groups(model().named_parameters(), 0.1, no_decay_names=["3.*"])
    assert names(decay) == ["0.weight", "2.weight"]
    assert "3.weight" in names(no_decay)


def test_layerwise_lr_decay_closed_form():
    groups = layer_decay_groups(model(), weight_decay=0.05, lr=1e-3, layer_decay=0.5,
                                layer_of=lambda name: int(name.split(".")[0]), num_layers=3)
    by_name = {name: (g["lr"], g["weight_decay"]) for g in groups for name, _ in g["params"]}
    assert by_name["0.weight"] == (1e-3 * 0.5**3, 0.05)
    assert by_name["0.bias"] == (1e-3 * 0.5**3, 0.0)
    assert by_name["2.weight"] == (1e-3 * 0.5, 0.05)
    assert by_name["3.weight"] == (1e-3, 0.05)
    assert len(groups) == 7  # layers 0, 2, 3 have both kinds; the LayerNorm (layer 1) only no-decay


def test_groups_work_in_optimlab_and_torch():
    groups = layer_decay_groups(model(), weight_decay=0.05, lr=1e-3, layer_decay=0.5,
                                layer_of=lambda name: int(name.split(".")[0]), num_layers=3)
    opt = AdamW(groups)
    assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in groups]
    assert opt.param_groups[0]["param_names"] == names(groups[0])
    torch_groups = [{**g, "params": [(n, torch.tensor(p.data, requires_grad=True)) for n, p in g["params"]]}
                    for g in groups]
    topt = torch.optim.AdamW(torch_groups)
    assert [g["weight_decay"] for g in topt.param_groups] == [g["weight_decay"] for g in opt.param_groups]


def test_param_group_bad_inputs():
    with pytest.raises(ValueError, match="weight_decay"):
        weight_decay_groups(model(), -0.1)
    with pytest.raises(TypeError, match="name, Parameter"):
        weight_decay_groups([np.zeros(2)], 0.1)
    with pytest.raises(ValueError, match="no parameters"):
        weight_decay_groups([], 0.1)
    with pytest.raises(TypeError, match="layer_of"):
        layer_decay_groups(model(), lr=1e-3, layer_decay=0.5, num_layers=3)
    with pytest.raises(ValueError, match=r"layer_of\('3.weight'\).*\[0, 2\], got 3"):
        layer_decay_groups(model(), lr=1e-3, layer_decay=0.5, layer_of=lambda n: int(n[0]), num_layers=2)
    with pytest.raises(ValueError, match="lr"):
        layer_decay_groups(model(), lr=None, layer_decay=0.5, layer_of=lambda n: 0, num_layers=2)
