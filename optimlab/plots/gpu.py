r"""Figure of chapter 15: the roofline of optimizer steps.

A kernel that does :math:`F` floating-point operations and moves :math:`B` bytes per element has
arithmetic intensity :math:`I = F/B`; on a device with memory bandwidth :math:`W` and peak
arithmetic rate :math:`P` it can run at most at :math:`\min(P,\ I\,W)` (Williams, Waterman &
Patterson, "Roofline", CACM 2009). Bytes come from the kernels' own declarations
(``ElementwiseKernel.bytes_per_element``); operations are counted by hand from each kernel body
(default flags, fp32; ``+ − × ÷``, sqrt and a sign each count one; host-folded scalars count zero).
The H100 figures are *not* measured by this build: the copy bandwidth and the AdamW step times were
measured on one H100 on 2026-11-22 (``DESIGN.md``), the FP32 peak is NVIDIA's data sheet value.
"""

from __future__ import annotations

from optimlab.plots._common import new_figure, styled

H100_COPY_GB_PER_S = 2972.0  # measured copy bandwidth, one H100, 2026-11-22
H100_FP32_TFLOPS = 66.9  # NVIDIA H100 SXM5 data sheet, FP32 without tensor cores

# (label, ms per step, GB/s) for one AdamW step, measured on one H100 on 2026-11-22 (DESIGN.md)
H100_ADAMW_MEASURED = (
    ("torch fused, one 268M tensor", 3.01, 2496),
    ("torch fused, GPT-2-small shapes", 2.06, 1688),
    ("torch foreach, GPT-2-small shapes", 4.78, 729),
    ("CuPy kernel, one flat 124M buffer", 1.34, 2599),
    ("separate CuPy expressions", 10.13, 344),
)


def kernel_table() -> list[tuple[str, int, int]]:
    """(optimizer, bytes per parameter in fp32, operations per parameter) for the kernels drawn."""
    from optimlab.optim.adagrad import ADAGRAD_KERNEL
    from optimlab.optim.adam import ADAM_KERNEL
    from optimlab.optim.lion import LION_KERNEL
    from optimlab.optim.rmsprop import RMSPROP_KERNEL
    from optimlab.optim.sgd import SGD_KERNEL

    counted = [
        # b ← μb + (1−τ)g: 3; θ ← θ − ηb: 2
        ("SGD + momentum", SGD_KERNEL, {"MOMENTUM": True}, 5),
        # c·g: 1; (1−ηλ)θ: 1; m: 3; v: 4; √v/√(1−β₂ᵗ) + ε: 3; m/denom, ×step, θ −: 3
        ("AdamW", ADAM_KERNEL, {"DECOUPLED": True}, 15),
        # (1−ηλ)θ: 1; c = β₁m + (1−β₁)g: 3; sign: 1; θ − η·sign: 2; m ← β₂m + (1−β₂)g: 3
        ("Lion", LION_KERNEL, {}, 10),
        # s + g²: 2; √s + ε: 2; g/std, ×clr, θ −: 3
        ("Adagrad", ADAGRAD_KERNEL, {}, 7),
        # v: 4; √v + ε: 2; g/avg, ×η, θ −: 3
        ("RMSprop", RMSPROP_KERNEL, {}, 9),
    ]
    return [(name, kernel.bytes_per_element(flags, itemsize=4), flops) for name, kernel, flags, flops in counted]


@styled
def gpu_roofline():
    """Left: the H100 roofline with each kernel at its intensity. Right: measured AdamW steps as a
    fraction of the copy bandwidth (H100, 2026-11-22)."""
    import numpy as np

    fig, axes = new_figure(ncols=2, width=7.2, height=3.1)
    left, right = axes[0]
    peak = H100_FP32_TFLOPS * 1e3  # GFLOP/s
    intensity = np.logspace(-2, 3, 200)
    left.loglog(intensity, np.minimum(peak, intensity * H100_COPY_GB_PER_S), color="0.2", lw=1.4)
    ridge = peak / H100_COPY_GB_PER_S
    left.axvline(ridge, color="0.6", lw=0.8, ls=":")
    left.annotate(f"ridge {ridge:.0f} FLOP/B", (ridge, peak / 60), rotation=90, fontsize=7, color="0.4",
                  ha="right", va="bottom")
    for name, bytes_per_param, flops in kernel_table():
        point = flops / bytes_per_param
        left.plot(point, point * H100_COPY_GB_PER_S, "o", ms=4, label=f"{name} ({flops} FLOP / {bytes_per_param} B)")
    left.set_xlabel("arithmetic intensity (FLOP per byte)")
    left.set_ylabel("attainable GFLOP/s")
    left.set_title("H100 roofline: every update is memory-bound")
    left.legend(loc="lower right", frameon=False, fontsize=6.5)
    labels = [label for label, _, _ in H100_ADAMW_MEASURED]
    fractions = [gb / H100_COPY_GB_PER_S for _, _, gb in H100_ADAMW_MEASURED]
    positions = np.arange(len(labels))[::-1]
    right.barh(positions, fractions, color=["0.55", "0.55", "0.55", "tab:blue", "0.8"])
    for y, f, (_, ms, _) in zip(positions, fractions, H100_ADAMW_MEASURED):
        right.text(f + 0.02, y, f"{f:.0%}, {ms:.2f} ms", va="center", fontsize=7)
    right.set_yticks(positions, labels, fontsize=7)
    right.set_xlim(0, 1.25)
    right.axvline(1.0, color="0.3", lw=0.8, ls="--")
    right.set_xlabel("AdamW step bandwidth / copy bandwidth")
    right.set_title("measured on one H100, 2026-11-22")
    return fig
