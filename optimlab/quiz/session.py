"""The terminal quiz behind ``optimlab quiz``: pick questions, ask each, check the reply, reveal the
worked answer and the code that proves it, and keep the score.

End of input (Ctrl-D) or Ctrl-C stops the quiz cleanly with the score so far.
"""

from __future__ import annotations

import random
import sys
import textwrap
from dataclasses import dataclass

from optimlab.quiz.bank import TOPICS, Question, questions

WIDTH = 100


@dataclass
class Score:
    right: int = 0
    asked: int = 0

    def __str__(self) -> str:
        return f"{self.right}/{self.asked}"


def select(topics=None, count: int | None = None, seed: int | None = None) -> list[Question]:
    """``count`` questions (all if ``None`` or more than there are) from ``topics``, in random order."""
    pool = questions(topics)
    return random.Random(seed).sample(pool, len(pool) if count is None else min(count, len(pool)))


def _tolerance(question: Question) -> str:
    if question.kind != "numeric":
        return question.kind
    return "numeric, exact" if question.rtol == 0 else f"numeric, within {question.rtol:.0%}"


def _indented(text: str) -> str:
    return textwrap.indent(text.rstrip("\n"), "    ")


def _read_reply(stdin, stdout) -> str | None:
    """The next non-empty line, or ``None`` at end of input."""
    while True:
        stdout.write("answer> ")
        stdout.flush()
        line = stdin.readline()
        if not line:
            return None
        if line.strip():
            return line.strip()
        stdout.write("(type an answer; Ctrl-D ends the quiz)\n")


def ask(question: Question, number: int, total: int, stdin, stdout) -> bool | None:
    """Ask one question; ``True``/``False`` for a right/wrong reply, ``None`` at end of input."""
    values = question.solve()
    stdout.write(f"\nQuestion {number} of {total} · {TOPICS[question.topic]} · {_tolerance(question)}\n")
    stdout.write(textwrap.fill(question.text(), WIDTH) + "\n")
    for option in question.options():
        stdout.write(f"  {option}\n")
    reply = _read_reply(stdin, stdout)
    if reply is None:
        return None
    right = question.check(reply, values)
    stdout.write("Right.\n" if right else f"Wrong: {question.answer_line(values)}.\n")
    stdout.write("Worked answer:\n" + _indented(textwrap.fill(question.explanation(values), WIDTH - 4)) + "\n")
    stdout.write(f"Code that proves it ({question.compute.__module__}.{question.compute.__name__}):\n")
    stdout.write(_indented(question.code) + "\n")
    return right


def run(chosen: list[Question], stdin=None, stdout=None) -> Score:
    """Ask ``chosen`` in turn and print the score; stops early, cleanly, on end of input or Ctrl-C."""
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    score = Score()
    try:
        for number, question in enumerate(chosen, 1):
            right = ask(question, number, len(chosen), stdin, stdout)
            if right is None:
                break
            score.asked += 1
            score.right += right
    except KeyboardInterrupt:
        pass
    stopped = "" if score.asked == len(chosen) else f" (stopped after {score.asked} of {len(chosen)} questions)"
    stdout.write(f"\nScore: {score}{stopped}\n")
    return score


def main(args) -> int:
    """``optimlab quiz``: ``args.topic`` (list or None), ``args.count``, ``args.seed``, ``args.list_topics``."""
    if args.list_topics:
        for key, title in TOPICS.items():
            print(f"{key:<14} {title} ({len(questions([key]))} questions)")
        return 0
    unknown = sorted(set(args.topic or ()) - set(TOPICS))
    if unknown:
        print(f"optimlab quiz: unknown topic(s) {', '.join(unknown)}; choose from {', '.join(TOPICS)}", file=sys.stderr)
        return 2
    run(select(args.topic, args.count, args.seed))
    return 0
