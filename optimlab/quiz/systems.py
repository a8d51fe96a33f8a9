"""Questions on optimizer memory, low-precision numerics (fp16, loss scaling, clipping) and the GPU
cost of a step; the byte counts are measured on the real optimizers' arrays."""

from __future__ import annotations

import numpy as np

from optimlab.optim import SGD, Adafactor, Adam, Adam8bit, AdamMini, AdamW, AdamW8bit, Lion, Shampoo
from optimlab.optim.adam import adam_init, adam_update
from optimlab.optim.memory import state_bytes_per_parameter, stepped_optimizer
from optimlab.parameter import Parameter
from optimlab.quiz.bank import letter, question
from optimlab.quiz.probes import step_bytes_per_parameter
from optimlab.training import GradScaler, MasterWeights, clip_grad_norm_

GB = 1e9


# -- memory --------------------------------------------------------------------------------------

@question("memory", "numeric",
          "A model with {billions} billion parameters trained with AdamW in fp32. How many GB (10⁹ bytes) do the "
          "optimizer's states take, on top of the weights and gradients?",
          "AdamW keeps two fp32 moments, m and v: optimlab's AdamW holds {per_parameter:g} bytes of state per "
          "parameter (measured from its arrays), so {billions} billion parameters need {answer:.4g} GB of state, "
          "plus {weights:.4g} GB of fp32 weights and as much again for the gradients.",
          params=dict(billions=7.0))
def adamw_state_memory(billions):
    per_parameter = state_bytes_per_parameter(AdamW)
    return {"answer": per_parameter * billions, "per_parameter": per_parameter,
            "weights": np.dtype(np.float32).itemsize * billions}


@question("memory", "numeric",
          "A {billions}-billion-parameter model trained with 8-bit Adam (blockwise quantised m and v, block size "
          "{blocksize}). How many GB do the optimizer's states take?",
          "Each moment is one uint8 code per parameter plus one fp32 maximum per block: optimlab's Adam8bit holds "
          "{per_parameter:.5g} bytes per parameter, {answer:.4g} GB in all, {saving:.1%} less than fp32 Adam's "
          "{full:.4g} GB.",
          params=dict(billions=7.0, blocksize=256))
def adam8bit_state_memory(billions, blocksize):
    per_parameter = state_bytes_per_parameter(Adam8bit, (1 << 16,), blocksize=blocksize)
    full = state_bytes_per_parameter(Adam)
    return {"answer": per_parameter * billions, "per_parameter": per_parameter, "full": full * billions,
            "saving": 1 - per_parameter / full}


@question("memory", "numeric",
          "A {billions}-billion-parameter model trained with Lion in fp32. How many GB do the optimizer's states take?",
          "Lion keeps one momentum and no second moment: optimlab's Lion holds {per_parameter:g} bytes per "
          "parameter, {answer:.4g} GB, half of AdamW's {adamw:.4g} GB.",
          params=dict(billions=1.5))
def lion_state_memory(billions):
    per_parameter = state_bytes_per_parameter(Lion)
    return {"answer": per_parameter * billions, "per_parameter": per_parameter,
            "adamw": state_bytes_per_parameter(AdamW) * billions}


@question("memory", "numeric",
          "An fp32 weight matrix of {rows}×{cols}. How many times less state does Adafactor keep for it than Adam?",
          "Adafactor factors the second moment into a row vector and a column vector (n + m numbers) and keeps no "
          "first moment; Adam keeps 2nm numbers. Measured on optimlab's optimizers: {adam_bytes} bytes against "
          "{adafactor_bytes}, a factor {answer:.5g}.",
          params=dict(rows=256, cols=1024))
def adafactor_state_saving(rows, cols):
    adam_bytes = stepped_optimizer(Adam, (rows, cols))[0].state_bytes()
    adafactor_bytes = stepped_optimizer(Adafactor, (rows, cols))[0].state_bytes()
    return {"answer": adam_bytes / adafactor_bytes, "adam_bytes": adam_bytes, "adafactor_bytes": adafactor_bytes}


@question("memory", "numeric",
          "Shampoo on an fp32 {rows}×{cols} weight matrix. How many bytes of state does it keep per parameter?",
          "Shampoo keeps, per dimension, the statistic H and its inverse root, n×n and m×m matrices: 2(n² + m²) "
          "numbers against nm parameters. optimlab's Shampoo measures {answer:.4g} bytes per parameter; a square "
          "{rows}×{rows} matrix pays {square:.4g}, an elongated one far more.",
          params=dict(rows=8, cols=64))
def shampoo_state_memory(rows, cols):
    return {"answer": state_bytes_per_parameter(Shampoo, (rows, cols)),
            "square": state_bytes_per_parameter(Shampoo, (rows, rows))}


@question("memory", "choice",
          "Which keeps the least optimizer state for an fp32 {rows}×{cols} weight matrix?",
          "Measured bytes of state per parameter on optimlab's optimizers: AdamW {adamw:.4g}, Lion {lion:.4g}, "
          "SGD with momentum {sgd:.4g}, Adam-mini {adam_mini:.4g}, Adafactor {adafactor:.4g}.",
          params=dict(rows=512, cols=512),
          choices=("AdamW", "Lion", "SGD with momentum", "Adam-mini", "Adafactor"))
def least_state(rows, cols):
    measured = {
        "adamw": state_bytes_per_parameter(AdamW, (rows, cols)),
        "lion": state_bytes_per_parameter(Lion, (rows, cols)),
        "sgd": state_bytes_per_parameter(SGD, (rows, cols), lr=0.1, momentum=0.9),
        "adam_mini": state_bytes_per_parameter(AdamMini, (rows, cols), name="layers.0.mlp.weight"),
        "adafactor": state_bytes_per_parameter(Adafactor, (rows, cols)),
    }
    return {"answer": letter(int(np.argmin(list(measured.values())))), **measured}


@question("memory", "choice",
          "You fine-tune a {billions}-billion-parameter model on one GPU with {budget} GB, keeping fp32 weights and "
          "fp32 gradients. Which optimizer's state still fits (ignore activations)?",
          "Weights and gradients take {base:.4g} GB. Adding the optimizer state measured on optimlab's optimizers "
          "(bytes per parameter × {billions} billion): AdamW needs {adamw:.4g} GB in all, Lion {lion:.4g} GB, "
          "AdamW8bit {adam8bit:.4g} GB. Only the one below {budget} GB fits; it keeps Adam's update with about a quarter "
          "of the state.",
          params=dict(billions=7.0, budget=80.0),
          choices=("AdamW", "Lion", "8-bit AdamW"))
def optimizer_for_a_memory_budget(billions, budget):
    base = 2 * np.dtype(np.float32).itemsize * billions  # fp32 weights and gradients, GB
    totals = {name: base + state_bytes_per_parameter(optimizer_cls, (1 << 16,)) * billions
              for name, optimizer_cls in (("adamw", AdamW), ("lion", Lion), ("adam8bit", AdamW8bit))}
    fits = [i for i, total in enumerate(totals.values()) if total <= budget]
    assert len(fits) == 1
    return {"answer": letter(fits[0]), "base": base, **totals}


# -- numerics: fp16, loss scaling, clipping ------------------------------------------------------

@question("numerics", "numeric",
          "A gradient of {grad} is computed in fp16. What is the smallest k such that scaling the loss by 2^k keeps "
          "it from underflowing to zero?",
          "fp16's smallest positive (subnormal) number is {tiny:.3g}; without scaling the gradient rounds to "
          "{unscaled:g}. Loss scaling multiplies every gradient by S = 2^k: with optimlab's GradScaler(init_scale = "
          "2^k), k = {answer} is the first that survives (S·g = {survives:.4g} in fp16), and unscaling in fp32 "
          "gives back {recovered:.4g}.",
          params=dict(grad=1e-9), rtol=0.0)
def loss_scale_power(grad):
    k = 0
    while np.float16(GradScaler(init_scale=2.0**k).scale(grad)) == 0:
        k += 1
    scale = GradScaler(init_scale=2.0**k).get_scale()
    survives = np.float16(grad * scale)
    return {"answer": k, "tiny": float(np.finfo(np.float16).smallest_subnormal), "unscaled": float(np.float16(grad)),
            "survives": float(survives), "recovered": float(np.float32(survives) / np.float32(scale))}


@question("numerics", "short",
          "Adam runs with its moments and arithmetic in fp16 and ε = {eps}; a coordinate's gradient is {grad}. What "
          "goes wrong on the first step, and how do you fix it?",
          "In fp16, ε = {eps} rounds to {eps_fp16:g} and v₁ = (1 − β₂)g² = {v1:g} underflows, so the denominator "
          "√v̂ + ε is zero and the step divides m̂ by zero: optimlab's adam_update on fp16 arrays leaves θ = "
          "{theta_bad:g}. With ε = {eps_fix} (representable in fp16 as {eps_fix_fp16:.3g}) θ = {theta_fixed:.4g}, "
          "finite. The real fix is fp32 optimizer state (master weights), which is what mixed precision does.",
          params=dict(eps=1e-8, grad=1e-4, eps_fix=1e-6),
          keywords=(("inf", "nan", "divide", "division", "overflow"), ("eps", "ε", "fp32", "float32", "master")))
def fp16_adam_epsilon(eps, grad, eps_fix):
    thetas = []
    for epsilon in (eps, eps_fix):
        param = np.zeros(1, dtype=np.float16)
        state = adam_init(param)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            adam_update(param, np.full(1, grad, dtype=np.float16), state, lr=1e-3, eps=epsilon)
        thetas.append(float(param[0]))
        v1 = float(state["exp_avg_sq"][0])
    return {"answer": "", "eps_fp16": float(np.float16(eps)), "v1": v1, "theta_bad": thetas[0],
            "theta_fixed": thetas[1], "eps_fix_fp16": float(np.float16(eps_fix))}


@question("numerics", "numeric",
          "Gradients with true norm {true_norm} are scaled by S = {scale} for fp16. You clip to max_norm = {max_norm} "
          "before unscaling, then unscale. What is the gradient norm the optimizer sees?",
          "Clipping the scaled gradients sees norm S·{true_norm} and cuts them to {max_norm}; unscaling then divides "
          "by S: optimlab's clip_grad_norm_ and GradScaler.unscale_ leave norm {answer:.4g}, not {max_norm}. Unscale "
          "first (scaler.unscale_), then clip: that order gives {right_order:.4g}.",
          params=dict(true_norm=10.0, scale=65536.0, max_norm=1.0))
def clip_before_unscale(true_norm, scale, max_norm):
    norms = []
    for clip_first in (True, False):
        param = Parameter(np.zeros(4, dtype=np.float32))
        optimizer = SGD([param], lr=0.1)
        scaler = GradScaler(init_scale=scale)
        param.grad = np.full(4, scaler.scale(true_norm / 2), dtype=np.float32)  # ‖g‖ = true_norm, scaled
        if clip_first:
            clip_grad_norm_([param], max_norm)
        scaler.unscale_(optimizer)
        if not clip_first:
            clip_grad_norm_([param], max_norm)
        norms.append(float(np.linalg.norm(param.grad)))
    return {"answer": norms[0], "right_order": norms[1]}


@question("numerics", "numeric",
          "clip_grad_norm_ with max_norm = {max_norm} on gradients whose total norm is {total_norm}. By what factor is "
          "every gradient multiplied?",
          "torch's rule: multiply by max_norm/(‖g‖ + δ) when that is below 1, with δ = {delta:.2g}; optimlab's "
          "clip_grad_norm_ returned "
          "the norm {returned:.6g} and scaled the gradients by {answer:.6g}, so the clipped norm is {clipped:.6g}. "
          "All gradients share one factor: the direction is kept.",
          params=dict(max_norm=1.0, total_norm=8.0))
def clip_factor(max_norm, total_norm):
    grads = [np.full(4, total_norm / 4), np.full(12, total_norm / 4)]  # ‖g‖² = 16·(total/4)² = total²
    params = [Parameter(np.zeros_like(g)) for g in grads]
    for p, g in zip(params, grads):
        p.grad = g.copy()
    returned = clip_grad_norm_(params, max_norm)
    factor = float(params[0].grad[0] / grads[0][0])
    clipped = float(np.sqrt(sum(np.sum(p.grad**2) for p in params)))
    return {"answer": factor, "returned": returned, "clipped": clipped, "delta": max_norm / factor - returned}


@question("numerics", "numeric",
          "A GradScaler starts at S = {init_scale} (backoff {backoff}, growth {growth}, growth_interval {interval}). "
          "Two steps overflow, then {good} steps are finite. What is the scale now?",
          "Each overflowing step is skipped and multiplies S by the backoff; every growth_interval finite steps in "
          "a row multiply it by the growth factor. optimlab's GradScaler went {history} and ends at {answer:g}.",
          params=dict(init_scale=65536.0, backoff=0.5, growth=2.0, interval=3, good=5))
def grad_scaler_dynamics(init_scale, backoff, growth, interval, good):
    param = Parameter(np.zeros(2, dtype=np.float32))
    optimizer = SGD([param], lr=0.1)
    scaler = GradScaler(init_scale=init_scale, growth_factor=growth, backoff_factor=backoff, growth_interval=interval)
    history = [scaler.get_scale()]
    for finite in [False, False] + [True] * good:
        param.grad = np.array([1.0, 1.0 if finite else np.inf], dtype=np.float32)
        scaler.step(optimizer)
        scaler.update()
        history.append(scaler.get_scale())
    return {"answer": history[-1], "history": " → ".join(f"{s:g}" for s in history)}


@question("numerics", "choice",
          "A weight stored in fp16 equals {weight}; SGD takes {steps} steps of size {update} on it. With fp32 master "
          "weights and without, where does it end up?",
          "fp16 has {fraction_bits} fraction bits, so near {weight} its spacing is {spacing:.3g} and an update of {update} rounds "
          "away: stepping the fp16 weight directly leaves it at {direct:.6g}. optimlab's MasterWeights steps an fp32 "
          "copy (spacing {spacing32:.3g}), which accumulates the updates and ends at {master:.6g} in the model.",
          params=dict(weight=1.0, steps=100, update=1e-4),
          choices=("both move by about steps × update", "only the master-weight run moves",
                   "neither moves: the updates are below fp16's resolution"))
def fp16_master_weights(weight, steps, update):
    direct = Parameter(np.full(1, weight, dtype=np.float16))
    direct_optimizer = SGD([direct], lr=update)
    model = Parameter(np.full(1, weight, dtype=np.float16))
    master = MasterWeights([model])
    master_optimizer = SGD(master.master_params, lr=update)
    for _ in range(steps):
        direct.grad = np.ones(1, dtype=np.float16)
        direct_optimizer.step()
        model.grad = np.ones(1, dtype=np.float16)
        master.step(master_optimizer)
    moved = [float(direct.data[0]) != weight, float(model.data[0]) != weight]
    pick = 0 if all(moved) else 1 if moved[1] else 2
    return {"answer": letter(pick), "direct": float(direct.data[0]), "master": float(model.data[0]),
            "spacing": float(np.spacing(np.float16(weight))), "spacing32": float(np.spacing(np.float32(weight))),
            "fraction_bits": np.finfo(np.float16).nmant}


# -- the GPU: bytes per step ---------------------------------------------------------------------

@question("gpu", "numeric",
          "An AdamW step in fp32 on a model with {millions} million parameters. How many GB does it read and write "
          "(the step is memory-bound, so this sets its time)?",
          "An elementwise AdamW step reads θ, g, m, v and writes θ, m, v once each: optimlab's AdamW arrays add up "
          "to {per_parameter:g} bytes per parameter, so {answer:.4g} GB per step.",
          params=dict(millions=124.0))
def adamw_bytes_per_step(millions):
    per_parameter = step_bytes_per_parameter(AdamW)
    return {"answer": per_parameter * millions * 1e6 / GB, "per_parameter": per_parameter}


@question("gpu", "numeric",
          "An fp32 AdamW step on {millions} million parameters, on a GPU whose memory moves {bandwidth} GB/s. What is "
          "the shortest possible step time in milliseconds?",
          "The step moves {per_parameter:g} bytes per parameter (measured on optimlab's AdamW arrays), {gigabytes:.4g} "
          "GB in all; at {bandwidth} GB/s that takes at least {answer:.4g} ms. A fused kernel over flat buffers can "
          "come close to this; one kernel per tensor or per operation cannot.",
          params=dict(millions=124.0, bandwidth=3000.0))
def adamw_step_time(millions, bandwidth):
    per_parameter = step_bytes_per_parameter(AdamW)
    gigabytes = per_parameter * millions * 1e6 / GB
    return {"answer": gigabytes / bandwidth * 1e3, "per_parameter": per_parameter, "gigabytes": gigabytes}


@question("gpu", "numeric",
          "A model with {millions} million parameters: how many more GB does one fp32 AdamW step read and write than "
          "one step of SGD with momentum?",
          "SGD with momentum reads θ, g, b and writes θ, b: {sgd:g} bytes per parameter; AdamW adds the second "
          "moment: {adamw:g} bytes (both measured on optimlab's arrays), so AdamW moves {answer:.4g} GB more per "
          "step, {ratio:.4g} times as much.",
          params=dict(millions=350.0))
def adamw_over_sgd_bytes(millions):
    sgd = step_bytes_per_parameter(SGD, lr=0.1, momentum=0.9)
    adamw = step_bytes_per_parameter(AdamW)
    return {"answer": (adamw - sgd) * millions * 1e6 / GB, "sgd": sgd, "adamw": adamw, "ratio": adamw / sgd}


@question("gpu", "numeric",
          "8-bit Adam (block size {blocksize}) with fp32 weights and gradients, on {millions} million parameters. "
          "How many GB does one step read and write?",
          "θ and g stay fp32 ({fp32} bytes each); each moment is a uint8 code plus one fp32 maximum per block. "
          "Reading θ, g and both moments and writing θ and both moments: {per_parameter:.5g} bytes per parameter "
          "(optimlab's Adam8bit arrays), {answer:.4g} GB per step, against {adamw:g} bytes per parameter for fp32 "
          "AdamW.",
          params=dict(blocksize=256, millions=350.0))
def adam8bit_bytes_per_step(blocksize, millions):
    per_parameter = step_bytes_per_parameter(Adam8bit, (1 << 16,), blocksize=blocksize)
    return {"answer": per_parameter * millions * 1e6 / GB, "per_parameter": per_parameter,
            "adamw": step_bytes_per_parameter(AdamW), "fp32": np.dtype(np.float32).itemsize}


@question("gpu", "numeric",
          "AdamW with everything (θ, g, m, v) stored in {dtype}, on {millions} million parameters. How many GB does "
          "one step read and write?",
          "Seven array accesses per parameter (read θ, g, m, v; write θ, m, v) at {itemsize} bytes each: "
          "{per_parameter:g} bytes per parameter (optimlab's AdamW on {dtype} arrays, which computes in fp32 inside "
          "the kernel), {answer:.4g} GB per step.",
          params=dict(dtype="float16", millions=350.0))
def adamw_low_precision_bytes(dtype, millions):
    per_parameter = step_bytes_per_parameter(AdamW, dtype=np.dtype(dtype))
    return {"answer": per_parameter * millions * 1e6 / GB, "per_parameter": per_parameter,
            "itemsize": np.dtype(dtype).itemsize}
