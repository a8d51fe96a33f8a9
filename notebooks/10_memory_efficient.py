# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Notebook 10: memory-efficient optimizers
#
# The executable companion of chapter 10: Adafactor's factored second moment, 8-bit blockwise
# states, Adam-mini's block-wise second moment, and the measured bytes per parameter of every
# optimizer. Every number quoted in the chapter is computed (and checked) here.

# %%
import bitsandbytes.functional as bnb
import numpy as np
import torch
from IPython.display import Markdown, display

from optimlab import Parameter
from optimlab.optim import Adafactor, AdamMini, AdamW8bit
from optimlab.optim.adam8bit import SIGNED_MAP, UNSIGNED_MAP, create_dynamic_map, dequantize_blockwise, quantize_blockwise
from optimlab.optim.adam_mini import adam_mini_blocks
from optimlab.optim.memory import markdown_table, state_bytes_table
from optimlab.plots import glue, memory, show
from optimlab.verify import run_torch_parity
from optimlab.verify.oracle_cases import oracle_cases
from optimlab.verify.quantised import bnb_dequantize, bnb_quantize
from optimlab.verify.torch_cases import EXTRA_CONFIGS

np.set_printoptions(precision=4, suppress=True)
rng = np.random.default_rng(0)

# %% [markdown]
# ## The measured table
#
# Every exported optimizer, one step on a float32 model of a 256×512 weight and a 512 bias
# (`optimlab.optim.memory.state_bytes_table`: `state_bytes()` sums the `nbytes` of the real arrays).

# %%
rows = {row.optimizer: row for row in state_bytes_table()}
display(Markdown(markdown_table(list(rows.values()))))
per_parameter = {name: row.bytes_per_parameter for name, row in rows.items()}
for name in ("AdamW", "Lion", "AdamMini", "AdamW8bit", "Adafactor", "Shampoo", "LBFGS"):
    glue(f"bytes_{name}", per_parameter[name])
eight_bit_saving = glue("eight_bit_saving", 1 - per_parameter["AdamW8bit"] / per_parameter["AdamW"])
print(f"AdamW {per_parameter['AdamW']:.2f} B/param, AdamW8bit {per_parameter['AdamW8bit']:.3f} "
      f"({eight_bit_saving:.1%} less), Adafactor {per_parameter['Adafactor']:.3f}, AdamMini {per_parameter['AdamMini']:.3f}")
assert per_parameter["AdamW"] == 8.0 and per_parameter["Lion"] == 4.0
glue("seven_b_adamw_gb", 7e9 * per_parameter["AdamW"] / 1e9)

# %%
show(memory.memory_bytes_per_parameter(list(rows.values())))

# %% [markdown]
# ## Adafactor's factored second moment
#
# For $V = G^2$ (elementwise) keep the row means $R$ and column means $C$ only;
# $\hat V = R\,C / \mathrm{mean}(R)$.

# %%
def factored_second_moment(squared):
    """Adafactor's rank-one estimate of a matrix of squared gradients (teaching version)."""
    rows_mean = squared.mean(axis=1, keepdims=True)  # R: one number per row
    cols_mean = squared.mean(axis=0, keepdims=True)  # C: one number per column
    return rows_mean * cols_mean / rows_mean.mean()


G = rng.normal(size=(6, 8))
param = Parameter(np.zeros((6, 8)))
optimizer = Adafactor([param])
param.grad = G
optimizer.step()  # at t = 1, 1 − β̂₂ = 1^τ = 1: the state holds this step's means exactly
state = optimizer.state[param]
library_estimate = state["row_var"] * state["col_var"] / state["row_var"].mean()
adafactor_inline_error = glue("adafactor_inline_error", np.abs(factored_second_moment(G * G) - library_estimate).max())
print("max |teaching factored V - optimlab Adafactor's R C / mean(R)|:", adafactor_inline_error)
assert adafactor_inline_error <= 1e-15

# %% [markdown]
# Exact when $G^2$ has rank one ($G^2_{ij} = a_i b_j$); an approximation otherwise.

# %%
a, b = rng.uniform(0.1, 2.0, size=(6, 1)), rng.uniform(0.1, 2.0, size=(1, 8))
rank_one = a * b
rank_one_error = glue("rank_one_error", np.abs(factored_second_moment(rank_one) - rank_one).max() / rank_one.max())
random_error = glue("random_error", np.median(np.abs(factored_second_moment(G * G) - G * G) / (G * G)))
print(f"rank-one G²: relative error {rank_one_error:.1e}; Gaussian G: median relative error {random_error:.2f}")
assert rank_one_error <= 1e-15 and random_error > 0.1

# %% [markdown]
# Against `torch.optim.Adafactor` (float64, parameters and `row_var`/`col_var`/`variance` after each
# of 50 steps):

# %%
adafactor_errors = []
for config in [{}] + EXTRA_CONFIGS["Adafactor"]:
    result = run_torch_parity(Adafactor, torch.optim.Adafactor, config)
    print(f"Adafactor({config}): {result.error:.1e}")
    assert result.ok(1e-12), result
    adafactor_errors.append(result.error)
adafactor_torch_error = glue("adafactor_torch_error", max(adafactor_errors))

# %% [markdown]
# The T5/optax form, `Adafactor(convention="optax")`, against `optax.adafactor` (JAX in float64; its
# decay schedule is computed in float32, so the state agrees to about a float32 ulp):

# %%
adafactor_optax_cases = oracle_cases(["Adafactor"])
adafactor_optax_errors = [case.run().error for case in adafactor_optax_cases]
for case, error in zip(adafactor_optax_cases, adafactor_optax_errors):
    print(f"{case}: {error:.1e}")
adafactor_optax_error = glue("adafactor_optax_error", max(adafactor_optax_errors))
assert adafactor_optax_error <= adafactor_optax_cases[0].tolerance

# %% [markdown]
# ## 8-bit states: the dynamic map and blockwise quantisation
#
# 256 code values in $[-1, 1]$ (signed) or $[0, 1]$ (unsigned); each block of 256 elements stores its
# absolute maximum in float32 and one byte per element: the index of the nearest code of $x/\max|x|$.

# %%
map_error = glue("map_error", max(np.abs(create_dynamic_map(signed) - bnb.create_dynamic_map(signed).numpy()).max()
                                  for signed in (True, False)))
print("max |optimlab map - bitsandbytes map| (signed and unsigned):", map_error)
assert map_error == 0.0
positive = np.sort(SIGNED_MAP[SIGNED_MAP > 0])
glue("smallest_code", positive[0])
print(f"{SIGNED_MAP.size} codes; smallest positive {positive[0]:.2e}, largest gap {np.diff(positive).max():.4f}")


def quantize_inline(values, code, blocksize=256):
    """Blockwise nearest-code quantisation (teaching version; ties go to the lower code)."""
    blocks = values.reshape(-1, blocksize)
    absmax = np.abs(blocks).max(axis=1)
    normed = blocks / absmax[:, None]
    codes = np.abs(normed[:, :, None] - code[None, None, :]).argmin(axis=2)
    return codes.astype(np.uint8).reshape(values.shape), absmax.astype(np.float32)


moments = (rng.standard_normal(4096) * np.exp(rng.uniform(-8, 0, 4096))).astype(np.float32)
codes, absmax = quantize_blockwise(moments, SIGNED_MAP)
inline_codes, inline_absmax = quantize_inline(moments, SIGNED_MAP)
bnb_codes, bnb_absmax = bnb_quantize(moments, SIGNED_MAP)
quantize_mismatch = glue("quantize_mismatch", int((codes != inline_codes).sum() + (codes != bnb_codes).sum()))
print("codes differing from the teaching version or bitsandbytes:", quantize_mismatch)
assert quantize_mismatch == 0 and np.array_equal(absmax, bnb_absmax) and np.allclose(absmax, inline_absmax, rtol=0)
restored = dequantize_blockwise(codes, absmax, SIGNED_MAP)
assert np.array_equal(restored, bnb_dequantize(codes, absmax, SIGNED_MAP).numpy())
block_error = np.abs(restored - moments).reshape(-1, 256).max(axis=1) / absmax
quantisation_error = glue("quantisation_error", block_error.max())
half_gap = glue("half_gap", np.diff(np.sort(SIGNED_MAP)).max() / 2)
print(f"worst error / block absmax: {quantisation_error:.4f} (half the largest code gap: {half_gap:.4f})")
assert quantisation_error <= half_gap + 1e-7

# %% [markdown]
# Each 8-bit step against bitsandbytes' dequantisation of our state, one float32 torch Adam/AdamW
# step and bitsandbytes' quantisation (`optimlab.verify.quantised`, as `optimlab verify` runs it):

# %%
eight_bit_cases = oracle_cases(["Adam8bit", "AdamW8bit"])
eight_bit_errors = []
for case in eight_bit_cases:
    result = case.run(steps=20)
    print(f"{case}: params {result.param_error:.1e}, block maxima {result.state_error:.1e}, {result.problems or 'codes ok'}")
    assert result.ok(case.tolerance), result
    eight_bit_errors.append(result.param_error)
eight_bit_param_error = glue("eight_bit_param_error", max(eight_bit_errors))

# %% [markdown]
# ## Adam-mini: one second moment per block
#
# The blocks come from parameter names (adam-mini's rules): a bias is Adam, a query/key matrix one
# block per head, an MLP or value matrix one block per output row, anything else one block.

# %%
blocks = {name: adam_mini_blocks(name, shape, dim=512, n_heads=8) for name, shape in
          [("layer.attn.q_proj.weight", (512, 512)), ("layer.mlp.weight", (2048, 512)),
           ("layer.mlp.bias", (2048,)), ("ln_f.gain", (512,))]}
print(blocks)
assert blocks == {"layer.attn.q_proj.weight": 8, "layer.mlp.weight": 2048, "layer.mlp.bias": 2048, "ln_f.gain": 1}

param = Parameter(np.zeros((4, 6)), name="mlp.weight")
optimizer = AdamMini([param], lr=0.01)
vmean_inline = np.zeros(4)
for g in rng.normal(size=(5, 4, 6)):
    param.grad = g
    optimizer.step()
    vmean_inline = 0.999 * vmean_inline + 0.001 * (g * g).mean(axis=1)  # v_b ← β₂v_b + (1 − β₂) mean_b g²
adam_mini_inline_error = glue("adam_mini_inline_error", np.abs(optimizer.state[param]["vmean"] - vmean_inline).max())
print("max |teaching per-row v - optimlab AdamMini vmean|:", adam_mini_inline_error)
assert adam_mini_inline_error <= 1e-15

# %%
adam_mini_cases = oracle_cases(["AdamMini"])
adam_mini_errors = [case.run().error for case in adam_mini_cases]
for case, error in zip(adam_mini_cases, adam_mini_errors):
    print(f"{case}: {error:.1e}")
adam_mini_oracle_error = glue("adam_mini_oracle_error", max(adam_mini_errors))
assert adam_mini_oracle_error <= 1e-12

# %% [markdown]
# ## Training with less memory
#
# The digits MLP (100 mini-batch steps, the same batches for every optimizer).

# %%
runs = {name: memory.train_digits(name) for name in memory.DIGITS_RUNS}
for name, (losses, test) in runs.items():
    print(f"{name:10s} last-10-step train loss {losses[-10:].mean():.4f}, test accuracy {test['accuracy']:.3f}")
    glue(f"digits_accuracy_{name}", test["accuracy"])
eight_bit_gap = glue("eight_bit_gap", np.abs(runs["AdamW8bit"][0] - runs["AdamW"][0]).max())
print("largest per-step |loss(AdamW8bit) - loss(AdamW)|:", eight_bit_gap)
assert eight_bit_gap < 0.05 and all(test["accuracy"] > 0.9 for _, test in runs.values())

# %%
show(memory.memory_training_curves(runs))

# %% [markdown]
# ## Exercises: the answers, checked
#
# **1.** A 7-billion-parameter model: AdamW's fp32 states take $7\cdot10^9 \times 8$ B = 56 GB; 8-bit
# states (tensors of 4096+ elements) $7\cdot10^9 \times (2 + 8/256)$ B ≈ 14.2 GB.

# %%
param = Parameter(np.zeros((64, 128), dtype=np.float32))
optimizer = AdamW8bit([param])
param.grad = np.ones((64, 128), dtype=np.float32)
optimizer.step()
assert optimizer.state_bytes_per_parameter() == 2 + 8 / 256
print("exercise 1:", 7e9 * 8 / 1e9, "GB and", 7e9 * optimizer.state_bytes_per_parameter() / 1e9, "GB")

# %% [markdown]
# **2.** Adafactor on a 4096×4096 matrix keeps $4096 + 4096 = 8192$ numbers against Adam's
# $2\cdot 4096^2 \approx 33.6$ M. Measured on 40×70: $40 + 70$.

# %%
param = Parameter(np.zeros((40, 70)))
optimizer = Adafactor([param])
param.grad = np.ones((40, 70))
optimizer.step()
assert optimizer.state_bytes() == 8 * (40 + 70)
print("exercise 2: Adafactor state numbers for 40x70 =", optimizer.state_bytes() // 8)

# %% [markdown]
# **3.** Adam-mini on a 4096×4096 query projection with 32 heads keeps 32 second-moment numbers.

# %%
assert adam_mini_blocks("model.layers.0.self_attn.q_proj.weight", (4096, 4096), dim=4096, n_heads=32) == 32
print("exercise 3: 32 blocks")
