"""The benchmark code runs end to end on a tiny size (timings are not asserted: they belong to bench/)."""

import time

from optimlab import bench
from optimlab.cli import main


def test_gpt2_small_shapes_count_124m_parameters():
    shapes = bench.gpt2_small_shapes()
    assert len(shapes) == 148
    total = sum(a * (b if len(s) == 2 else 1) for s in shapes for a, b in [(s[0], s[-1])])
    assert total == 124_439_808


def test_cpu_benchmark_runs_and_reports_every_implementation(tmp_path):
    out = tmp_path / "result.md"
    assert main(["bench", "--size", "4096", "--repeats", "2", "--out", str(out)]) == 0
    text = out.read_text()
    for name in ("torch fused", "torch foreach", "optimlab flat, fused kernel", "optimlab flat, NumPy reference"):
        assert name in text
    assert "copy bandwidth measured in the same run" in text
    assert "- optimlab flat, NumPy reference / torch foreach: " in text
    assert "- optimlab flat, fused kernel / torch fused: " in text
    assert "| optimlab flat, fused kernel, bfloat16 | " in text and "| 14.00 |" in text
    assert "- bfloat16: optimlab flat, fused kernel / torch fused: " in text
    assert "logical cores" in text and "load average" in text


def test_timing_separates_the_hosts_share_from_the_wait():
    """A synchronize that waits 5 ms stands in for a GPU finishing the launched work: a step that
    returns at once has a host time near 0 and a step time of at least 5 ms."""
    ms, host_ms = bench._timed({"step": lambda: None}, lambda: time.sleep(0.005), repeats=3, warmup=1)
    assert ms["step"] >= 5 and host_ms["step"] < 1


def test_host_time_is_a_column_only_where_launches_are_asynchronous():
    result = bench.run("cpu", n=4096, repeats=1)
    assert "host ms/step" not in bench.to_markdown(result, "test")  # on the CPU it is the step time
    table = bench.to_markdown({**result, "asynchronous": True}, "test")
    header, rule, first = [line for line in table.splitlines() if line.startswith("|")][:3]
    assert "| ms/step | host ms/step |" in header
    assert header.count("|") == rule.count("|") == first.count("|") == 8


def test_byte_counts_follow_the_kernels_arrays():
    """AdamW fp32 reads θ, g, m, v and writes θ, m, v: 7 × 4 = 28 B (the issue's count); SGD with
    momentum reads θ, g, b and writes θ, b: 20 B; plain SGD 12 B; 8-bit AdamW: θ (r/w), g, two
    uint8 codes (r/w) = 16 B plus two float32 maxima (r/w) per block, 28 B below min_8bit_size."""
    from optimlab.optim.adam import ADAM_KERNEL
    from optimlab.optim.sgd import SGD_KERNEL

    assert ADAM_KERNEL.bytes_per_element({"DECOUPLED": True}) == 28
    assert ADAM_KERNEL.bytes_per_element({"DECOUPLED": True}, itemsize=8) == 56
    assert SGD_KERNEL.bytes_per_element({"MOMENTUM": True}) == 20
    assert SGD_KERNEL.bytes_per_element() == 12
    assert bench.adamw8bit_bytes([(512, 10)]) == 16 * 5120 + 16 * 20
    assert bench.adamw8bit_bytes([(100,)]) == 28 * 100


def test_kernel_roofline_runs_for_every_elementwise_optimizer():
    import optimlab.optim as optim

    result = bench.kernel_roofline("cpu", n=4096, repeats=1)
    expected = [n for n in optim.__all__ if getattr(getattr(optim, n), "elementwise", False)]
    assert [r["optimizer"] for r in result["rows"]] == expected
    adamw = next(r for r in result["rows"] if r["optimizer"] == "AdamW")
    assert adamw["bytes_per_param"] == 28  # θ r/w, g r, m and v r/w: agrees with the kernel's own count
    assert "| AdamW |" in bench.kernel_roofline_markdown(result, "test")


def test_the_host_overhead_script_runs_and_puts_the_kernels_back(capsys):
    import importlib.util
    from pathlib import Path

    from optimlab.kernels import blockwise, elementwise

    path = Path(__file__).resolve().parents[1] / "bench" / "host_overhead.py"
    spec = importlib.util.spec_from_file_location("host_overhead", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    kernels = elementwise._Kernel._cpu_function, blockwise.BlockwiseKernel._cpu_function
    script.main(["--repeats", "2"])
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| AdamW")]
    assert [row.split(" | ")[0] for row in rows] == ["| AdamW, flat buffers (one launch)",
                                                     "| AdamW8bit, gradients written in place",
                                                     "| AdamW8bit, a new gradient array per step"]
    assert (elementwise._Kernel._cpu_function, blockwise.BlockwiseKernel._cpu_function) == kernels
