"""``optimlab race`` and ``optimlab figures``: what they write, and a clear exit 2 for every bad argument."""

from pathlib import Path

import numpy as np
import pytest
import torch

from optimlab.cli import main
from optimlab.optim import Adam
from optimlab.problems import Rosenbrock, run_optimizer
from optimlab.race import DEFAULT_LRS, RACERS, SCALE_FREE_LRS, Racer, parse_racer, run_race

STORED = Path(__file__).resolve().parents[1] / "figures"


def test_help_names_every_option(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["race", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert all(option in out for option in ("--optimizers", "--function", "--steps", "--out"))


def test_race_writes_a_reproducible_svg_and_a_table(tmp_path, capsys):
    first, second = tmp_path / "a.svg", tmp_path / "b.svg"
    assert main(["race", "--optimizers", "SGD", "Adam:0.02", "--steps", "40", "--out", str(first)]) == 0
    out = capsys.readouterr().out
    assert "SGD (lr=0.001)" in out and "Adam (lr=0.02)" in out and f"wrote {first}" in out
    assert main(["race", "--optimizers", "SGD", "Adam:0.02", "--steps", "40", "--out", str(second)]) == 0
    assert first.read_bytes().startswith(b"<?xml") and first.read_bytes() == second.read_bytes()


def test_race_writes_png(tmp_path):
    out = tmp_path / "race.png"
    assert main(["race", "--function", "saddle", "--steps", "20", "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_diverging_racer_is_reported_not_fatal(tmp_path, capsys):
    assert main(["race", "--optimizers", "SGD:0.1", "--steps", "30", "--out", str(tmp_path / "r.svg")]) == 0
    assert "diverged" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--optimizers", "Adamm"], "unknown optimizer 'Adamm'"),
    (["--optimizers", "Adam:fast"], "must be a number, got 'fast'"),
    (["--optimizers", "Adam:0"], "positive and finite, got '0'"),
    (["--optimizers", "Adam:nan"], "positive and finite, got 'nan'"),
    (["--function", "himmelblau"], "invalid choice: 'himmelblau'"),
    (["--steps", "0"], "expected a positive integer, got 0"),
    (["--steps", "-5"], "expected a positive integer, got -5"),
    (["--steps", "many"], "expected a positive integer, got 'many'"),
    (["--out", "race.pdf"], "must end in .svg or .png"),
    (["--out", "no/such/folder/race.svg"], "does not exist"),
    (["--optimizers", "Adam", "Adam:0.05"], "listed twice: Adam (lr=0.05)"),
])
def test_bad_arguments_exit_2_with_a_message(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    try:
        code = main(["race", *argv])
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    assert code == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_output_that_is_a_directory_is_refused(tmp_path, capsys):
    (tmp_path / "x.svg").mkdir()
    assert main(["race", "--out", str(tmp_path / "x.svg")]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_default_learning_rates():
    assert parse_racer("SGD", "rosenbrock") == Racer("SGD", DEFAULT_LRS["rosenbrock"]["SGD"])
    assert parse_racer("Adam", "beale") == Racer("Adam", SCALE_FREE_LRS["Adam"])
    assert parse_racer("Lion:3e-3", "saddle") == Racer("Lion", 3e-3)
    for function in DEFAULT_LRS:  # every racer has a default on every function
        assert all(parse_racer(name, function).lr > 0 for name in RACERS), function


def test_race_matches_torch_on_the_same_function():
    """The racer is the library's Adam: it follows torch.optim.Adam's path (float64, 1e-12 relative;
    the same formula in another operation order differs by a few ulp per step)."""
    (trajectory,) = run_race("rosenbrock", [Racer("Adam", 0.02)], 200).values()
    reference = run_optimizer(Rosenbrock(), torch.optim.Adam, 200, lr=0.02)
    assert np.allclose(trajectory.points, reference.points, rtol=1e-12, atol=1e-12)
    ours = run_optimizer(Rosenbrock(), Adam, 200, lr=0.02)
    assert np.array_equal(trajectory.points, ours.points)


def test_figures_command_writes_the_stored_figure(tmp_path, capfd):
    """Drawn in a child process started with the pinned environment (its output is the child's)."""
    assert main(["figures", "--outdir", str(tmp_path), "schedule_shapes"]) == 0
    assert (tmp_path / "schedule_shapes.svg").read_bytes() == (STORED / "schedule_shapes.svg").read_bytes()
    assert f"wrote {tmp_path / 'schedule_shapes.svg'}" in capfd.readouterr().out


def test_figures_command_refuses_unknown_names(tmp_path, capsys):
    assert main(["figures", "--outdir", str(tmp_path), "schedule_shapes", "no_such_figure"]) == 2
    assert "unknown figure(s) ['no_such_figure']" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
