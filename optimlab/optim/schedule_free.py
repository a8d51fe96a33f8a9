r"""Schedule-Free SGD and AdamW (Defazio et al., 2024), with ``train()``/``eval()`` modes.

No learning-rate schedule: the method keeps a base sequence :math:`z` (plain SGD or Adam steps), its
weighted running average :math:`x` (what you evaluate) and an interpolation :math:`y` between the
two (where the gradient is taken, what you train):

.. math::
    \eta_t &= \eta \min(1, t/T_{warm}), \qquad \eta_{max} = \max_{s \le t} \eta_s, \qquad
    w_t = t^r \eta_{max}^{p}, \qquad c_t = w_t / \textstyle\sum_{s \le t} w_s \\
    d_t &= g_t / (\sqrt{v_t/(1-\beta_2^t)} + \epsilon) \ \text{(AdamW; SGD: } d_t = g_t),
          \qquad v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2 \\
    d_t &\leftarrow d_t + \lambda\, y_t \quad(\text{or } \lambda z_t \text{ with } \texttt{decay\_at\_z}) \\
    z_{t+1} &= z_t - \eta_t d_t \\
    x_{t+1} &= (1-c_t)\, x_t + c_t z_{t+1} \\
    y_{t+1} &= \beta x_{t+1} + (1-\beta) z_{t+1}

with :math:`\beta` the momentum (SGD) or :math:`\beta_1` (AdamW), :math:`p` = ``weight_lr_power``
and gradients :math:`g_t = \nabla f(y_t)`. In train mode the parameters hold :math:`y`; ``eval()``
sets them to :math:`x`, ``train()`` back to :math:`y`. The decay is an L2 term for SGD and
decoupled, scaled by :math:`\eta_t` and not normalised by Adam's denominator for AdamW; both are
taken at :math:`y` as schedulefree does.

Two forms, chosen by ``memory_saving``:

* the simple form (``memory_saving=False``, schedulefree's ``*Reference`` classes) keeps ``z``,
  ``x`` and ``y`` as written above;
* the memory-saving rewrite (``memory_saving=True``, default, schedulefree's ``SGDScheduleFree``/
  ``AdamWScheduleFree``) keeps only ``z``; the parameters hold :math:`y` (train) or :math:`x`
  (eval). Substituting :math:`x_t = (y_t - (1-\beta) z_t)/\beta` into the recursion gives

  .. math::
      y_{t+1} = y_t + c_t (z_t - y_t) + \eta_t(\beta(1-c_t) - 1)\, d_t, \qquad
      x = y + (1 - 1/\beta)(z - y), \qquad y = x + (1-\beta)(z - x),

  so the rewrite needs :math:`\beta > 0`. The two forms are tested against each other step by step.

Differences from schedulefree: the step count, ``weight_sum`` and ``lr_max`` are per-parameter state
(schedulefree keeps them per group: they differ only for a parameter that skips steps); the
optimizer starts in train mode (schedulefree's AdamW classes start in eval mode and need
``train()``); stepping in eval mode raises ``RuntimeError``; the caller's gradient is never written
(schedulefree adds the decay into ``p.grad``); ``lr_max`` starts at 0 (schedulefree: −1; identical
for any ``lr`` ≥ 0). Reference: Defazio, Yang, Mehta, Mishchenko, Khaled & Cutkosky, "The Road Less
Scheduled" (NeurIPS 2024).
"""

from __future__ import annotations

from optimlab.backend import get_array_module
from optimlab.kernels import ElementwiseKernel, use_fused
from optimlab.optim.base import Optimizer
from optimlab.optim.hyperparams import betas, boolean, integer, learning_rate, nonnegative, real


def schedule_free_init(param, *, adam=False, memory_saving=True) -> dict:
    """Step 0, empty averaging weights, ``z`` = θ (and ``x``, ``y`` = θ in the simple form, zero
    ``exp_avg_sq`` for AdamW); schedulefree's key names."""
    xp = get_array_module(param)
    state = {"step": 0, "weight_sum": 0.0, "lr_max": 0.0, "z": xp.array(param, copy=True)}
    if adam:
        state["exp_avg_sq"] = xp.zeros_like(param)
    if not memory_saving:
        state["x"] = xp.array(param, copy=True)
        state["y"] = xp.array(param, copy=True)
    return state


def schedule_free_weights(state, *, lr, warmup_steps=0, r=0.0, weight_lr_power=2.0) -> tuple[float, float]:
    """Advance ``step``, ``lr_max`` and ``weight_sum``; return (η_t, c_t) of the module docstring."""
    t = state["step"] = state["step"] + 1
    scheduled_lr = lr * (t / warmup_steps if t <= warmup_steps else 1.0)  # η_t = η min(1, t/T_warm)
    lr_max = state["lr_max"] = max(scheduled_lr, state["lr_max"])  # η_max = max η_s
    weight = t**r * lr_max**weight_lr_power  # w_t = t^r η_max^p
    weight_sum = state["weight_sum"] = state["weight_sum"] + weight
    return scheduled_lr, (weight / weight_sum if weight_sum != 0 else 0.0)  # c_t = w_t / Σ w_s


def _direction(grad, state, decay_point, *, weight_decay, adam, beta2, eps):
    """d_t: the gradient (SGD) or the Adam-normalised gradient, plus λ·decay_point."""
    if adam:
        xp = get_array_module(grad)
        exp_avg_sq = state["exp_avg_sq"]
        exp_avg_sq *= beta2  # v = β₂v + (1 − β₂)g²
        exp_avg_sq += (1 - beta2) * grad * grad
        grad = grad / (xp.sqrt(exp_avg_sq / (1 - beta2 ** state["step"])) + eps)  # d = g/(√(v/(1 − β₂ᵗ)) + ε)
    return grad + weight_decay * decay_point if weight_decay != 0 else grad  # d ← d + λ·(y or z)


def schedule_free_update(param, grad, state, *, lr, momentum=0.9, weight_decay=0.0, warmup_steps=0, r=0.0,
                         weight_lr_power=2.0, adam=False, beta2=0.999, eps=1e-8, decay_at_z=False) -> None:
    """The simple form (schedulefree's Reference classes): one step on ``z``, ``x``, ``y`` and the
    parameter (which holds ``y``), in place."""
    lr, ckp1 = schedule_free_weights(state, lr=lr, warmup_steps=warmup_steps, r=r, weight_lr_power=weight_lr_power)
    z, x, y = state["z"], state["x"], state["y"]
    direction = _direction(grad, state, z if decay_at_z else y, weight_decay=weight_decay, adam=adam,
                           beta2=beta2, eps=eps)
    z -= lr * direction  # z ← z − η_t d
    x *= 1 - ckp1  # x ← (1 − c)x + c z
    x += ckp1 * z
    y[...] = momentum * x + (1 - momentum) * z  # y = βx + (1 − β)z
    param[...] = y


def schedule_free_memory_saving_update(param, grad, state, *, lr, momentum=0.9, weight_decay=0.0, warmup_steps=0,
                                       r=0.0, weight_lr_power=2.0, adam=False, beta2=0.999, eps=1e-8,
                                       decay_at_z=False) -> None:
    """The memory-saving rewrite (schedulefree's SGDScheduleFree/AdamWScheduleFree): only ``z`` is
    kept; the parameter holds ``y`` and is updated in place."""
    lr, ckp1 = schedule_free_weights(state, lr=lr, warmup_steps=warmup_steps, r=r, weight_lr_power=weight_lr_power)
    z = state["z"]
    direction = _direction(grad, state, z if decay_at_z else param, weight_decay=weight_decay, adam=adam,
                           beta2=beta2, eps=eps)
    param += ckp1 * (z - param)  # y ← y + c(z − y) + η_t(β(1 − c) − 1)d
    param += lr * (momentum * (1 - ckp1) - 1) * direction
    z -= lr * direction  # z ← z − η_t d


SCHEDULE_FREE_KERNEL = ElementwiseKernel(
    name="schedule_free",
    inputs=("g",),
    outputs=("p", "z", "x", "y", "exp_avg_sq"),
    scalars=("lr", "ckp1", "momentum", "weight_decay", "beta2", "eps", "bias_correction2"),
    flags=("ADAM", "SIMPLE", "DECAY_AT_Z"),
    requires=(("x", "SIMPLE"), ("y", "SIMPLE"), ("exp_avg_sq", "ADAM")),
    body="""
C grad = (C)g;
C z_old = (C)z;
#if SIMPLE
C y_old = (C)y;
#else
C y_old = (C)p;
#endif
#if ADAM
C v = (C)beta2 * (C)exp_avg_sq + (C)(1 - beta2) * grad * grad;
exp_avg_sq = (T)v;
C direction = grad / (sqrt(v / (C)bias_correction2) + (C)eps);
#else
C direction = grad;
#endif
if (weight_decay != 0) {
#if DECAY_AT_Z
    direction += (C)weight_decay * z_old;
#else
    direction += (C)weight_decay * y_old;
#endif
}
C z_new = z_old - (C)lr * direction;
z = (T)z_new;
#if SIMPLE
C x_new = (C)(1 - ckp1) * (C)x + (C)ckp1 * z_new;
x = (T)x_new;
C y_new = (C)momentum * x_new + (C)(1 - momentum) * z_new;
y = (T)y_new;
p = (T)y_new;
#else
p = (T)(y_old + (C)ckp1 * (z_old - y_old) + (C)(lr * (momentum * (1 - ckp1) - 1)) * direction);
#endif
""",
)


def schedule_free_fused(param, grad, state, *, lr, momentum=0.9, weight_decay=0.0, warmup_steps=0, r=0.0,
                        weight_lr_power=2.0, adam=False, beta2=0.999, eps=1e-8, decay_at_z=False) -> None:
    """Either form through the fused kernel (the form follows the state: ``x`` present = simple);
    η_t, c_t and the bias correction are folded on the host."""
    lr, ckp1 = schedule_free_weights(state, lr=lr, warmup_steps=warmup_steps, r=r, weight_lr_power=weight_lr_power)
    SCHEDULE_FREE_KERNEL(
        flags=dict(ADAM=adam, SIMPLE="x" in state, DECAY_AT_Z=decay_at_z),
        g=grad, p=param, z=state["z"], x=state.get("x"), y=state.get("y"), exp_avg_sq=state.get("exp_avg_sq"),
        lr=lr, ckp1=ckp1, momentum=momentum, weight_decay=weight_decay, beta2=beta2, eps=eps,
        bias_correction2=1 - beta2 ** state["step"] if adam else 1.0,
    )


def schedule_free(param, grad, state, **hyper) -> None:
    """One step in the form the state was made for (``x`` present: simple): the fused kernel for
    GPU arrays (see ``kernels.use_fused``), else the matching reference."""
    if use_fused(param):
        schedule_free_fused(param, grad, state, **hyper)
    elif "x" in state:
        schedule_free_update(param, grad, state, **hyper)
    else:
        schedule_free_memory_saving_update(param, grad, state, **hyper)


def schedule_free_eval(param, state, *, momentum) -> None:
    """Parameters ← x: copied (simple form) or x = y + (1 − 1/β)(z − y) (memory-saving)."""
    if "x" in state:
        param[...] = state["x"]
    else:
        param += (1 - 1 / momentum) * (state["z"] - param)


def schedule_free_train(param, state, *, momentum) -> None:
    """Parameters ← y: copied (simple form) or y = x + (1 − β)(z − x) (memory-saving)."""
    if "x" in state:
        param[...] = state["y"]
    else:
        param += (1 - momentum) * (state["z"] - param)


class ScheduleFreeOptimizer(Optimizer):
    """The shell both schedule-free classes share: ``memory_saving`` (fixed at construction, it sets
    the state's layout), train/eval modes, and the mode in ``state_dict()``."""

    adam = False
    elementwise = True

    def __init__(self, params, defaults, *, memory_saving):
        self.memory_saving = boolean("memory_saving", memory_saving)
        self.train_mode = True
        super().__init__(params, defaults)

    def _momentum(self, group) -> float:
        raise NotImplementedError

    def _init_state(self, param, group):
        return schedule_free_init(param.data, adam=self.adam, memory_saving=self.memory_saving)

    def step(self, closure=None):
        """One step; the optimizer must be in train mode (``train()``)."""
        if not self.train_mode:
            raise RuntimeError(f"{type(self).__name__}.step() called in eval mode: call optimizer.train() "
                               "before training steps (and eval() before evaluating)")
        return super().step(closure)

    def eval(self) -> None:
        """Switch the parameters to the averaged sequence x (no-op in eval mode)."""
        self._switch(False, schedule_free_eval)

    def train(self) -> None:
        """Switch the parameters back to y, where gradients are taken (no-op in train mode)."""
        self._switch(True, schedule_free_train)

    def _switch(self, train_mode: bool, switch) -> None:
        if self.train_mode == train_mode:
            return
        for group in self.param_groups:
            for param in group["params"]:
                if param in self.state:
                    switch(param.data, self.state[param], momentum=self._momentum(group))
        self.train_mode = train_mode

    def state_dict(self) -> dict:
        """The base state dict plus ``train_mode`` and ``memory_saving``."""
        return {**super().state_dict(), "train_mode": self.train_mode, "memory_saving": self.memory_saving}

    def load_state_dict(self, state_dict: dict) -> None:
        """As the base class; the saved mode is restored and the saved form must match this one."""
        if not isinstance(state_dict, dict):
            raise TypeError("state_dict must be a dict with 'state' and 'param_groups' entries")
        train_mode = boolean("train_mode", state_dict.get("train_mode", True))
        saved_form = boolean("memory_saving", state_dict.get("memory_saving", self.memory_saving))
        if saved_form != self.memory_saving:
            raise ValueError(f"state dict was saved with memory_saving={saved_form}, this optimizer has "
                             f"memory_saving={self.memory_saving}: the state layouts differ")
        super().load_state_dict(state_dict)
        self.train_mode = train_mode


class SGDScheduleFree(ScheduleFreeOptimizer):
    """Schedule-Free SGD, schedulefree's ``SGDScheduleFree`` (``memory_saving=True``) or
    ``SGDScheduleFreeReference`` (``False``): same arguments and defaults."""

    hyperparameters = {
        "lr": learning_rate,
        "momentum": real(0.0, 1.0, low_open=True, high_open=True),
        "weight_decay": nonnegative,
        "warmup_steps": integer(0),
        "r": nonnegative,
        "weight_lr_power": nonnegative,
    }

    def __init__(self, params, lr=1.0, momentum=0.9, weight_decay=0.0, warmup_steps=0, r=0.0, weight_lr_power=2.0,
                 *, memory_saving=True):
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay, warmup_steps=warmup_steps,
                                      r=r, weight_lr_power=weight_lr_power), memory_saving=memory_saving)

    def _momentum(self, group) -> float:
        return group["momentum"]

    def _update(self, param, grad, state, group):
        schedule_free(param.data, grad, state, lr=group["lr"], momentum=group["momentum"],
                      weight_decay=group["weight_decay"], warmup_steps=group["warmup_steps"], r=group["r"],
                      weight_lr_power=group["weight_lr_power"])


class AdamWScheduleFree(ScheduleFreeOptimizer):
    """Schedule-Free AdamW, schedulefree's ``AdamWScheduleFree`` (``memory_saving=True``) or
    ``AdamWScheduleFreeReference`` (``False``): same arguments and defaults. ``decay_at_z`` exists
    only in schedulefree's Reference class; its memory-saving form here follows from the rewrite
    (``z_t`` is known when ``d_t`` is formed) and is checked against the simple form."""

    adam = True
    hyperparameters = {
        "lr": learning_rate,
        "betas": betas,
        "eps": nonnegative,
        "weight_decay": nonnegative,
        "warmup_steps": integer(0),
        "r": nonnegative,
        "weight_lr_power": nonnegative,
        "decay_at_z": boolean,
    }

    def __init__(self, params, lr=0.0025, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, warmup_steps=0, r=0.0,
                 weight_lr_power=2.0, *, decay_at_z=False, memory_saving=True):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      warmup_steps=warmup_steps, r=r, weight_lr_power=weight_lr_power,
                                      decay_at_z=decay_at_z), memory_saving=memory_saving)

    def _momentum(self, group) -> float:
        return group["betas"][0]

    def _check_group(self, group: dict) -> None:
        if self.memory_saving and group.get("betas", (1.0,))[0] == 0:
            raise ValueError("Invalid betas[0]=0 with memory_saving=True: the memory-saving form recovers x as "
                             "(y - (1 - beta1) z) / beta1; use beta1 > 0 or memory_saving=False")

    def _update(self, param, grad, state, group):
        beta1, beta2 = group["betas"]
        schedule_free(param.data, grad, state, lr=group["lr"], momentum=beta1, weight_decay=group["weight_decay"],
                      warmup_steps=group["warmup_steps"], r=group["r"], weight_lr_power=group["weight_lr_power"],
                      adam=True, beta2=beta2, eps=group["eps"], decay_at_z=group["decay_at_z"])
