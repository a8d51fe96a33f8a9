"""Host time of an optimizer step: the Python around the kernels, with the compiled calls replaced
by no-ops, over GPT-2-small's 148 parameter shapes at a quarter of the width (what the Python costs
depends on the number of tensors, not on their size).

A GPU runs a launch while the host goes on, but a step's first launch waits for all the Python
before it, so on a GPU this time adds to the step's (``optimlab bench --device cuda`` shows it there,
its *host ms/step* column); this measures it without a GPU. Rows: AdamW over flat buffers (one
launch), AdamW8bit with gradients written in place (the same arrays every step) and with a new
gradient array per parameter per step; before each step the gradients are written (31 MB, as a
backward pass would, so no row finds the host's caches warmer than another). Medians of
``--repeats`` steps, the rows interleaved.

    .venv/bin/python bench/host_overhead.py [--repeats 200]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import platform
import statistics
import sys
import time

import numpy as np

from optimlab import Parameter
from optimlab.bench import _cpu_model
from optimlab.kernels import blockwise, cpu_kernels, elementwise
from optimlab.optim import AdamW, AdamW8bit


def quarter_width_gpt2_shapes() -> list[tuple[int, ...]]:
    """GPT-2 small's 148 shapes with d = 192 instead of 768 (vocabulary and context unchanged)."""
    d, vocab, context, layers = 192, 50257, 1024, 12
    block = [(d,), (d,), (d, 3 * d), (3 * d,), (d, d), (d,), (d,), (d,), (d, 4 * d), (4 * d,), (4 * d, d), (d,)]
    return [(vocab, d), (context, d)] + block * layers + [(d,), (d,)]


@contextlib.contextmanager
def no_op_kernels():
    """Every compiled CPU kernel replaced by a function that does nothing (arguments checked as usual)."""
    def no_op(*args):
        return None

    saved = elementwise._Kernel._cpu_function, blockwise.BlockwiseKernel._cpu_function
    elementwise._Kernel._cpu_function = blockwise.BlockwiseKernel._cpu_function = lambda self, *key: no_op
    try:
        with cpu_kernels():
            yield
    finally:
        elementwise._Kernel._cpu_function, blockwise.BlockwiseKernel._cpu_function = saved


def _steps(shapes) -> dict:
    """Per row, a function that writes the gradients (as a backward pass: in place, or new arrays),
    then times one step."""
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(s).astype(np.float32) for s in shapes]

    def params():
        return [Parameter(np.full(s, 0.5, dtype=np.float32)) for s in shapes]

    flat_params, kept_params, new_params = params(), params(), params()
    flat = AdamW(flat_params, lr=1e-3).flatten()
    flat.zero_grad()  # from here on each gradient is a view of the flat gradient buffer
    kept, new = AdamW8bit(kept_params, lr=1e-3), AdamW8bit(new_params, lr=1e-3)
    for p, g in zip(kept_params, grads):
        p.grad = g.copy()

    def row(optimizer, params, in_place):
        def run():
            for p, g in zip(params, grads):
                if in_place:
                    p.grad[...] = g
                else:
                    p.grad = g.copy()
            start = time.perf_counter()
            optimizer.step()
            return time.perf_counter() - start
        return run

    return {"AdamW, flat buffers (one launch)": row(flat, flat_params, True),
            "AdamW8bit, gradients written in place": row(kept, kept_params, True),
            "AdamW8bit, a new gradient array per step": row(new, new_params, False)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args(argv)
    shapes = quarter_width_gpt2_shapes()
    samples: dict = {}
    with no_op_kernels():
        steps = _steps(shapes)
        for run in steps.values():
            for _ in range(5):  # warm-up: states, scratch and plans are made here
                run()
        for _ in range(args.repeats):
            for name, run in steps.items():
                samples.setdefault(name, []).append(run() * 1e3)
    print(f"# Host time per step, {len(shapes)} tensors (GPT-2 small's shapes at a quarter width), kernels no-ops\n")
    print(f"- device: {_cpu_model()}")
    print(f"- date: {datetime.date.today().isoformat()}")
    print(f"- versions: python {platform.python_version()}, numpy {np.__version__}")
    print(f"- command: `{' '.join([sys.executable.rsplit('/', 1)[-1], *sys.argv])}`\n")
    print("| step | host ms/step (median) | quartiles |\n|---|---|---|")
    for name, values in samples.items():
        q1, median, q3 = statistics.quantiles(values, n=4)
        print(f"| {name} | {median:.3f} | {q1:.3f}–{q3:.3f} |")


if __name__ == "__main__":
    main()
