r"""Figures of chapter 14: fp16's range against real gradients, and the dynamic loss scale.

fp16 has 5 exponent and 10 mantissa bits: normal numbers from :math:`2^{-14}` to 65504, subnormals
down to :math:`2^{-24} \approx 5.96\cdot10^{-8}`, below which everything rounds to 0. Multiplying the
loss by :math:`S = 2^k` shifts every gradient up by :math:`k` binades before the cast.
"""

from __future__ import annotations

import numpy as np

from optimlab.optim import SGD, Adam
from optimlab.parameter import Parameter
from optimlab.claims.tuning import single_blas_thread
from optimlab.plots._common import new_figure, styled
from optimlab.problems import DigitsMLP
from optimlab.training import GradScaler

FP16_TINY = 2.0**-24  # smallest positive subnormal
FP16_NORMAL = 2.0**-14  # smallest positive normal
FP16_MAX = 65504.0


def trained_digits_gradients(steps=400, seed=0):
    """Every gradient entry (float32, one vector) of the digits MLP after ``steps`` Adam steps (lr 3e-3):
    near a minimum, where gradients are small."""
    task = DigitsMLP(seed=seed, hidden=64)
    optimizer = Adam(task.parameters(), lr=3e-3)
    with single_blas_thread():  # the same bits whatever the machine's core count
        for _ in range(steps):
            optimizer.zero_grad()
            task.loss_and_grad()
            optimizer.step()
        optimizer.zero_grad()
        task.loss_and_grad()
    return np.concatenate([p.grad.ravel() for p in task.parameters()])


def overflow_stream(rng, t, scale):
    """The master gradients an fp16 backward of S·L produces at step ``t``: fp16(S·u) cast up to fp32,
    with u ~ N(0, 0.05²) and a spike (u ~ N(0, 40²)) every 50th step, which overflows fp16 for S ≳ 1600."""
    u = rng.normal(size=8).astype(np.float32) * np.float32(40.0 if t % 50 == 25 else 0.05)
    with np.errstate(over="ignore"):
        return (u * np.float32(scale)).astype(np.float16).astype(np.float32)


def scale_history(steps=300, growth_interval=20, seed=0):
    """(scales, stepped) of optimlab's GradScaler driving SGD on :func:`overflow_stream`."""
    rng, param = np.random.default_rng(seed), Parameter(np.zeros(8, dtype=np.float32))
    optimizer, scaler = SGD([param], lr=1e-3), GradScaler(growth_interval=growth_interval)
    scales, stepped = [], []
    for t in range(steps):
        scales.append(scaler.get_scale())
        param.grad = overflow_stream(rng, t, scaler.get_scale())
        stepped.append(scaler.step(optimizer))
        scaler.update()
    return np.array(scales), np.array(stepped)


@styled
def numerics_fp16_gradients():
    """Histogram of |g| of the trained digits MLP against fp16's range, unscaled and times 2^16."""
    magnitudes = np.abs(trained_digits_gradients().astype(np.float64))
    magnitudes = magnitudes[magnitudes > 0]
    fig, axes = new_figure(1, 1, width=7.0, height=3.0)
    ax = axes[0, 0]
    bins = np.linspace(-12, 6, 73)
    ax.hist(np.log10(magnitudes), bins=bins, color="C0", alpha=0.7, label=r"$|g|$")
    ax.hist(np.log10(magnitudes * 2.0**16), bins=bins, color="C1", alpha=0.7, label=r"$2^{16}\,|g|$ (loss scaled)")
    ax.axvspan(-12, np.log10(FP16_TINY), color="C3", alpha=0.12, label=r"fp16: rounds to 0 ($< 2^{-24}$)")
    ax.axvspan(np.log10(FP16_TINY), np.log10(FP16_NORMAL), color="C3", alpha=0.05,
               label=r"fp16 subnormal ($< 2^{-14}$)")
    ax.axvline(np.log10(FP16_MAX), color="C3", ls="--", lw=1, label="fp16 max 65504")
    ax.set_xlabel(r"$\log_{10}$ gradient magnitude")
    ax.set_ylabel("entries")
    ax.set_title("digits MLP gradients after 400 Adam steps")
    ax.legend(frameon=False, fontsize=7, loc="upper left")
    return fig


@styled
def numerics_loss_scale():
    """The dynamic loss scale over 300 steps: growth every 20 finite steps, halving at each overflow."""
    scales, stepped = scale_history()
    fig, axes = new_figure(1, 1, width=7.0, height=2.8)
    ax = axes[0, 0]
    steps = np.arange(len(scales))
    ax.semilogy(steps, scales, drawstyle="steps-post", color="C0", lw=1.2, label="scale $S$")
    ax.semilogy(steps[~stepped], scales[~stepped], "x", color="C3", ms=5, label="inf/NaN found: step skipped, $S/2$")
    ax.set_xlabel("step $t$")
    ax.set_ylabel("loss scale $S$")
    ax.set_title("GradScaler: $\\times 2$ after 20 finite steps, $\\times 0.5$ on overflow")
    ax.legend(frameon=False, fontsize=7)
    return fig
