r"""8-bit Adam and AdamW: Adam whose two moments are stored as 8-bit codes with one scale per block
(blockwise dynamic quantisation, Dettmers et al., 2022), as bitsandbytes' ``Adam8bit``/``AdamW8bit``.

Storage. A state tensor :math:`s` is cut into blocks of :math:`B` consecutive elements (the last one
may be shorter); each block keeps its absolute maximum :math:`a_b = \max_{i\in b}|s_i|` (float32)
and each element one byte, the index :math:`q_i` of the entry of a fixed 256-value *map*
:math:`c` nearest to the normalised value:

.. math::
    q_i = \operatorname*{arg\,min}_k\, \big|c_k - s_i\,(1/a_b)\big| \quad\text{(ties to the lower index)},
    \qquad \tilde s_i = c_{q_i}\, a_b .

The map is bitsandbytes' *dynamic* data type (``create_dynamic_map``): after a sign bit, the number
of leading zero bits is a decimal exponent :math:`10^{-e}` (0 ≤ e ≤ 6) and the remaining bits a
linear fraction, so relative precision is roughly uniform over seven decades. :math:`m` uses the
signed map, :math:`v \ge 0` the unsigned one (one more fraction bit).

Step. Dequantise, take one Adam step in the parameter's precision (``optimlab.optim.adam``, the
reference or its fused kernel), quantise the new moments:

.. math::
    m, v \leftarrow \tilde m_{t-1}, \tilde v_{t-1};\quad
    (\theta_t, m_t, v_t) = \mathrm{Adam}(\theta_{t-1}, g_t, m, v);\quad
    \tilde m_t, \tilde v_t \leftarrow \mathrm{quantise}(m_t), \mathrm{quantise}(v_t).

Conventions as bitsandbytes 0.50: block size 256 (older versions: 2048), parameters with fewer than
``min_8bit_size = 4096`` elements keep 32-bit moments (``exp_avg``/``exp_avg_sq``, the parameter's
dtype) and take a plain Adam step (through the kernels, all of a group's in one launch of
``ADAM32_KERNEL``); the scale multiplies by :math:`1/a_b` (its CUDA kernels; its
pure-PyTorch fallback divides in a final partial block); an all-zero block stores :math:`a_b = 0`.
Divergence: bitsandbytes' ``Adam8bit`` always decays *decoupled* (its update is AdamW's); here, as in
torch, ``Adam8bit`` adds L2 decay to the gradient unless ``decoupled_weight_decay=True``, and
``AdamW8bit`` decouples. bitsandbytes' native CPU ``quantize_blockwise`` is not used as the rule: its
binary search (BinSearch ``Direct2``) does not always return the nearest entry (measured: 0.16 % of
signed and 3 % of unsigned codes on Gaussian data, off by up to 7 entries). State keys:
``exp_avg_codes``/``exp_avg_absmax``, ``exp_avg_sq_codes``/``exp_avg_sq_absmax`` (bitsandbytes:
``state1``/``absmax1``, ``state2``/``absmax2``). Reference: Dettmers, Lewis, Shleifer, Zettlemoyer,
"8-bit Optimizers via Block-wise Quantization" (ICLR 2022); Dettmers (2016) for the dynamic type.
"""

from __future__ import annotations

import functools

import numpy as np

from optimlab.backend import cupy_module, get_array_module, is_cupy_array
from optimlab.kernels import use_fused
from optimlab.kernels.blockwise import CUDA_TYPES, BlockwiseKernel, PlanCache
from optimlab.optim.adam import ADAM_KERNEL, adam_fused, adam_init, adam_kernel_scalars, adam_update
from optimlab.optim.base import Optimizer
from optimlab.optim.hyperparams import betas, boolean, choice, integer, learning_rate, nonnegative

BLOCK_SIZES = (64, 128, 256, 512, 1024, 2048, 4096)
MIN_ABSMAX = np.float32(1e-38)


@functools.lru_cache(maxsize=None)
def _dynamic_map(signed: bool, max_exponent_bits: int, total_bits: int) -> np.ndarray:
    fraction_bits = total_bits - 1 - max_exponent_bits
    decades = [(e, 2 ** (e + fraction_bits + (0 if signed else 1))) for e in range(max_exponent_bits)]
    if fraction_bits > 0:  # all exponent bits zero: no indicator bit, a finer top decade
        decades.append((max_exponent_bits - 1, 2**fraction_bits - 1))
    values = [np.float32([0.0, 1.0])]
    for exponent, items in decades:
        boundaries = _linspace32(0.1, 1.0, items + 1)
        means = (boundaries[:-1] + boundaries[1:]) / np.float32(2)  # interval midpoints
        scaled = np.float32(10.0 ** (exponent - (max_exponent_bits - 1))) * means  # · 10^(−e)
        values += [scaled, -scaled] if signed else [scaled]
    code = np.concatenate(values)
    code = np.sort(np.concatenate([code, np.zeros(256 - code.size, np.float32)]))  # 256 entries, zero-padded
    code.setflags(write=False)
    return code


def _linspace32(start: float, end: float, steps: int) -> np.ndarray:
    """``torch.linspace`` in float32 on the CPU: the first half ``fma(step, i, start)``, the second
    ``fma(−step, steps − 1 − i, end)`` (a float64 product is exact for these operands)."""
    start32, end32 = np.float32(start), np.float32(end)
    step = np.float64((end32 - start32) / np.float32(steps - 1))
    index = np.arange(steps, dtype=np.float64)
    up = step * index + np.float64(start32)
    down = -step * (steps - 1 - index) + np.float64(end32)
    return np.where(index < steps // 2, up, down).astype(np.float32)


def create_dynamic_map(signed: bool = True, max_exponent_bits: int = 7, total_bits: int = 8) -> np.ndarray:
    """bitsandbytes' dynamic quantisation map: 256 sorted float32 values in [−1, 1] (signed) or
    [0, 1] (see the module docstring); ``2**total_bits`` of them are the type's, the rest zeros (as
    bitsandbytes pads). Read-only, cached."""
    if not 1 <= max_exponent_bits < total_bits <= 8:
        raise ValueError(f"need 1 <= max_exponent_bits < total_bits <= 8, got {max_exponent_bits}, {total_bits}")
    return _dynamic_map(bool(signed), int(max_exponent_bits), int(total_bits))


def code_midpoints(code, xp=np):
    """The 255 float32 midpoints between neighbouring map entries: the code of x is the number of
    midpoints below it (nearest entry, ties to the lower index)."""
    code = xp.asarray(code, dtype=xp.float32)
    return (code[:-1] + code[1:]) / xp.float32(2)


def quantize_blockwise(values, code, blocksize: int = 256, *, out=None):
    """``(codes, absmax)``: uint8 indices into ``code`` (shape of ``values``) and one float32 absolute
    maximum per block of ``blocksize`` consecutive elements (the rule of the module docstring).
    ``out=(codes, absmax)`` writes into existing arrays."""
    xp = get_array_module(values)
    flat = xp.asarray(values, dtype=xp.float32).reshape(-1)
    blocks = -(-flat.size // blocksize)
    padded = xp.zeros(blocks * blocksize, dtype=xp.float32)
    padded[: flat.size] = flat
    padded = padded.reshape(blocks, blocksize)
    absmax = xp.abs(padded).max(axis=1)  # a_b = max |s_i|
    inverse = xp.float32(1) / xp.maximum(absmax, MIN_ABSMAX)
    normed = xp.clip(padded * inverse[:, None], -1, 1)  # s_i · (1/a_b)
    codes = xp.searchsorted(code_midpoints(code, xp), normed.reshape(-1)[: flat.size], side="left")  # nearest, ties low
    codes = codes.astype(xp.uint8).reshape(values.shape)
    if out is None:
        return codes, absmax
    out[0][...], out[1][...] = codes, absmax
    return out


def dequantize_blockwise(codes, absmax, code, blocksize: int = 256, dtype=np.float32):
    """``code[q_i] · a_b`` in float32 (bitsandbytes' rule), then cast to ``dtype``."""
    xp = get_array_module(codes)
    code = xp.asarray(code, dtype=xp.float32)
    flat = code[codes.reshape(-1)]
    scale = xp.repeat(absmax.astype(xp.float32), blocksize)[: flat.size]
    return (flat * scale).astype(dtype).reshape(codes.shape)  # s̃_i = c_{q_i} a_b


SIGNED_MAP = create_dynamic_map(signed=True)
UNSIGNED_MAP = create_dynamic_map(signed=False)
SIGNED_MIDPOINTS = code_midpoints(SIGNED_MAP)
UNSIGNED_MIDPOINTS = code_midpoints(UNSIGNED_MAP)

# The kernels find a code without a binary search. A float32's *key* (its bits with the sign bit set where
# it was clear, all bits flipped where it was set) orders as the float does; values whose keys agree above
# bit BUCKET_SHIFT share a bucket (8130 buckets over [−1, 1]). Every midpoint in a lower bucket is below x
# and every one in a higher bucket above it (no midpoint is ±0, where keys and floats disagree), so the
# code of x is its bucket's *start*, the number of midpoints in lower buckets, plus a comparison with each
# of the at most BUCKET_CANDIDATES midpoints from the start on (+inf pads the table's end).
BUCKET_SHIFT = 18


def float_key(values) -> np.ndarray:
    """The order-preserving uint32 key of float32 values (see above)."""
    bits = np.asarray(values, dtype=np.float32).view(np.uint32)
    return np.where(bits >> 31, ~bits, bits | np.uint32(1 << 31))


FIRST_BUCKET = int(float_key(np.float32(-1))) >> BUCKET_SHIFT
BUCKETS = (int(float_key(np.float32(1))) >> BUCKET_SHIFT) - FIRST_BUCKET + 1


def bucket_table(midpoints) -> tuple[np.ndarray, int]:
    """``(starts, candidates)``: each bucket's number of midpoints in lower buckets (float32, exact),
    and the most midpoints one bucket holds."""
    if np.any(midpoints == 0):
        raise ValueError("a midpoint of ±0 would sit in both buckets of zero")
    buckets = (float_key(midpoints) >> BUCKET_SHIFT).astype(np.int64) - FIRST_BUCKET
    starts = np.searchsorted(buckets, np.arange(BUCKETS), side="left").astype(np.float32)
    return starts, int(np.bincount(buckets).max())


(SIGNED_STARTS, SIGNED_MOST), (UNSIGNED_STARTS, UNSIGNED_MOST) = map(bucket_table, (SIGNED_MIDPOINTS, UNSIGNED_MIDPOINTS))
BUCKET_CANDIDATES = max(SIGNED_MOST, UNSIGNED_MOST)  # 3
PADDING = np.full(BUCKET_CANDIDATES, np.inf, dtype=np.float32)
KERNEL_TABLES = {"signed_map": SIGNED_MAP, "signed_midpoints": np.concatenate([SIGNED_MIDPOINTS, PADDING]),
                 "signed_starts": SIGNED_STARTS, "unsigned_map": UNSIGNED_MAP,
                 "unsigned_midpoints": np.concatenate([UNSIGNED_MIDPOINTS, PADDING]), "unsigned_starts": UNSIGNED_STARTS}
for _table in KERNEL_TABLES.values():
    _table.setflags(write=False)


@functools.lru_cache(maxsize=None)
def _tables_on_gpu(device_id: int) -> dict:
    cupy = cupy_module()
    with cupy.cuda.Device(device_id):
        return {name: cupy.asarray(table) for name, table in KERNEL_TABLES.items()}


def kernel_tables(param) -> dict:
    """``KERNEL_TABLES`` where ``param`` lives: the NumPy arrays, or copies on its GPU made once per
    device (not one host-to-device copy per table, parameter and step)."""
    return _tables_on_gpu(param.device.id) if is_cupy_array(param) else KERNEL_TABLES


def adam8bit_init(param, *, blocksize: int = 256, min_8bit_size: int = 4096) -> dict:
    """Zero codes and zero block maxima (dequantising to zero moments); Adam's 32-bit state for
    parameters smaller than ``min_8bit_size``."""
    if param.size < min_8bit_size:
        return adam_init(param)
    xp = get_array_module(param)
    blocks = -(-param.size // blocksize)
    return {
        "step": 0,
        "exp_avg_codes": xp.zeros(param.shape, dtype=xp.uint8),
        "exp_avg_absmax": xp.zeros(blocks, dtype=xp.float32),
        "exp_avg_sq_codes": xp.zeros(param.shape, dtype=xp.uint8),
        "exp_avg_sq_absmax": xp.zeros(blocks, dtype=xp.float32),
    }


def adam8bit_update(param, grad, state, *, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
                    decoupled_weight_decay=False, blocksize=256) -> None:
    """The NumPy/CuPy reference: one 8-bit Adam step in place: dequantise, ``adam_update``,
    quantise. A state without codes (a small parameter) takes the 32-bit step."""
    hyper = dict(lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay,
                 decoupled_weight_decay=decoupled_weight_decay)
    if "exp_avg_codes" not in state:
        adam_update(param, grad, state, **hyper)
        return
    moments = {
        "step": state["step"],
        "exp_avg": dequantize_blockwise(state["exp_avg_codes"], state["exp_avg_absmax"], SIGNED_MAP, blocksize,
                                        param.dtype),  # m̃
        "exp_avg_sq": dequantize_blockwise(state["exp_avg_sq_codes"], state["exp_avg_sq_absmax"], UNSIGNED_MAP,
                                           blocksize, param.dtype),  # ṽ
    }
    adam_update(param, grad, moments, **hyper)  # θ, m, v ← Adam(θ, g, m̃, ṽ)
    state["step"] = moments["step"]
    quantize_blockwise(moments["exp_avg"], SIGNED_MAP, blocksize,
                       out=(state["exp_avg_codes"], state["exp_avg_absmax"]))  # m̃ ← quantise(m)
    quantize_blockwise(moments["exp_avg_sq"], UNSIGNED_MAP, blocksize,
                       out=(state["exp_avg_sq_codes"], state["exp_avg_sq_absmax"]))  # ṽ ← quantise(v)


ADAM8BIT_KERNEL = BlockwiseKernel(
    name="adam8bit",
    inputs=("g",),
    outputs=("p",),
    codes=("exp_avg_codes", "exp_avg_sq_codes"),
    block_arrays=("exp_avg_absmax", "exp_avg_sq_absmax"),
    carried=("exp_avg_new", "exp_avg_sq_new"),
    tables=tuple(KERNEL_TABLES),
    scalars=ADAM_KERNEL.scalars,
    flags=("DECOUPLED",),
    fixed=tuple((flag, 0) for flag in ADAM_KERNEL.flags if flag != "DECOUPLED"),
    update="""
T exp_avg = (T)(signed_map[exp_avg_codes] * exp_avg_absmax);  // m̃ = c[q] · a (float32), as dequantize_blockwise
T exp_avg_sq = (T)(unsigned_map[exp_avg_sq_codes] * exp_avg_sq_absmax);  // ṽ
{
""" + ADAM_KERNEL.body + """
}
exp_avg_new = (float)exp_avg;  // the new moments in float32, to be quantised once the block's maxima are known
exp_avg_sq_new = (float)exp_avg_sq;
""",
    store="""
exp_avg_codes = optimlab_quantise(exp_avg_new, exp_avg_absmax, signed_midpoints, signed_starts);
exp_avg_sq_codes = optimlab_quantise(exp_avg_sq_new, exp_avg_sq_absmax, unsigned_midpoints, unsigned_starts);
""",
    helpers=f"""
// The nearest map entry (ties to the lower index), as quantize_blockwise: the number of the 255
// sorted midpoints below x · (1/a) clipped to [-1, 1], from its bucket's start (see bucket_table).
__device__ inline unsigned char optimlab_quantise(float x, float absmax, const float* midpoints, const float* starts) {{
    const float scaled = x * (1.0f / optimlab_max(absmax, 1e-38f));  // a NaN stays NaN, as in the reference
    const float normed = fmin(fmax(scaled, -1.0f), 1.0f);  // fmin/fmax drop a NaN: a bucket in range
    const unsigned int bits = optimlab_bits(normed), key = bits >> 31 ? ~bits : bits | 0x80000000u;
    const int start = (int)starts[(key >> {BUCKET_SHIFT}) - {FIRST_BUCKET}];
    int below = start;
    for (int j = 0; j < {BUCKET_CANDIDATES}; ++j) below += midpoints[start + j] < normed ? 1 : 0;
    return (unsigned char)(scaled != scaled ? 255 : below);  // NaN sorts after every midpoint (searchsorted)
}}
""",
)


def adam8bit_fused(param, grad, state, *, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
                   decoupled_weight_decay=False, blocksize=256) -> None:
    """The same step in one pass per block through ``ADAM8BIT_KERNEL`` (dequantise, Adam's kernel
    body, requantise); a state without codes takes ``adam_fused``."""
    hyper = dict(lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay,
                 decoupled_weight_decay=decoupled_weight_decay)
    if "exp_avg_codes" not in state:
        adam_fused(param, grad, state, **hyper)
        return
    adam8bit_fused_many([param], [grad], [state], **hyper, blocksize=blocksize)


def adam8bit_fused_many(params, grads, states, *, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
                        decoupled_weight_decay=False, blocksize=256, plans: PlanCache | None = None) -> None:
    """``adam8bit_fused`` on several tensors with 8-bit states (same dtype, backend and step count)
    in one launch of ``ADAM8BIT_KERNEL``: the results of one call per tensor. ``plans``: a
    ``PlanCache`` kept for the next launch over the same arrays."""
    if params:
        _launch_many(ADAM8BIT_KERNEL, params, grads, states, kernel_tables(params[0]), lr=lr, beta1=beta1,
                     beta2=beta2, eps=eps, weight_decay=weight_decay, decoupled_weight_decay=decoupled_weight_decay,
                     blocksize=blocksize, plans=plans)


# Adam with 32-bit states (the parameters below ``min_8bit_size``) on many tensors in one launch: the
# block scaffold without block arrays is one elementwise pass of Adam's kernel body, each block of
# ``blocksize`` elements finding its tensor in the launch's plan.
ADAM32_KERNEL = BlockwiseKernel(
    name="adam32",
    inputs=("g",),
    outputs=("p", "exp_avg", "exp_avg_sq"),
    codes=(),
    block_arrays=(),
    carried=(),
    tables=(),
    scalars=ADAM_KERNEL.scalars,
    flags=ADAM8BIT_KERNEL.flags,
    fixed=ADAM8BIT_KERNEL.fixed,
    update=ADAM_KERNEL.body,
    store="",
)


def adam32_fused_many(params, grads, states, *, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
                      decoupled_weight_decay=False, blocksize=256, plans: PlanCache | None = None) -> None:
    """``adam_fused`` on several tensors with 32-bit states (same dtype, backend and step count) in
    one launch of ``ADAM32_KERNEL``: the results of one call per tensor (``plans`` as above)."""
    if params:
        _launch_many(ADAM32_KERNEL, params, grads, states, {}, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                     weight_decay=weight_decay, decoupled_weight_decay=decoupled_weight_decay, blocksize=blocksize,
                     plans=plans)


def _launch_many(kernel, params, grads, states, tables, *, lr, beta1, beta2, eps, weight_decay,
                 decoupled_weight_decay, blocksize, plans) -> None:
    """One launch of ``kernel`` on ``params``, each tensor's state arrays passed by their names in the
    kernel, Adam's scalars folded for the next step (one step count for all)."""
    steps = {state["step"] for state in states}
    if len(steps) != 1:
        raise ValueError(f"one launch needs one step count, got {sorted(steps)}")
    t = steps.pop() + 1
    names = kernel.per_tensor()[2:]  # the state arrays after g and p
    kernel.many(
        blocksize=blocksize, flags=dict(DECOUPLED=decoupled_weight_decay), plans=plans,
        tensors=[[grad, param, *map(state.__getitem__, names)] for param, grad, state in zip(params, grads, states)],
        **tables,
        **adam_kernel_scalars(t, lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay),
    )
    for state in states:  # counted once the launch was accepted: a refused one leaves the states as they were
        state["step"] = t


def adam8bit(param, grad, state, **hyper) -> None:
    """One 8-bit Adam step: the block-wise kernel for GPU arrays (and inside ``cpu_kernels()``),
    else the reference."""
    (adam8bit_fused if use_fused(param) else adam8bit_update)(param, grad, state, **hyper)


class Adam8bit(Optimizer):
    """Adam with blockwise 8-bit moments (see the module docstring); torch's ``Adam`` arguments
    (no ``amsgrad``/``maximize``) plus bitsandbytes' ``min_8bit_size`` and ``blocksize``."""

    hyperparameters = {
        "lr": learning_rate,
        "betas": betas,
        "eps": nonnegative,
        "weight_decay": nonnegative,
        "decoupled_weight_decay": boolean,
        "min_8bit_size": integer(0),
        "blocksize": choice(*BLOCK_SIZES),
    }

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, *,
                 decoupled_weight_decay=False, min_8bit_size=4096, blocksize=256):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay, min_8bit_size=min_8bit_size,
                                      blocksize=blocksize))
        self._plans: dict = {}  # a PlanCache per launch kind, backend, dtype, device and group

    def _init_state(self, param, group):
        return adam8bit_init(param.data, blocksize=group["blocksize"], min_8bit_size=group["min_8bit_size"])

    def _update(self, param, grad, state, group):
        adam8bit(param.data, grad, state, **self._hyper(group))

    def _update_all(self, pending, group):
        """When the kernels run (GPU arrays, or inside ``cpu_kernels()``), the group's tensors in one
        launch per kind of state (8-bit, or 32-bit below ``min_8bit_size``), backend, dtype and step
        count: GPT-2's 148 tensors, 98 of them small, take two launches, each keeping its plan for the
        next step (``PlanCache``). 16-bit parameters with 32-bit states (which the block kernel's GPU
        form does not take) step one by one (``adam_fused``); with 8-bit states the GPU form refuses
        them (a TypeError naming the dtype; the CPU form takes them)."""
        batches: dict = {}
        rest = []
        for param, state in pending:
            data, eight_bit = param.data, "exp_avg_codes" in state
            if use_fused(data) and (eight_bit or data.dtype in CUDA_TYPES):
                device = data.device.id if is_cupy_array(data) else None
                launch = adam8bit_fused_many if eight_bit else adam32_fused_many
                batches.setdefault((launch, type(data), data.dtype, device, state["step"]), []).append((param, state))
            else:
                rest.append((param, state))
        hyper = self._hyper(group)
        for (launch, *kind, _), batch in batches.items():
            plans = self._plans.setdefault((launch, *kind, id(group["params"])), PlanCache())
            launch([p.data for p, _ in batch], [p.grad for p, _ in batch], [s for _, s in batch], **hyper, plans=plans)
        super()._update_all(rest, group)

    @staticmethod
    def _hyper(group) -> dict:
        beta1, beta2 = group["betas"]
        return dict(lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"], weight_decay=group["weight_decay"],
                    decoupled_weight_decay=group["decoupled_weight_decay"], blocksize=group["blocksize"])


class AdamW8bit(Adam8bit):
    """``Adam8bit`` with decoupled, lr-scaled weight decay, default ``weight_decay=1e-2`` (as AdamW)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, *, min_8bit_size=4096,
                 blocksize=256):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, decoupled_weight_decay=True,
                         min_8bit_size=min_8bit_size, blocksize=blocksize)
