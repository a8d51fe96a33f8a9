"""Numerics and contract probes, each run on optimlab and on torch 2.13 (CPU) with the same inputs.

Where torch is known to fail (Adam on float16 storage with the default ε; centered RMSprop's
variance rounding below zero; its float32 step counter stopping at 2**24; NaN/inf or per-group
learning rates accepted; state aliased through ``state_dict``/``load_state_dict``) the probe
measures torch's behaviour rather than assuming it. bfloat16 stagnation is a property of the format,
not a bug: NumPy has no bfloat16, so storage is emulated by rounding float32 to the nearest bfloat16
after every step (``round_to_bfloat16``, round-to-nearest-even), and the probe shows that updates
smaller than half a bfloat16 ulp vanish, there and in torch's real bfloat16, while a float32 master
copy keeps moving.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from optimlab.kernels import cpu_compiler_available, cpu_kernels
from optimlab.optim import SGD, Adam, RMSprop
from optimlab.optim.muon import round_to_bfloat16
from optimlab.parameter import Parameter


@dataclass(frozen=True)
class Probe:
    """One probe's outcome: what optimlab did and what torch 2.13 did, each judged ok or not."""

    name: str
    question: str
    ours: str
    ours_ok: bool
    torch: str
    torch_ok: bool


def _first_nonfinite(trajectory) -> int | None:
    """The 1-based step of the first non-finite value, ``None`` when all are finite."""
    bad = [i for i, values in enumerate(trajectory) if not np.all(np.isfinite(values))]
    return bad[0] + 1 if bad else None


def _steps_text(first: int | None, steps: int) -> str:
    return f"finite over {steps} steps" if first is None else f"NaN/inf from step {first}"


def _run_ours(optimizer, param, grad, steps):
    trajectory = []
    with np.errstate(all="ignore"):
        for _ in range(steps):
            param.grad = grad.copy()
            optimizer.step()
            trajectory.append(np.asarray(param.data, dtype=np.float64).copy())
    return trajectory


def _run_torch(optimizer, param, grad, steps):
    import torch

    trajectory = []
    for _ in range(steps):
        param.grad = torch.from_numpy(grad.copy()).to(param.dtype)
        optimizer.step()
        trajectory.append(param.detach().double().numpy().copy())
    return trajectory


def fp16_zero_gradients(steps: int = 3) -> Probe:
    """Adam, float16 storage, default ε = 1e-8 (0 in float16), zero gradients: √v + ε = 0 and m/(√v + ε)
    = 0/0 unless the update is computed in float32, as the fused kernel does (``C = float``). The NumPy
    reference keeps torch's float16 arithmetic on purpose (the book's claim 26 shows the failure with
    it), so its outcome is reported beside the kernel's."""
    import torch

    grad = np.zeros(4, dtype=np.float16)
    param = Parameter(np.ones(4, dtype=np.float16))
    with cpu_kernels(True):
        ours = _first_nonfinite(_run_ours(Adam([param], lr=1e-3), param, grad, steps))
    reference = Parameter(np.ones(4, dtype=np.float16))
    reference_first = _first_nonfinite(_run_ours(Adam([reference], lr=1e-3), reference, grad, steps))
    tensor = torch.ones(4, dtype=torch.float16, requires_grad=True)
    theirs = _first_nonfinite(_run_torch(torch.optim.Adam([tensor], lr=1e-3), tensor, grad, steps))
    return Probe("fp16 zero gradients", "Adam on float16 storage, default eps, zero gradients: no NaN?",
                 f"fused kernel (float32 arithmetic): {_steps_text(ours, steps)}; NumPy reference (torch's "
                 f"float16 arithmetic, by design, claim 26): {_steps_text(reference_first, steps)}",
                 ours is None, _steps_text(theirs, steps), theirs is None)


# a constant gradient whose centered variance v − ḡ² = (1 − αᵗ)αᵗg² rounds below 0 in float64 once αᵗ
# nears an ulp (tests/optim/test_rmsprop.py)
RMSPROP_GRADIENT = np.array([0.1, 0.7, 1.1, 1e-3])
RMSPROP_CONFIG = {"lr": 0.01, "alpha": 0.5, "centered": True}


def centered_rmsprop(steps: int = 80) -> Probe:
    import torch

    param = Parameter(np.zeros(len(RMSPROP_GRADIENT)))
    ours = _first_nonfinite(_run_ours(RMSprop([param], **RMSPROP_CONFIG), param, RMSPROP_GRADIENT, steps))
    tensor = torch.zeros(len(RMSPROP_GRADIENT), dtype=torch.float64, requires_grad=True)
    theirs = _first_nonfinite(_run_torch(torch.optim.RMSprop([tensor], **RMSPROP_CONFIG), tensor, RMSPROP_GRADIENT,
                                         steps))
    return Probe("centered RMSprop", "centered RMSprop on a constant gradient (float64): no NaN?",
                 _steps_text(ours, steps), ours is None, _steps_text(theirs, steps), theirs is None)


def step_counter() -> Probe:
    """Adam's step counter set to 2**24, then one step: does it reach 2**24 + 1? (torch keeps it in a
    float32 tensor, where 2**24 + 1 is not representable.)"""
    import torch

    start = 2**24
    param = Parameter(np.ones(2))
    optimizer = Adam([param])
    param.grad = np.ones(2)
    optimizer.step()
    optimizer.state[param]["step"] = start
    optimizer.step()
    ours = optimizer.state[param]["step"]
    tensor = torch.ones(2, requires_grad=True)
    theirs_optimizer = torch.optim.Adam([tensor])
    tensor.grad = torch.ones(2)
    theirs_optimizer.step()
    state = theirs_optimizer.state[tensor]
    state["step"] = torch.tensor(float(start), dtype=state["step"].dtype)
    theirs_optimizer.step()
    theirs = state["step"].item()
    return Probe("step counter past 2**24", "after step 2**24, does the counter reach 2**24 + 1?",
                 f"{ours} ({type(ours).__name__})", ours == start + 1,
                 f"{theirs:.0f} ({state['step'].dtype})", theirs == start + 1)


def bf16_stagnation(steps: int = 100, lr: float = 1e-3) -> Probe:
    """SGD with η·g = 1e-3 on θ = 1 stored in bfloat16 (ulp below 1 is 2**-8, so half an ulp is
    0.00195 > 0.001): every update rounds away. Documented behaviour, not a failure: the probe is ok
    when the stagnation shows and a float32 master copy moves to 1 − steps·η."""
    import torch

    grad = np.ones(1, dtype=np.float32)
    stored, master = Parameter(np.ones(1, dtype=np.float32)), Parameter(np.ones(1, dtype=np.float32))
    emulated, full = SGD([stored], lr=lr), SGD([master], lr=lr)
    for _ in range(steps):
        stored.grad, master.grad = grad, grad
        emulated.step()
        full.step()
        stored.data[...] = round_to_bfloat16(stored.data)
    tensor = torch.ones(1, dtype=torch.bfloat16, requires_grad=True)
    theirs = _run_torch(torch.optim.SGD([tensor], lr=lr), tensor, grad, steps)[-1][0]
    moved = math.isclose(float(master.data[0]), 1 - steps * lr, rel_tol=1e-5)
    return Probe("bf16 stagnation", f"θ = 1 in bfloat16, {steps} SGD steps of 1e-3: do they vanish (documented)?",
                 f"emulated bfloat16 stays {float(stored.data[0])}; float32 master copy {float(master.data[0]):.4f}",
                 float(stored.data[0]) == 1.0 and moved, f"bfloat16 stays {theirs}", bool(theirs == 1.0))


def nonfinite_lr() -> Probe:
    import torch

    def rejected(build) -> list[str]:
        kept = []
        for value in (math.nan, math.inf):
            try:
                build(value)
            except (ValueError, TypeError):
                kept.append(f"rejects {value}")
            else:
                kept.append(f"accepts {value}")
        return kept

    ours = rejected(lambda lr: SGD([Parameter(np.ones(2))], lr=lr))
    theirs = rejected(lambda lr: torch.optim.SGD([torch.ones(2, requires_grad=True)], lr=lr))
    return Probe("NaN/inf learning rate", "lr = NaN or inf rejected?", ", ".join(ours),
                 all(r.startswith("rejects") for r in ours), ", ".join(theirs),
                 all(r.startswith("rejects") for r in theirs))


def per_group_value() -> Probe:
    import torch

    def verdict(build) -> str:
        try:
            build()
        except (ValueError, TypeError):
            return "rejects"
        return "accepts"

    ours = verdict(lambda: SGD([{"params": [Parameter(np.ones(2))], "lr": -1.0}], lr=0.1))
    theirs = verdict(lambda: torch.optim.SGD([{"params": [torch.ones(2, requires_grad=True)], "lr": -1.0}], lr=0.1))
    return Probe("per-group value", "a param group with lr = -1 rejected?", f"{ours} it", ours == "rejects",
                 f"{theirs} it", theirs == "rejects")


def state_aliasing() -> Probe:
    """Write into the dict ``state_dict()`` returned, and into the dict just loaded: does the
    optimizer's own state change?"""
    import torch

    param = Parameter(np.ones(3))
    optimizer = Adam([param])
    param.grad = np.ones(3)
    optimizer.step()
    optimizer.state_dict()["state"][0]["exp_avg"][...] = 7.0
    ours = [bool(np.any(optimizer.state[param]["exp_avg"] == 7.0))]
    other_param = Parameter(np.ones(3))
    other = Adam([other_param])
    loaded = optimizer.state_dict()
    other.load_state_dict(loaded)
    loaded["state"][0]["exp_avg"][...] = 9.0
    ours.append(bool(np.any(other.state[other_param]["exp_avg"] == 9.0)))

    tensor = torch.ones(3, requires_grad=True)
    theirs_optimizer = torch.optim.Adam([tensor])
    tensor.grad = torch.ones(3)
    theirs_optimizer.step()
    theirs_optimizer.state_dict()["state"][0]["exp_avg"].fill_(7.0)
    theirs = [bool((theirs_optimizer.state[tensor]["exp_avg"] == 7.0).any())]
    other_tensor = torch.ones(3, requires_grad=True)
    theirs_other = torch.optim.Adam([other_tensor])
    theirs_loaded = theirs_optimizer.state_dict()
    theirs_other.load_state_dict(theirs_loaded)
    theirs_loaded["state"][0]["exp_avg"].fill_(9.0)
    theirs.append(bool((theirs_other.state[other_tensor]["exp_avg"] == 9.0).any()))

    def text(aliased):
        exported, loaded = ("aliases" if flag else "copies" for flag in aliased)
        return f"state_dict() {exported}, load_state_dict {loaded}"

    return Probe("state aliasing", "state_dict()/load_state_dict copy rather than alias?", text(ours), not any(ours),
                 text(theirs), not any(theirs))


PROBES = (fp16_zero_gradients, centered_rmsprop, step_counter, bf16_stagnation, nonfinite_lr, per_group_value,
          state_aliasing)


def run_probes() -> list[Probe]:
    """Every probe (the fp16 one needs g++ for the fused kernel's CPU form)."""
    return [probe() for probe in PROBES if probe is not fp16_zero_gradients or cpu_compiler_available()]


def torch_constructor_rejections(cases) -> tuple[int, int]:
    """``(tried, rejected)``: the table's invalid constructor values (``BadInput`` cases) given to the
    constructors of the torch twins, where torch's signature takes that argument; any exception counts
    as a rejection."""
    import inspect
    import warnings

    import torch

    from optimlab.verify.torch_cases import TORCH_TWINS

    tried = rejected = 0
    for case in cases:
        if case.where != "constructor" or case.name not in TORCH_TWINS:
            continue
        cls = getattr(torch.optim, TORCH_TWINS[case.name])
        if case.key not in inspect.signature(cls.__init__).parameters:
            continue
        tried += 1
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cls([torch.ones(5, 4, requires_grad=True)], **{case.key: case.value})
        except Exception:  # noqa: BLE001 -- any refusal counts
            rejected += 1
    return tried, rejected
