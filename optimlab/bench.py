"""Optimizer step benchmarks, measured as ratios within one run.

For each implementation: milliseconds per step (median of timed repeats after warm-up, the
implementations interleaved round by round so that load changes hit all alike; on a GPU also the
host's share, the time until the call returned, since the launches are asynchronous), effective
bandwidth from the step's byte count (an elementwise update reads each input and in/out array once and
writes each in/out array once: AdamW in fp32 moves (1 + 2·3)·4 = 28 bytes per parameter), the fraction
of the copy bandwidth measured in the same run, and the ratio to torch's fastest implementation of the
same optimizer in the same run (the float32 ones; the bfloat16 rows, 14 bytes per parameter, are
compared with torch's fused bfloat16 step). ``run`` works on the CPU (NumPy, torch CPU) and on a
CUDA GPU (CuPy, torch CUDA); layouts are one large tensor or GPT-2-small's 148 parameter shapes. The two ratios the
issue asks for are reported on their own: our NumPy step over torch's foreach step, and our fused
kernel over torch's fused step (below 1: ours is faster). On the CPU the 1-minute load average at the
start is recorded, since a shared machine slows whatever runs on it.

torch's CPU build and our compiled kernels each bring an OpenMP runtime; with the default (active)
wait policy the idle threads of one spin while the other works, which on a small machine made torch's
steps up to a thousand times slower in our runs. Importing this module therefore sets
``OMP_WAIT_POLICY=PASSIVE`` unless it is set already (it must be set before either runtime starts),
and the value in effect is recorded with the results.
"""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import time
from dataclasses import dataclass

import numpy as np
from ml_dtypes import bfloat16

from optimlab.parameter import Parameter

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see the module docstring


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


def _timed(steps: dict, synchronize, repeats: int, warmup: int = 3) -> tuple[dict, dict]:
    """Median ms per call of each ``steps[name]()`` up to ``synchronize()``, and median ms until the
    call returned: the host's share (a GPU runs the launches asynchronously, so a step whose host time
    nears its total is bound by the host, not the GPU). The implementations are *interleaved* (one
    call of each per round), so that a change in the machine's load during the run hits all alike."""
    for step in steps.values():
        for _ in range(warmup):
            step()
    synchronize()
    samples: dict = {name: [] for name in steps}
    host: dict = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            host[name].append((time.perf_counter() - start) * 1e3)
            synchronize()
            samples[name].append((time.perf_counter() - start) * 1e3)
    return ({name: statistics.median(values) for name, values in samples.items()},
            {name: statistics.median(values) for name, values in host.items()})


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
            self.description = (f"{_cpu_model()}, {os.cpu_count()} logical cores, torch threads {torch.get_num_threads()}, "
                                f"load average {os.getloadavg()[0]:.1f} at start")


def _cpu_model() -> str:
    """The CPU's model name (as ``lscpu`` shows it), from /proc/cpuinfo where there is one."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _copy(device: _Device, n: int):
    """``dst[...] = src`` on n float32 elements (8n bytes): the bandwidth roof for memory-bound updates."""
    src = device.xp.ones(n, dtype=np.float32)
    dst = device.xp.empty_like(src)
    return lambda: device.xp.copyto(dst, src)


def _adamw_ours(device: _Device, shapes, fused: bool, dtype=np.float32):
    from optimlab.kernels import cpu_kernels
    from optimlab.optim import AdamW

    xp = device.xp
    params = [Parameter(xp.full(s, 0.5, dtype=dtype)) for s in shapes]
    optimizer = AdamW(params, lr=1e-3).flatten()
    optimizer.zero_grad()
    for p in params:  # into the flat gradient buffer, as a model's backward pass writes (no copy per step)
        p.accumulate_grad(xp.full(p.shape, 1e-3, dtype=dtype))

    def step():
        with cpu_kernels(fused):
            optimizer.step()

    return step


def _adamw8bit_ours(device: _Device, shapes, fused: bool):
    from optimlab.kernels import cpu_kernels
    from optimlab.optim import AdamW8bit

    xp = device.xp
    params = [Parameter(xp.full(s, 0.5, dtype=np.float32)) for s in shapes]
    optimizer = AdamW8bit(params, lr=1e-3)
    for p in params:
        p.grad = xp.full(p.shape, 1e-3, dtype=np.float32)

    def step():
        with cpu_kernels(fused):
            optimizer.step()

    return step


def adamw8bit_bytes(shapes, blocksize: int = 256, min_8bit_size: int = 4096) -> int:
    """Bytes one 8-bit AdamW step moves: p read and written, g read, two uint8 codes read and
    written (16 B per parameter), plus the two float32 block maxima read and written; tensors below
    ``min_8bit_size`` keep 32-bit moments (28 B per parameter)."""
    total = 0
    for shape in shapes:
        size = int(np.prod(shape))
        total += 16 * size + 16 * -(-size // blocksize) if size >= min_8bit_size else 28 * size
    return total


def _adamw_torch(device: _Device, shapes, mode: str, dtype: str = "float32"):
    import torch

    params = [torch.full(s, 0.5, dtype=getattr(torch, dtype), device=device.torch_device, requires_grad=True)
              for s in shapes]
    for p in params:
        p.grad = torch.full_like(p, 1e-3)
    options = {"foreach": mode == "foreach", "fused": mode == "fused"} if mode != "single" else {"foreach": False}
    optimizer = torch.optim.AdamW(params, lr=1e-3, **options)
    return optimizer.step


def run(device_name: str = "cpu", layout: str = "one", n: int = 1 << 24, repeats: int = 10) -> dict:
    """Benchmark AdamW steps (fp32 and 8-bit); returns a dict with the environment and one row per implementation."""
    import torch

    device = _Device(device_name)
    shapes = gpt2_small_shapes() if layout == "gpt2" else one_tensor_shapes(n)
    elements = sum(int(np.prod(s)) for s in shapes)
    from optimlab.optim.adam import ADAM_KERNEL

    adamw_bytes = ADAM_KERNEL.bytes_per_element({"DECOUPLED": True}, itemsize=4) * elements
    eight_bit_bytes = adamw8bit_bytes(shapes)
    candidates = {
        "copy": (lambda: _copy(device, elements), 8 * elements),
        "torch single-tensor": (lambda: _adamw_torch(device, shapes, "single"), adamw_bytes),
        "torch foreach": (lambda: _adamw_torch(device, shapes, "foreach"), adamw_bytes),
        "torch fused": (lambda: _adamw_torch(device, shapes, "fused"), adamw_bytes),
        "optimlab flat, fused kernel": (lambda: _adamw_ours(device, shapes, fused=True), adamw_bytes),
    }
    if device_name == "cpu":
        candidates["optimlab flat, NumPy reference"] = (lambda: _adamw_ours(device, shapes, fused=False), adamw_bytes)
    # bfloat16 parameters, gradients and moments, updated in float32 inside the kernel: 7 × 2 = 14 B.
    candidates["torch fused, bfloat16"] = (lambda: _adamw_torch(device, shapes, "fused", "bfloat16"), adamw_bytes // 2)
    candidates["optimlab flat, fused kernel, bfloat16"] = (
        lambda: _adamw_ours(device, shapes, fused=True, dtype=bfloat16), adamw_bytes // 2)
    candidates["optimlab AdamW8bit, block kernel"] = (lambda: _adamw8bit_ours(device, shapes, fused=True),
                                                      eight_bit_bytes)
    if device_name == "cpu":
        candidates["optimlab AdamW8bit, NumPy reference"] = (lambda: _adamw8bit_ours(device, shapes, fused=False),
                                                            eight_bit_bytes)
    ms, host_ms = _timed({name: build() for name, (build, _) in candidates.items()}, device.synchronize, repeats)
    copy, *rows = [Measurement(name, ms[name], bytes_moved) for name, (_, bytes_moved) in candidates.items()]
    torch_best = min(r.ms for r in rows if r.implementation.startswith("torch") and "bfloat16" not in r.implementation)
    ratios = {"optimlab flat, fused kernel / torch fused": ms["optimlab flat, fused kernel"] / ms["torch fused"],
              "bfloat16: optimlab flat, fused kernel / torch fused": ms["optimlab flat, fused kernel, bfloat16"]
              / ms["torch fused, bfloat16"]}
    if "optimlab flat, NumPy reference" in ms:
        ratios["optimlab flat, NumPy reference / torch foreach"] = ms["optimlab flat, NumPy reference"] / ms["torch foreach"]
    ratios["optimlab AdamW8bit, block kernel / optimlab flat, fused kernel"] = (
        ms["optimlab AdamW8bit, block kernel"] / ms["optimlab flat, fused kernel"])
    return {
        "device": device.description,
        "date": datetime.date.today().isoformat(),
        "versions": {"numpy": np.__version__, "torch": torch.__version__, "python": platform.python_version(),
                     "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY")},
        "layout": f"{len(shapes)} tensor(s), {elements:,} float32 parameters",
        "copy_gb_per_s": copy.gb_per_s,
        "asynchronous": device_name == "cuda",  # on the CPU the host's time is the step's
        "rows": [
            {"implementation": r.implementation, "ms": r.ms, "host_ms": host_ms[r.implementation],
             "bytes_per_param": r.bytes_moved / elements, "gb_per_s": r.gb_per_s,
             "of_copy": r.gb_per_s / copy.gb_per_s, "vs_fastest_torch": r.ms / torch_best}
            for r in rows
        ],
        "ratios": ratios,
    }


def _flat_step(device: _Device, cls, n: int):
    """A step of ``cls`` (default hyperparameters) over one flat float32 buffer of n elements, through
    its fused kernel, and the bytes it moves: the gradient read, the parameter and every state array
    read and written (the byte count of an elementwise kernel whose states are all in/out)."""
    from optimlab.kernels import cpu_kernels

    params = [Parameter(device.xp.full(n, 0.5, dtype=np.float32))]
    optimizer = cls(params).flatten()
    optimizer.zero_grad()
    params[0].accumulate_grad(device.xp.full(n, 1e-3, dtype=np.float32))

    def step():
        with cpu_kernels():
            optimizer.step()

    step()  # creates the state
    return step, 3 * 4 * n + 2 * optimizer.state_bytes()


def kernel_roofline(device_name: str = "cuda", n: int = 1 << 28, repeats: int = 10) -> dict:
    """Every optimizer whose update is elementwise, default hyperparameters, on one flat buffer of n
    float32 parameters: ms per step, bytes per parameter, GB/s and the fraction of the copy bandwidth
    (copy timed in the same interleaved rounds as each optimizer; one optimizer in memory at a time)."""
    import optimlab.optim as optim

    device = _Device(device_name)
    copy = _copy(device, n)
    rows = []
    for name in optim.__all__:
        cls = getattr(optim, name)
        if not (isinstance(cls, type) and getattr(cls, "elementwise", False)):
            continue
        step, bytes_moved = _flat_step(device, cls, n)
        ms, _ = _timed({"copy": copy, name: step}, device.synchronize, repeats)
        gb_per_s = bytes_moved / (ms[name] * 1e-3) / 1e9
        rows.append({"optimizer": name, "ms": ms[name], "bytes_per_param": bytes_moved / n, "gb_per_s": gb_per_s,
                     "of_copy": gb_per_s / (8 * n / (ms["copy"] * 1e-3) / 1e9)})
        del step
    return {"device": device.description, "date": datetime.date.today().isoformat(), "n": n, "rows": rows}


def kernel_roofline_markdown(result: dict, command: str) -> str:
    lines = [f"# Every elementwise optimizer's fused step, one flat buffer of {result['n']:,} float32 parameters", "",
             f"- device: {result['device']}", f"- date: {result['date']}", f"- command: `{command}`", "",
             "| optimizer | ms/step | bytes/param | GB/s | of copy bandwidth (same rounds) |", "|---|---|---|---|---|"]
    lines += [f"| {r['optimizer']} | {r['ms']:.3f} | {r['bytes_per_param']:.0f} | {r['gb_per_s']:.1f} | {r['of_copy']:.0%} |"
              for r in result["rows"]]
    return "\n".join(lines) + "\n"


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
    ]
    host = result["asynchronous"]  # a column of its own only where it differs from ms/step
    lines += ["| implementation | ms/step | " + ("host ms/step | " if host else "")
              + "bytes/param | GB/s | of copy bandwidth | time vs fastest torch float32 |",
              "|---|---|" + ("---|" if host else "") + "---|---|---|---|"]
    lines += [
        f"| {r['implementation']} | {r['ms']:.2f} | " + (f"{r['host_ms']:.2f} | " if host else "")
        + f"{r['bytes_per_param']:.2f} | {r['gb_per_s']:.1f} | {r['of_copy']:.0%} | {r['vs_fastest_torch']:.2f}× |"
        for r in result["rows"]
    ]
    lines += ["", "Step-time ratios in this run (below 1: optimlab is faster):", ""]
    lines += [f"- {name}: {value:.2f}×" for name, value in result["ratios"].items()]
    return "\n".join(lines) + "\n"
