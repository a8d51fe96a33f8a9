r"""Mixed precision: low-precision model parameters with fp32 master weights, and dynamic loss scaling.

**Master weights** (Micikevicius et al., 2018, "Mixed Precision Training"). The model computes its
forward and backward passes in fp16 (or bf16); the optimizer updates an fp32 copy
:math:`\theta^{32}`, because an update :math:`\eta\,\Delta` far smaller than :math:`\theta` is lost
when added in fp16 (fp16 has a 10-bit mantissa: :math:`1 + 2^{-12} = 1` in fp16). Each step:
gradients are cast up, :math:`\theta^{32}` steps, and :math:`\theta^{16} = \mathrm{fp16}(\theta^{32})`.

**Loss scaling.** fp16 flushes magnitudes below :math:`2^{-24} \approx 6\cdot10^{-8}` to zero, and
small gradients underflow. Back-propagating :math:`S\cdot L` instead of :math:`L` multiplies every
gradient by :math:`S`; the fp32 master gradients are divided by :math:`S` before the step. ``GradScaler``
chooses :math:`S` dynamically with ``torch.amp.GradScaler``'s algorithm: if any scaled gradient is
inf/NaN the step is skipped and :math:`S \leftarrow S\cdot\text{backoff}`; after ``growth_interval``
consecutive finite steps :math:`S \leftarrow S\cdot\text{growth}` (kept only if finite). :math:`S` is
a float32, and ``1/S`` is computed in float64 then rounded to float32, as torch does.
"""

from __future__ import annotations

import numbers

import numpy as np

from optimlab.backend import get_array_module
from optimlab.parameter import Parameter
from optimlab.training.gradients import StepResult, guarded_step, parameter_list, positive_real, scaled

READY, UNSCALED, STEPPED = "ready", "unscaled", "stepped"


def _growth_interval(value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"growth_interval must be an int, got {type(value).__name__}: {value!r}")
    if value < 1:
        raise ValueError(f"growth_interval must be at least 1, got {value}")
    return int(value)


def _factor(name: str, value, low: float, high: float) -> float:
    value = positive_real(name, value)
    if not low < value < high:
        raise ValueError(f"{name} must lie in ({low}, {high}), got {value!r}")
    return value


def _scale_value(name: str, value) -> np.float32:
    value = positive_real(name, value)
    finfo = np.finfo(np.float32)
    if not float(finfo.tiny) <= value <= float(finfo.max):  # compared as Python floats: no overflowing cast
        raise ValueError(f"{name} must be a normal positive float32 (at most {finfo.max:.3g}), got {value!r}")
    return np.float32(value)


class GradScaler:
    """Dynamic loss scaling with ``torch.amp.GradScaler``'s arguments, defaults and update rule.

    Usage (fp16 model, fp32 master weights ``master``, optimizer over ``master.master_params``)::

        loss = task.loss_and_grad(batch, loss_scale=scaler.get_scale())  # backward of S·L
        master.grads_to_master()
        scaler.unscale_(opt)            # optional: only needed to clip the true gradients
        clip_grad_norm_(master.master_params, 1.0)
        stepped = scaler.step(opt)      # skipped when a gradient is inf/NaN
        scaler.update()

    Differences from torch (deliberate): ``step`` returns whether it stepped (torch returns the
    optimizer's ``step()`` value, ``None`` without a closure); unscaling replaces each ``p.grad``
    with a new array instead of writing into it; arguments are validated with ``ValueError``.
    As in torch, fp16 gradients cannot be unscaled (keep fp32 master weights).
    """

    def __init__(self, init_scale: float = 2.0**16, growth_factor: float = 2.0, backoff_factor: float = 0.5,
                 growth_interval: int = 2000):
        self._scale = _scale_value("init_scale", init_scale)
        self._growth_factor = _factor("growth_factor", growth_factor, 1.0, np.inf)
        self._backoff_factor = _factor("backoff_factor", backoff_factor, 0.0, 1.0)
        self._growth_interval = _growth_interval(growth_interval)
        self._growth_tracker = 0
        self._per_optimizer: dict[int, dict] = {}

    def get_scale(self) -> float:
        """The current scale S (a float32 value, returned as a Python float)."""
        return float(self._scale)

    def scale(self, loss):
        """``S · loss`` (a float or an array); back-propagate this, or pass ``get_scale()`` as the seed."""
        return loss * self.get_scale()

    def _state(self, optimizer) -> dict:
        return self._per_optimizer.setdefault(id(optimizer), {"stage": READY, "found_inf": None})

    def unscale_(self, optimizer) -> None:
        """Divide the optimizer's gradients by S (multiply by float32(1/S)) and record whether any was
        inf/NaN. At most once per optimizer between ``update()`` calls, and before ``step``."""
        state = self._state(optimizer)
        if state["stage"] == UNSCALED:
            raise RuntimeError("unscale_() has already been called on this optimizer since the last update().")
        if state["stage"] == STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        inv_scale = np.float32(1.0 / np.float64(self._scale))
        params = [p for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        found_inf = None
        for p in params:
            if p.grad.dtype == np.float16:
                raise ValueError(
                    f"Attempting to unscale FP16 gradients (parameter {p.name or tuple(p.shape)}): the optimizer "
                    "should step fp32 master weights (optimlab.training.MasterWeights)"
                )
            xp = get_array_module(p.grad)
            found_inf = bool(found_inf) or not bool(xp.isfinite(p.grad).all())
            p.grad = scaled(p.grad, inv_scale)
        state["found_inf"], state["stage"] = found_inf, UNSCALED

    def step(self, optimizer) -> bool:
        """Unscale (unless ``unscale_`` was called) and step the optimizer only if every gradient is
        finite; return whether it stepped. A skipped step leaves the optimizer untouched."""
        state = self._state(optimizer)
        if state["stage"] == STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if state["stage"] == READY:
            self.unscale_(optimizer)
        if state["found_inf"] is None:
            raise RuntimeError("No inf checks were recorded for this optimizer: none of its parameters has a gradient.")
        stepped = not state["found_inf"]
        if stepped:
            optimizer.step()
        state["stage"] = STEPPED
        return stepped

    def update(self, new_scale: float | None = None) -> None:
        """Back off (S·backoff, after any skipped step) or grow (S·growth, after ``growth_interval``
        finite steps in a row) the scale, or set it to ``new_scale``; then start a new iteration."""
        if new_scale is not None:
            self._scale = _scale_value("new_scale", new_scale)
        else:
            found = [s["found_inf"] for s in self._per_optimizer.values() if s["found_inf"] is not None]
            if not found:
                raise RuntimeError("No inf checks were recorded prior to update(): call step(optimizer) first.")
            if any(found):
                self._scale = np.float32(np.float64(self._scale) * self._backoff_factor)
                self._growth_tracker = 0
            elif self._growth_tracker + 1 == self._growth_interval:
                grown = np.float32(np.float64(self._scale) * self._growth_factor)
                if np.isfinite(grown):
                    self._scale = grown
                self._growth_tracker = 0
            else:
                self._growth_tracker += 1
        self._per_optimizer = {}

    def state_dict(self) -> dict:
        """torch's keys: ``scale``, ``growth_factor``, ``backoff_factor``, ``growth_interval``, ``_growth_tracker``."""
        return {"scale": self.get_scale(), "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor, "growth_interval": self._growth_interval,
                "_growth_tracker": self._growth_tracker}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore from ``state_dict()`` (or torch's); everything is validated before anything changes."""
        keys = ("scale", "growth_factor", "backoff_factor", "growth_interval", "_growth_tracker")
        if not isinstance(state_dict, dict) or set(state_dict) != set(keys):
            raise ValueError(f"GradScaler state dict must have exactly the keys {keys}, got {state_dict!r}")
        loaded = GradScaler(state_dict["scale"], state_dict["growth_factor"], state_dict["backoff_factor"],
                            state_dict["growth_interval"])
        tracker = state_dict["_growth_tracker"]
        if isinstance(tracker, bool) or not isinstance(tracker, numbers.Integral) or not 0 <= tracker < loaded._growth_interval:
            raise ValueError(f"_growth_tracker must be an int in [0, growth_interval), got {tracker!r}")
        loaded._growth_tracker = int(tracker)
        self.__dict__.update(loaded.__dict__)


class MasterWeights:
    """fp32 master copies of low-precision (fp16/bf16) model parameters.

    Give the optimizer ``master_params``; the model keeps computing with its own parameters.
    ``step`` casts the model's gradients up into the masters, steps them (through
    ``guarded_step``: optional scaler, clipping, non-finite guard) and, if the step was taken,
    writes the masters back into the model cast down. The model's gradient arrays are not modified.
    """

    def __init__(self, params, master_dtype=np.float32):
        self.model_params = parameter_list(params)
        if not self.model_params:
            raise ValueError("MasterWeights got no parameters")
        self.master_dtype = np.dtype(master_dtype)
        if not np.issubdtype(self.master_dtype, np.floating):
            raise TypeError(f"master_dtype must be a floating dtype, got {self.master_dtype}")
        self.master_params = [Parameter(p.data.astype(self.master_dtype), name=p.name) for p in self.model_params]

    def grads_to_master(self) -> None:
        """``master.grad = float32(model.grad)`` (``None`` where the model parameter has no gradient)."""
        for model, master in zip(self.model_params, self.master_params):
            master.grad = None if model.grad is None else model.grad.astype(self.master_dtype)

    def master_to_model(self) -> None:
        """Write the master values into the model parameters, rounded to the model's dtype."""
        for model, master in zip(self.model_params, self.master_params):
            model.data[...] = master.data.astype(model.data.dtype)

    def step(self, optimizer, *, scaler: GradScaler | None = None, max_grad_norm: float | None = None,
             norm_type: float = 2.0) -> StepResult:
        """Cast gradients up, take one guarded step of ``optimizer`` (over ``master_params``), cast down."""
        self.grads_to_master()
        result = guarded_step(optimizer, scaler=scaler, max_grad_norm=max_grad_norm, norm_type=norm_type)
        if result.stepped:
            self.master_to_model()
        return result
