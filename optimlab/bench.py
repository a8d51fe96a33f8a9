"""Optimizer step benchmarks, measured as ratios within one run.

For each implementation: milliseconds per step (median of timed repeats after warm-up), effective
bandwidth from the step's byte count (an elementwise update reads each input and in/out array once and
writes each in/out array once: AdamW in fp32 moves (1 + 2·3)·4 = 28 bytes per parameter), the fraction
of the copy bandwidth measured in the same run, and the ratio to torch's fastest implementation of the
same optimizer in the same run. ``run`` works on the CPU (NumPy, torch CPU) and on a CUDA GPU (CuPy,
torch CUDA); layouts are one large tensor or GPT-2-small's 148 parameter shapes.
"""

from __future__ import annotations

import datetime
import platform
import statistics
import time
from dataclasses import dataclass

import numpy as np

from optimlab.parameter import Parameter


def gpt2_small_shapes() -> list[tuple[int, ...]]:
    """The 148 parameter shapes of GPT-2 small (124M parameters, tied output embedding)."""
    d, vocab, context, layers = 768, 50257, 1024, 12
    block = [(d,), (d,), (d, 3 * d), (3 * d,), (d, d), (d,), (d,), (d,), (d, 4 * d), (4 * d,), (4 * d, d), (d,)]
    return [(vocab, d), (context, d)] + block * layers + [(d,), (d,)]


def one_tensor_shapes(n: int) -> list[tuple[int, ...]]:
    return [(n,)]


@dataclass
class Measurement:
    implementation: str
    ms: float
    bytes_moved: int

    @property
    def gb_per_s(self) -> float:
        return self.bytes_moved / (self.ms * 1e-3) / 1e9


def _timed(step, synchronize, repeats: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        step()
    synchronize()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        synchronize()
        samples.append((time.perf_counter() - start) * 1e3)
    return statistics.median(samples)


class _Device:
    """Array module, torch device and synchronisation for 'cpu' or 'cuda'."""

    def __init__(self, name: str):
        import torch

        self.name = name
        if name == "cuda":
            from optimlab.backend import cupy_module

            self.xp = cupy_module()
            self.torch_device = torch.device("cuda")
            self.synchronize = lambda: (self.xp.cuda.Device().synchronize(), torch.cuda.synchronize())
            self.description = torch.cuda.get_device_name()
        else:
            self.xp = np
            self.torch_device = torch.device("cpu")
            self.synchronize = lambda: None
            self.description = f"{platform.processor() or platform.machine()} CPU, torch threads {torch.get_num_threads()}"


def copy_bandwidth(device: _Device, n: int, repeats: int) -> Measurement:
    """``dst[...] = src`` on n float32 elements: the bandwidth roof for memory-bound updates."""
    src = device.xp.ones(n, dtype=np.float32)
    dst = device.xp.empty_like(src)
    ms = _timed(lambda: device.xp.copyto(dst, src), device.synchronize, repeats)
    return Measurement("copy", ms, 2 * 4 * n)


def _adamw_ours(device: _Device, shapes, fused: bool):
    from optimlab.kernels import cpu_kernels
    from optimlab.optim import AdamW

    xp = device.xp
    params = [Parameter(xp.full(s, 0.5, dtype=np.float32)) for s in shapes]
    optimizer = AdamW(params, lr=1e-3).flatten()
    for p in params:
        p.grad = xp.full(p.shape, 1e-3, dtype=np.float32)

    def step():
        with cpu_kernels(fused):
            optimizer.step()

    return step


def _adamw_torch(device: _Device, shapes, mode: str):
    import torch

    params = [torch.full(s, 0.5, dtype=torch.float32, device=device.torch_device, requires_grad=True) for s in shapes]
    for p in params:
        p.grad = torch.full_like(p, 1e-3)
    options = {"foreach": mode == "foreach", "fused": mode == "fused"} if mode != "single" else {"foreach": False}
    optimizer = torch.optim.AdamW(params, lr=1e-3, **options)
    return optimizer.step


def run(device_name: str = "cpu", layout: str = "one", n: int = 1 << 24, repeats: int = 10) -> dict:
    """Benchmark AdamW steps; returns a dict with the environment and one row per implementation."""
    import torch

    device = _Device(device_name)
    shapes = gpt2_small_shapes() if layout == "gpt2" else one_tensor_shapes(n)
    elements = sum(int(np.prod(s)) for s in shapes)
    adamw_bytes = 28 * elements
    copy = copy_bandwidth(device, elements, repeats)
    candidates = {
        "torch single-tensor": lambda: _adamw_torch(device, shapes, "single"),
        "torch foreach": lambda: _adamw_torch(device, shapes, "foreach"),
        "torch fused": lambda: _adamw_torch(device, shapes, "fused"),
        "optimlab flat, fused kernel": lambda: _adamw_ours(device, shapes, fused=True),
    }
    if device_name == "cpu":
        candidates["optimlab flat, NumPy reference"] = lambda: _adamw_ours(device, shapes, fused=False)
    rows = []
    for name, build in candidates.items():
        step = build()
        rows.append(Measurement(name, _timed(step, device.synchronize, repeats), adamw_bytes))
        del step
    torch_best = min(r.ms for r in rows if r.implementation.startswith("torch"))
    return {
        "device": device.description,
        "date": datetime.date.today().isoformat(),
        "versions": {"numpy": np.__version__, "torch": torch.__version__, "python": platform.python_version()},
        "layout": f"{len(shapes)} tensor(s), {elements:,} float32 parameters",
        "copy_gb_per_s": copy.gb_per_s,
        "rows": [
            {"implementation": r.implementation, "ms": r.ms, "gb_per_s": r.gb_per_s,
             "of_copy": r.gb_per_s / copy.gb_per_s, "vs_fastest_torch": r.ms / torch_best}
            for r in rows
        ],
    }


def to_markdown(result: dict, command: str) -> str:
    lines = [
        f"# AdamW step, {result['layout']}",
        "",
        f"- device: {result['device']}",
        f"- date: {result['date']}",
        f"- versions: " + ", ".join(f"{k} {v}" for k, v in result["versions"].items()),
        f"- command: `{command}`",
        f"- copy bandwidth measured in the same run: {result['copy_gb_per_s']:.1f} GB/s",
        "",
        "| implementation | ms/step | GB/s (28 B/param) | of copy bandwidth | time vs fastest torch |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['implementation']} | {r['ms']:.2f} | {r['gb_per_s']:.1f} | {r['of_copy']:.0%} | {r['vs_fastest_torch']:.2f}× |"
        for r in result["rows"]
    ]
    return "\n".join(lines) + "\n"
