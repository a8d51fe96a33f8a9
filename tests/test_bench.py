"""The benchmark code runs end to end on a tiny size (timings are not asserted: they belong to bench/)."""

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
    assert "logical cores" in text and "load average" in text
