"""The quiz session on in-memory streams, ``optimlab quiz``'s arguments, and the book's drill pages."""

import io
import re
from pathlib import Path

import jupytext
import nbclient
import pytest

from optimlab.cli import build_parser, main
from optimlab.quiz import TOPICS, questions
from optimlab.quiz.page import topic_markdown
from optimlab.quiz.session import run, select

ROOT = Path(__file__).resolve().parents[2]
CHEAP = questions(["schedules"])  # fast to compute: pure schedule functions


def replies_for(chosen, right):
    """A right or a wrong reply to each question (the bank's own answer, to drive the session)."""
    lines = []
    for question, is_right in zip(chosen, right):
        values = question.solve()
        expected = question.expected(values)
        lines.append(expected if is_right else ("z" if question.kind == "choice" else "-12345"))
    return "\n".join(lines) + "\n"


def test_session_scores_reveals_and_finishes():
    chosen = CHEAP[:3]
    out = io.StringIO()
    score = run(chosen, io.StringIO(replies_for(chosen, [True, False, True])), out)
    text = out.getvalue()
    assert (score.right, score.asked) == (2, 3)
    assert text.count("Right.") == 2 and text.count(f"Wrong: the answer is {chosen[1].expected(chosen[1].solve())}.") == 1
    assert text.count("Worked answer:") == 3 and text.count("Code that proves it") == 3
    assert f"def {chosen[0].compute.__name__}(" in text
    assert text.rstrip().endswith("Score: 2/3")


def test_end_of_input_stops_with_the_score_so_far():
    chosen = CHEAP[:3]
    out = io.StringIO()
    score = run(chosen, io.StringIO(replies_for(chosen[:1], [True])), out)
    assert (score.right, score.asked) == (1, 1)
    assert out.getvalue().rstrip().endswith("Score: 1/1 (stopped after 1 of 3 questions)")


def test_blank_lines_ask_again():
    chosen = CHEAP[:1]
    out = io.StringIO()
    score = run(chosen, io.StringIO("\n  \n" + replies_for(chosen, [True])), out)
    assert score.right == 1 and out.getvalue().count("(type an answer; Ctrl-D ends the quiz)") == 2


class _Interrupted(io.StringIO):
    def readline(self, *args):
        raise KeyboardInterrupt


def test_ctrl_c_stops_cleanly():
    out = io.StringIO()
    score = run(CHEAP[:2], _Interrupted(), out)
    assert score.asked == 0 and out.getvalue().rstrip().endswith("Score: 0/0 (stopped after 0 of 2 questions)")


def test_select_filters_counts_and_is_seeded():
    picked = select(["gd", "numerics"], 4, seed=3)
    assert len(picked) == 4 and {q.topic for q in picked} <= {"gd", "numerics"}
    assert [q.qid for q in picked] == [q.qid for q in select(["gd", "numerics"], 4, seed=3)]
    assert len(select(["gd"], 1000, seed=0)) == len(questions(["gd"]))


def test_cli_unknown_topic_is_a_clear_error(capsys):
    assert main(["quiz", "--topic", "gd", "--topic", "astrology"]) == 2
    err = capsys.readouterr().err
    assert "unknown topic(s) astrology" in err and all(topic in err for topic in TOPICS)


@pytest.mark.parametrize("count", ["0", "-3", "five"])
def test_cli_bad_count_is_a_clear_error(count, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["quiz", "-n", count])
    assert exit_info.value.code == 2
    assert f"argument -n/--count: expected a positive integer, got {count}" in capsys.readouterr().err.replace("'", "")


def test_cli_bad_seed_and_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["quiz", "--seed", "x"])
    assert exit_info.value.code == 2 and "--seed: invalid int value" in capsys.readouterr().err
    help_text = build_parser()._subparsers._group_actions[0].choices["quiz"].format_help()
    assert all(option in help_text for option in ("--topic", "--count", "--seed", "--list-topics", "Ctrl-D"))


def test_cli_lists_topics(capsys):
    assert main(["quiz", "--list-topics"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(TOPICS)


def test_one_drill_page_per_topic_calls_the_bank():
    pages = sorted((ROOT / "drill").glob("[0-9][0-9]_*.py"))
    shown = {}
    for path in pages:
        notebook = jupytext.read(path)
        title = notebook.cells[0].source.splitlines()[0]
        (topic,) = re.findall(r'show_topic\("([^"]+)"\)', notebook.cells[1].source)
        assert title == f"# Drill: {TOPICS[topic]}"
        shown[topic] = path.name
    assert list(shown) == list(TOPICS)  # every topic, once, in the book's order


def test_drill_markdown_carries_every_question_with_its_computed_answer():
    markdown = topic_markdown("schedules")
    for question in CHEAP:
        values = question.solve()
        assert question.text() in markdown and question.explanation(values) in markdown
        assert f"The answer is {question.expected(values)}." in markdown and question.code.rstrip() in markdown
    with pytest.raises(ValueError, match="topic"):
        topic_markdown("astrology")


def test_a_drill_page_executes_and_shows_its_questions():
    notebook = jupytext.read(ROOT / "drill" / "06_schedules.py")
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3").execute()
    (output,) = notebook.cells[1].outputs
    assert output["output_type"] == "display_data"
    assert output["data"]["text/markdown"] == topic_markdown("schedules")
