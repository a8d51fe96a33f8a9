"""The README's "Reliability" figures are what the checks give now (``python -m optimlab.testing
report``), so they cannot go stale; and the report counts failures rather than assuming passes."""

from pathlib import Path

from optimlab.testing import report
from optimlab.testing.probes import Probe

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_section_is_what_the_checks_give():
    expected = report.render(report.compute())
    assert report.readme_section(README.read_text(encoding="utf-8")) == expected, (
        "README.md's reliability section is stale: replace it with the output of "
        "`python -m optimlab.testing report`")


def test_report_counts_failures(monkeypatch):
    from optimlab.testing import checks

    def fail(*args):
        raise AssertionError("failed")

    monkeypatch.setattr(checks, "check_skip", fail)
    monkeypatch.setattr(checks, "resume_cases", lambda: [("SGD", {})])
    monkeypatch.setattr(report, "run_probes", lambda: [Probe("p", "q?", "ours", True, "theirs", False)])
    monkeypatch.setattr(report, "torch_constructor_rejections", lambda cases: (len(cases), 0))
    counts = report.compute()
    assert counts.nonfinite_survived == 0 and counts.nonfinite_tried == 75
    assert counts.resume_tried == 4 and counts.resume_passed == 4
    assert "it fails 1 of 1" in report.render(counts)


def test_command_line(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(report, "compute", lambda: report.Counts(1, 1, 4, 4, 3, 3, 3, [], (2, 1)))
    assert report.main(["bogus"]) == 2
    assert report.main(["report"]) == 0 and "| 1 | 1 |" in capsys.readouterr().out
    stale = tmp_path / "README.md"
    stale.write_text(f"{report.BEGIN}\nold\n{report.END}\n", encoding="utf-8")
    assert report.main(["report", "--check", str(stale)]) == 1
    assert "stale" in capsys.readouterr().err
    stale.write_text(f"before\n{report.render(report.compute())}\nafter\n", encoding="utf-8")
    assert report.main(["report", "--check", str(stale)]) == 0
