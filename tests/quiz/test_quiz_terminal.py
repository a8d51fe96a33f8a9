"""``optimlab quiz`` in a real terminal: pexpect runs the command in a pseudo-terminal, answers one
question right and one wrong, and ends with Ctrl-D (end of input) or Ctrl-C."""

import os
import sys
from pathlib import Path

import pexpect
import pytest

from optimlab.quiz.session import select

TOPIC, COUNT, SEED = "schedules", 3, 7
SCRIPT = Path(sys.executable).with_name("optimlab")  # the console script the package installs


def spawn(*quiz_args):
    command, args = (str(SCRIPT), []) if SCRIPT.exists() else (sys.executable, ["-m", "optimlab.cli"])
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "TERM": "dumb"}
    return pexpect.spawn(command, args + ["quiz", *quiz_args], encoding="utf-8", timeout=120, dimensions=(50, 200),
                         env=env)


@pytest.fixture
def quiz():
    child = spawn("--topic", TOPIC, "-n", str(COUNT), "--seed", str(SEED))
    yield child
    child.close(force=True)


def test_asks_accepts_scores_and_ends_cleanly_on_end_of_input(quiz):
    first, second, _ = select([TOPIC], COUNT, SEED)  # the questions the command will ask, in order
    quiz.expect_exact(f"Question 1 of {COUNT}")
    quiz.expect_exact(first.text()[:40])
    quiz.expect_exact("answer> ")
    quiz.sendline(first.expected(first.solve()))
    quiz.expect_exact("Right.")
    quiz.expect_exact("Code that proves it")
    quiz.expect_exact(f"Question 2 of {COUNT}")
    quiz.expect_exact("answer> ")
    quiz.sendline("-12345")
    quiz.expect_exact(f"Wrong: the answer is {second.expected(second.solve())}.")
    quiz.expect_exact("Worked answer:")
    quiz.expect_exact(f"Question 3 of {COUNT}")
    quiz.expect_exact("answer> ")
    quiz.sendeof()  # Ctrl-D at the start of a line: end of input
    quiz.expect_exact(f"Score: 1/2 (stopped after 2 of {COUNT} questions)")
    quiz.expect(pexpect.EOF)
    quiz.close()
    assert quiz.exitstatus == 0 and quiz.signalstatus is None


def test_ctrl_c_ends_cleanly_with_the_score(quiz):
    quiz.expect_exact("answer> ")
    quiz.sendintr()
    quiz.expect_exact(f"Score: 0/0 (stopped after 0 of {COUNT} questions)")
    quiz.expect(pexpect.EOF)
    quiz.close()
    assert quiz.exitstatus == 0 and "Traceback" not in quiz.before


@pytest.mark.parametrize("args, message", [
    (("--topic", "astrology"), "optimlab quiz: unknown topic(s) astrology; choose from gd, momentum"),
    (("-n", "0"), "argument -n/--count: expected a positive integer, got 0"),
])
def test_bad_arguments_exit_2_with_a_clear_message(args, message):
    child = spawn(*args)
    child.expect_exact(message)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 2
