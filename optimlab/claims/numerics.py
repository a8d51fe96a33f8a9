r"""Claims about gradient arithmetic: accumulation (24), fp16 underflow and loss scaling (25), ε in
fp16 Adam (26) and the order of unscaling and clipping (27).

Evidence comes from the training toolkit (``split_batch``/``accumulate_gradients``, ``GradScaler``,
``MasterWeights``, ``clip_grad_norm_``, ``guarded_step``), the ``optimlab.nn`` layers in float16 and
float64, and is cross-checked against torch (autograd gradients, ``torch.optim.Adam`` in float16,
``torch.nn.utils.clip_grad_norm_``). IEEE half precision: the smallest subnormal is 2⁻²⁴ ≈ 5.96·10⁻⁸,
the smallest normal 2⁻¹⁴ ≈ 6.1·10⁻⁵ (Micikevicius et al., "Mixed Precision Training", 2018).
"""

from __future__ import annotations

import numpy as np
import torch

from optimlab.claims.registry import CAVEAT, HOLDS, NOT_HERE, Verdict, claim, verdict_if
from optimlab.nn import Linear, MSELoss
from optimlab.optim import SGD, Adam
from optimlab.parameter import Parameter
from optimlab.problems import DigitsMLP
from optimlab.training import GradScaler, MasterWeights
from optimlab.training.gradients import accumulate_gradients, clip_grad_norm_, guarded_step, split_batch

SMALLEST_SUBNORMAL = 2.0**-24
SMALLEST_NORMAL = 2.0**-14


def _grads(params) -> np.ndarray:
    return np.concatenate([p.grad.ravel() for p in params])


def _torch_digits_gradient(task, batch) -> np.ndarray:
    """The same MLP's mean cross-entropy gradient from torch autograd (float64), flattened like ``_grads``."""
    weights = [torch.tensor(p.data, requires_grad=True) for p in task.parameters()]
    w1, b1, w2, b2 = weights
    hidden = torch.relu(torch.from_numpy(batch[0]) @ w1.T + b1)
    torch.nn.functional.cross_entropy(hidden @ w2.T + b2, torch.from_numpy(batch[1])).backward()
    return np.concatenate([w.grad.numpy().ravel() for w in weights])


@claim(24, "Dividing the loss by k and accumulating k micro-batches gives exactly the full-batch gradient (for models "
           "without batch-dependent layers)", kind="E", topic="numerics",
       criterion="‖accumulated − full‖/‖full‖ ≤ 10⁻¹⁴ for k = 2, 4, 8 equal micro-batches (float64; torch autograd "
                 "gives the same full-batch gradient to 10⁻¹⁴); without dividing by k the result is k× the gradient; "
                 "unequal micro-batches (200 + 56) averaged as 'mean of means' miss by > 10⁻³",
       scale="digits MLP (64–128–10), a batch of 256, float64",
       judge=lambda e: verdict_if(max(e["equal_split_rel_error"].values()) <= 1e-14 and e["torch_rel_error"] <= 1e-14
                                  and max(e["sum_over_k_rel_error"].values()) <= 1e-14,
                                  Verdict(HOLDS, "to rounding, for equal micro-batches; with unequal ones the mean of "
                                                 f"micro-batch means is off by {e['unequal_split_rel_error']:.1%}"),
                                  Verdict(NOT_HERE, "accumulation does not reproduce the full-batch gradient")))
def accumulation_is_full_batch() -> dict:
    task = DigitsMLP(seed=0, dtype=np.float64)
    params = task.parameters()
    batch = (task.x_train[:256], task.y_train[:256])

    def accumulated(micro_batches, reduction="mean"):
        task.model.zero_grad()
        accumulate_gradients(task.loss_and_grad, micro_batches, reduction=reduction)
        return _grads(params)

    full = accumulated([batch])
    norm = np.linalg.norm(full)
    equal, summed = {}, {}
    for k in (2, 4, 8):
        equal[k] = float(np.linalg.norm(accumulated(split_batch(batch, k)) - full) / norm)
        summed[k] = float(np.linalg.norm(accumulated(split_batch(batch, k), "sum") - k * full) / (k * norm))
    unequal = [(batch[0][:200], batch[1][:200]), (batch[0][200:], batch[1][200:])]
    return {
        "equal_split_rel_error": equal,
        "sum_over_k_rel_error": summed,
        "torch_rel_error": float(np.linalg.norm(_torch_digits_gradient(task, batch) - full) / norm),
        "unequal_split_rel_error": float(np.linalg.norm(accumulated(unequal) - full) / norm),
    }


def _least_squares_model(dtype, loss_scale: float) -> tuple[Linear, np.ndarray]:
    """A zero-initialised Linear(16, 1) in ``dtype`` after the backward of S·L, L the mean squared error
    over 4096 outputs with residuals ~10⁻⁵, so that ∂L/∂ŷ = 2r/N ~ 10⁻⁸; and S·∂L/∂ŷ itself."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4096, 16))
    y = x @ (rng.normal(size=(16, 1)) * 1e-5)
    model = Linear(16, 1, bias=False, rng=1, dtype=dtype)
    model.weight.data[...] = 0
    loss_fn = MSELoss()
    loss_fn(model(x.astype(dtype)), y.astype(dtype))
    output_grad = loss_fn.backward(loss_scale)
    model.backward(output_grad)
    return model, output_grad


def fp16_unscaled_gradient(loss_scale: float) -> tuple[np.ndarray, float]:
    """The fp32 master gradient of the fp16 model after ``GradScaler(loss_scale)`` unscales it, and the
    fraction of the fp16 output gradients S·∂L/∂ŷ that underflowed to zero."""
    model, output_grad = _least_squares_model(np.float16, loss_scale)
    master = MasterWeights(model.parameters())
    master.grads_to_master()
    GradScaler(init_scale=loss_scale).unscale_(SGD(master.master_params, lr=0.0))
    return master.master_params[0].grad, float(np.mean(output_grad == 0))


@claim(25, "fp16 gradients below about 6e-8 underflow to zero, and scaling the loss by 2^k brings them back", kind="N",
       topic="numerics",
       criterion="on a grid of 10⁻¹⁰…10⁻⁴ the values that cast to fp16 zero are exactly those ≤ 2⁻²⁵ (half of "
                 "2⁻²⁴ ≈ 5.96·10⁻⁸: round to nearest, the tie to even = 0), to the grid's spacing (0.07%). A real "
                 "fp16 backward with output gradients ~10⁻⁸: at S = 1 over half of them are 0 and the weight gradient "
                 "is > 10% off; at S = 2¹⁶ under 1% (the residuals that are truly tiny) and, unscaled by "
                 "GradScaler, it is within 1% of float64's",
       scale="20001 log-spaced values in [10⁻¹⁰, 10⁻⁴]; least squares, 4096 × 16 inputs, one Linear layer in float16",
       judge=lambda e: verdict_if(e["grid_largest_to_zero"] <= SMALLEST_SUBNORMAL / 2 < e["grid_smallest_nonzero"]
                                  and e["grid_smallest_nonzero"] < 1.001 * SMALLEST_SUBNORMAL / 2 and e["tie_to_zero"]
                                  and e["output_grad_zero_fraction"] > 0.5
                                  and e["unscaled_rel_error"] > 0.1 and e["output_grad_zero_fraction_scaled"] < 0.01
                                  and e["scaled_rel_error"] < 0.01,
                                  Verdict(CAVEAT, "values below 2⁻²⁵ ≈ 3.0e-8 flush to zero, those in [3.0e-8, "
                                                  "6.0e-8) round up to 6.0e-8; below 6.1e-5 (subnormal) precision "
                                                  "already drops (relative error up to "
                                                  f"{e['subnormal_max_rel_error']:.0%} "
                                                  "just above 10⁻⁷); loss scale 2¹⁶ restored the gradient to "
                                                  f"{e['scaled_rel_error']:.1e}"),
                                  Verdict(NOT_HERE, "the underflow threshold or the rescue differs")))
def fp16_underflow_and_loss_scaling() -> dict:
    grid = np.logspace(-10, -4, 20001)
    as_half = grid.astype(np.float16).astype(np.float64)
    near = grid[(grid > 1e-7) & (grid < SMALLEST_NORMAL)]
    reference = _least_squares_model(np.float64, 1.0)[0].weight.grad
    no_scaling, zeros_no_scaling = fp16_unscaled_gradient(1.0)
    scaled, zeros_scaled = fp16_unscaled_gradient(2.0**16)
    return {
        "tie_to_zero": bool(np.float16(SMALLEST_SUBNORMAL / 2) == 0),
        "grid_largest_to_zero": float(grid[as_half == 0].max()),
        "grid_smallest_nonzero": float(grid[as_half > 0].min()),
        "subnormal_max_rel_error": float(np.max(np.abs(near.astype(np.float16) / near - 1))),
        "output_grad_zero_fraction": zeros_no_scaling,
        "output_grad_zero_fraction_scaled": zeros_scaled,
        "unscaled_rel_error": float(np.linalg.norm(no_scaling - reference) / np.linalg.norm(reference)),
        "scaled_rel_error": float(np.linalg.norm(scaled - reference) / np.linalg.norm(reference)),
        "reference_grad_max": float(np.max(np.abs(reference))),
    }


def fp16_adam_first_step(eps: float, grads: np.ndarray, *, dtype=np.float16, lr: float = 1e-3) -> dict:
    """θ₁ − θ₀ of ``optimlab.optim.Adam`` and of ``torch.optim.Adam`` (``foreach=False``, the per-tensor
    path) on weights of ``dtype`` from θ₀ = 0, every state in ``dtype``."""
    param = Parameter(np.zeros(grads.shape, dtype=dtype))
    optimizer = Adam([param], lr=lr, eps=eps)
    param.grad = grads.astype(dtype)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        optimizer.step()
    weight = torch.zeros(grads.shape, dtype=getattr(torch, np.dtype(dtype).name), requires_grad=True)
    reference = torch.optim.Adam([weight], lr=lr, eps=eps, foreach=False)
    weight.grad = torch.from_numpy(grads.astype(dtype))
    reference.step()
    return {"ours": param.data.astype(np.float64), "torch": weight.detach().numpy().astype(np.float64),
            "v": optimizer.state[param]["exp_avg_sq"].astype(np.float64)}


@claim(26, "In fp16, ε = 1e-8 rounds to zero, which can turn Adam's update into inf/NaN; raising ε to 1e-6 fixes it",
       kind="N", topic="numerics",
       criterion="fp16(10⁻⁸) = 0 and fp16(10⁻⁶) ≠ 0; one fp16 Adam step (ours and torch's, which must agree "
                 "non-finite for non-finite) on gradients 10⁻⁴…10⁻² and 0: with ε = 10⁻⁸ some update is inf/NaN, "
                 "with 10⁻⁶ all are finite; 'fixes' also asks |Δθ| ≤ 2η, the size of a correct first step (float32: "
                 "|Δθ| ≤ η)",
       scale="one Adam step, η = 10⁻³, β = (0.9, 0.999), 5 gradient values, float16 states",
       judge=lambda e: verdict_if(e["eps_1e-8_in_fp16"] == 0 and e["eps_1e-6_in_fp16"] > 0
                                  and e["nonfinite_1e-8"] > 0 and e["nonfinite_1e-6"] == 0 and e["torch_agrees"],
                                  verdict_if(e["max_step_over_lr_1e-6"] <= 2, Verdict(HOLDS),
                                             Verdict(CAVEAT, "ε = 10⁻⁶ removes the inf/NaN but not the cause: "
                                                             "(1 − β₂)g² underflows, v = 0, and the step becomes "
                                                             "η·m̂/ε, up to "
                                                             f"{e['max_step_over_lr_1e-6']:.0f}× η here (float32 "
                                                             f"states: {e['max_step_over_lr_fp32']:.2f}× η); keeping "
                                                             "the optimizer state in fp32 is the fix")),
                                  Verdict(NOT_HERE, "ε or the update behaves differently in fp16")))
def fp16_adam_epsilon() -> dict:
    grads = np.array([1e-4, 1e-3, 3e-3, 1e-2, 0.0])
    evidence = {"eps_1e-8_in_fp16": float(np.float16(1e-8)), "eps_1e-6_in_fp16": float(np.float16(1e-6)),
                "torch_agrees": True}
    for eps, name in ((1e-8, "1e-8"), (1e-6, "1e-6")):
        step = fp16_adam_first_step(eps, grads)
        evidence["torch_agrees"] &= bool(np.array_equal(np.isfinite(step["ours"]), np.isfinite(step["torch"])))
        evidence[f"nonfinite_{name}"] = int(np.sum(~np.isfinite(step["ours"])))
        evidence[f"v_zero_fraction_{name}"] = float(np.mean(step["v"] == 0))
        finite = {who: step[who][np.isfinite(step[who])] for who in ("ours", "torch")}
        evidence[f"max_step_over_lr_{name}"] = float(np.max(np.abs(finite["ours"]))) / 1e-3
        evidence[f"max_step_over_lr_{name}_torch"] = float(np.max(np.abs(finite["torch"]))) / 1e-3
    fp32_step = fp16_adam_first_step(1e-8, grads, dtype=np.float32)["ours"]
    evidence["max_step_over_lr_fp32"] = float(np.max(np.abs(fp32_step))) / 1e-3
    return evidence


def clipped_update_norms(true_norms, *, unscale_first: bool, max_norm: float = 1.0, scale: float = 2.0**16) -> list:
    """‖Δθ‖ of one SGD(lr = 1) step per gradient of the given true norms, the loss scaled by ``scale``:
    ``guarded_step`` (unscale, then clip) or clipping the scaled gradient before ``scaler.step``."""
    norms = []
    for true_norm in true_norms:
        param = Parameter(np.zeros(8, dtype=np.float32))
        direction = np.random.default_rng(0).normal(size=8).astype(np.float32)
        param.grad = np.float32(scale * true_norm) * direction / np.linalg.norm(direction)  # S·g
        optimizer, scaler = SGD([param], lr=1.0), GradScaler(init_scale=scale)
        if unscale_first:
            guarded_step(optimizer, scaler=scaler, max_grad_norm=max_norm)
        else:
            clip_grad_norm_([param], max_norm)
            scaler.step(optimizer)
            scaler.update()
        norms.append(float(np.linalg.norm(param.data)))
    return norms


def torch_clipped_norms(true_norms, max_norm: float = 1.0) -> list:
    """‖g‖ after ``torch.nn.utils.clip_grad_norm_`` on the true (unscaled) gradients."""
    norms = []
    for true_norm in true_norms:
        weight = torch.zeros(8, requires_grad=True)
        weight.grad = torch.full((8,), true_norm / 8**0.5)
        torch.nn.utils.clip_grad_norm_([weight], max_norm)
        norms.append(float(weight.grad.norm()))
    return norms


@claim(27, "Clip after unscaling; clipping before unscaling clips the wrong norm", kind="N", topic="numerics",
       criterion="true gradient norms 0.5 and 5, loss scale 2¹⁶, max_norm 1: unscale-then-clip (guarded_step) "
                 "gives step norms 0.5 and 1 (torch's clip_grad_norm_ on the true gradient: the same, to 10⁻⁶); "
                 "clip-then-unscale gives 1/2¹⁶ for both (to 10⁻⁶ relative)",
       scale="one float32 parameter of 8 elements, SGD(lr = 1), GradScaler(init_scale = 2¹⁶)",
       judge=lambda e: verdict_if(np.allclose(e["unscale_then_clip"], e["torch"], rtol=1e-6)
                                  and np.allclose(e["unscale_then_clip"], [0.5, 1.0], rtol=1e-6)
                                  and np.allclose(e["clip_then_unscale"], 2.0**-16, rtol=1e-6),
                                  Verdict(HOLDS, "clipping the scaled gradient compares S‖g‖ with max_norm, i.e. "
                                                 "clips the true gradient at max_norm/S: every step shrank to "
                                                 f"{e['clip_then_unscale'][0]:.2e}, whatever the true norm"),
                                  Verdict(NOT_HERE, "the order of unscaling and clipping did not matter")))
def clip_after_unscale() -> dict:
    true_norms = [0.5, 5.0]
    return {"true_norms": true_norms,
            "unscale_then_clip": clipped_update_norms(true_norms, unscale_first=True),
            "clip_then_unscale": clipped_update_norms(true_norms, unscale_first=False),
            "torch": torch_clipped_norms(true_norms)}
