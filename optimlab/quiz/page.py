"""The book's drill pages: each page under ``drill/`` calls ``show_topic`` in a cell, so its
questions, computed answers and code are rebuilt from the bank every time the book is built."""

from __future__ import annotations

from optimlab.quiz.bank import TOPICS, questions


def _quoted(text: str) -> str:
    return "\n".join(f"> {line}" for line in text.splitlines())


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


def topic_markdown(topic: str) -> str:
    """Markdown for every question of ``topic``: prompt, options, answer, worked answer and code."""
    if topic not in TOPICS:
        raise ValueError(f"topic must be one of {list(TOPICS)}, got {topic!r}")
    parts = []
    for number, question in enumerate(questions([topic]), 1):
        values = question.solve()
        options = "".join(f"\n- {option}" for option in question.options())
        parts.append(
            f"**Question {number}** ({question.kind}, `{question.qid}`)\n\n{question.text()}\n{options}\n\n"
            f"{_quoted(_sentence(question.answer_line(values)) + ' ' + question.explanation(values))}\n\n"
            f"```python\n{question.code.rstrip()}\n```\n"
        )
    return "\n".join(parts)


def show_topic(topic: str):
    """Display ``topic_markdown(topic)`` in a notebook (the drill pages' only code cell)."""
    from IPython.display import Markdown, display

    display(Markdown(topic_markdown(topic)))
