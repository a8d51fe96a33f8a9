"""The 8-bit Adams (``Adam8bit``/``AdamW8bit``) against bitsandbytes and torch, step by step, in
``oracle_cases``' format: ``check(config, *, steps, dtype, seed, build) -> ParityResult``.

Each step starts both sides from *our* 8-bit state: bitsandbytes dequantises our codes and block
maxima (``bitsandbytes.functional.dequantize_blockwise``, its native CPU kernel), torch's ``Adam``
(or ``AdamW``) takes one float32 step from those moments, and bitsandbytes quantises the new
moments (its pure-PyTorch ``quantize_blockwise``: nearest code, ties low, one absmax per 256
elements). Compared: the parameters and the block maxima (relative error, float32: a few ulp per
step, so 1e-5 over 50 steps), and the codes, which may differ only where a few-ulp difference of
the moment crosses a midpoint between two codes: by one code, at no more than 0.1% of the entries
(a problem is reported otherwise). The parameter is one 64×80 float32 matrix (5120 elements, above
``min_8bit_size``, so both moments are quantised); gradients are seeded normals.
"""

from __future__ import annotations

import numpy as np

from optimlab.optim.adam8bit import SIGNED_MAP, UNSIGNED_MAP
from optimlab.parameter import Parameter
from optimlab.verify.parity import ParityResult, relative_error

SHAPE = (64, 80)
BLOCKSIZE = 256
MOMENTS = (("exp_avg", SIGNED_MAP), ("exp_avg_sq", UNSIGNED_MAP))
TOLERANCE = 1e-5


def bnb_quantize(values, code, blocksize: int = BLOCKSIZE):
    """bitsandbytes' pure-PyTorch blockwise quantiser, reached past its native CPU registration (that
    one is not nearest-code), on input padded to whole blocks: ``(codes, absmax)`` as NumPy arrays."""
    import torch

    import bitsandbytes.functional  # noqa: F401  (registers torch.ops.bitsandbytes)

    values = np.asarray(values, dtype=np.float32)
    pad = (-values.size) % blocksize
    keys = torch._C.DispatchKeySet(torch._C.DispatchKey.CompositeExplicitAutograd)
    codes, absmax = torch.ops.bitsandbytes.quantize_blockwise.default.redispatch(
        keys, torch.from_numpy(np.pad(values.ravel(), (0, pad))), torch.from_numpy(code.copy()), blocksize)
    return codes.numpy()[: values.size].reshape(values.shape), absmax.numpy()


def bnb_dequantize(codes, absmax, code, blocksize: int = BLOCKSIZE):
    """bitsandbytes' ``dequantize_blockwise`` (a torch float32 tensor)."""
    import torch
    from bitsandbytes import functional

    return functional.dequantize_blockwise(torch.from_numpy(codes.copy()), absmax=torch.from_numpy(absmax.copy()),
                                           code=torch.from_numpy(code.copy()), blocksize=blocksize)


def adam8bit_check(config, *, steps, dtype, seed, build) -> ParityResult:
    """``build([param], **config)`` against bitsandbytes (de)quantisation around torch's Adam/AdamW
    (see the module docstring); ``dtype`` is ignored: 8-bit states are float32 by definition."""
    import torch

    rng = np.random.default_rng(seed)
    param = Parameter(rng.standard_normal(SHAPE).astype(np.float32))
    optimizer = build([param], **config)
    decoupled = optimizer.param_groups[0]["decoupled_weight_decay"]
    torch_cls = torch.optim.AdamW if decoupled else torch.optim.Adam
    hyper = {key: config[key] for key in ("lr", "betas", "eps", "weight_decay") if key in config}
    hyper.setdefault("weight_decay", optimizer.param_groups[0]["weight_decay"])
    param_error = state_error = 0.0
    problems = []
    for step in range(steps):
        grad = rng.standard_normal(SHAPE).astype(np.float32)
        tensor = torch.tensor(param.data, requires_grad=True)
        theirs = torch_cls([tensor], **hyper)
        state = optimizer.state.get(param)
        if state is not None:
            moments = [bnb_dequantize(state[f"{key}_codes"], state[f"{key}_absmax"], code) for key, code in MOMENTS]
            theirs.state[tensor] = {"step": torch.tensor(float(state["step"])), "exp_avg": moments[0],
                                    "exp_avg_sq": moments[1]}
        param.grad, tensor.grad = grad, torch.from_numpy(grad.copy())
        optimizer.step()
        theirs.step()
        param_error = max(param_error, relative_error(param.data, tensor.detach().numpy()))
        state = optimizer.state[param]
        for key, code in MOMENTS:
            codes, absmax = bnb_quantize(theirs.state[tensor][key].numpy(), code)
            state_error = max(state_error, relative_error(state[f"{key}_absmax"], absmax))
            apart = np.abs(state[f"{key}_codes"].astype(int) - codes.astype(int))
            if apart.max() > 1 or (apart > 0).mean() > 1e-3:
                problems.append(f"step {step + 1}, {key}: {int((apart > 0).sum())} codes differ, by up to {apart.max()}")
    return ParityResult(param_error, state_error, steps, problems)
