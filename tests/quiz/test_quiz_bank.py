"""The question bank: size and coverage, every question answerable and checkable, and no answer
number that the code could have computed but that was typed in instead."""

import functools
import math
import re
import string
import types

import pytest

from optimlab.quiz import BANK, TOPICS, Question, questions

QUESTIONS = questions()
NUMERIC = [q for q in QUESTIONS if q.kind == "numeric"]
# Numbers a worked answer may state literally: small integers that are part of a formula (1 − β, 2/λ,
# ρ_t > 4, x²...), and the numbers the prompt itself gives. Everything else must be a placeholder
# filled from the computation (or from a parameter).
FORMULA_CONSTANTS = {0.0, 1.0, 2.0, 3.0, 4.0}
LITERAL_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w.])")


@functools.cache
def solved(qid: str) -> dict:
    return BANK[qid].solve()


def literal_numbers(template: str) -> list[float]:
    """The numbers typed into a template outside its ``{placeholders}``."""
    text = "".join(literal for literal, _, _, _ in string.Formatter().parse(template))
    return [float(m) for m in LITERAL_NUMBER.findall(text)]


def test_the_bank_has_at_least_sixty_questions_across_every_topic():
    assert len(QUESTIONS) >= 60
    per_topic = {topic: len(questions([topic])) for topic in TOPICS}
    assert min(per_topic.values()) >= 3, per_topic
    assert {q.kind for q in QUESTIONS} == {"numeric", "choice", "short"}


@pytest.mark.parametrize("question", QUESTIONS, ids=lambda q: q.qid)
def test_question_is_answerable_and_checkable(question):
    values = solved(question.qid)
    assert question.answer in values
    explanation = question.explanation(values)  # every placeholder is filled
    assert "{" not in explanation and "}" not in explanation
    expected = question.expected(values)
    if question.kind == "numeric":
        answer = float(values[question.answer])
        assert math.isfinite(answer) and answer != 0
        assert question.check(expected, values)  # the 4-significant-figure form is accepted
        assert question.check(repr(answer), values)
        assert not question.check(repr(answer * (1 + 3 * question.rtol) + 1e-3 * abs(answer)), values)
        assert not question.check("no idea", values)
    elif question.kind == "choice":
        assert expected in "abcdefgh"[:len(question.choices)]
        assert question.check(expected.upper() + ")", values)
        assert not any(question.check(other, values) for other in "abcdefgh"[:len(question.choices)] if other != expected)
    else:
        assert question.check(" and ".join(group[0] for group in question.keywords), values)
        assert not question.check("no idea", values)


@pytest.mark.parametrize("question", QUESTIONS, ids=lambda q: q.qid)
def test_worked_answer_types_in_no_computed_number(question):
    allowed = FORMULA_CONSTANTS | set(literal_numbers(question.prompt))
    typed = [n for n in literal_numbers(question.worked) if n not in allowed]
    assert typed == [], f"{question.qid}: numbers typed into the worked answer: {typed}"


def _perturbed(value):
    """A nearby valid-looking value of a parameter (``None`` for those that are not numbers)."""
    if isinstance(value, bool) or isinstance(value, str):
        return None
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value * 0.9
    if isinstance(value, tuple) and all(isinstance(v, (int, float)) for v in value):
        return tuple(v * 0.9 for v in value)
    return None


@pytest.mark.parametrize("question", NUMERIC, ids=lambda q: q.qid)
def test_numeric_answer_follows_its_inputs(question):
    """Change one input at a time (floats by −10%, ints by +1): some change must move the answer,
    which a typed-in constant would not."""
    baseline = float(solved(question.qid)[question.answer])
    moved = []
    for name, value in question.params.items():
        nearby = _perturbed(value)
        if nearby is None:
            continue
        try:
            answer = float(question.solve(**{name: nearby})[question.answer])
        except (ValueError, AssertionError):  # outside the question's valid range
            continue
        moved.append(not math.isclose(answer, baseline, rel_tol=1e-9))
    assert any(moved), f"{question.qid}: no input changes the answer {baseline}"


def _names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            names |= _names(constant)
    return names


@pytest.mark.parametrize("question", QUESTIONS, ids=lambda q: q.qid)
def test_each_computation_runs_optimlab(question):
    namespace = question.compute.__globals__
    used = [namespace[name] for name in _names(question.compute.__code__) if name in namespace]
    library = [obj for obj in used if getattr(obj, "__module__", "").startswith("optimlab.")
               and getattr(obj, "__module__", "") != "optimlab.quiz.bank"]
    assert library, f"{question.qid} calls nothing from optimlab"
    assert question.code.startswith(f"def {question.compute.__name__}(")


def _question(**overrides):
    fields = dict(qid="q", topic="gd", kind="numeric", prompt="p", compute=lambda: {"answer": 0.25}, worked="w")
    return Question(**{**fields, **overrides})


def test_numeric_replies_are_parsed_and_checked_within_rtol():
    question = _question(rtol=0.01)
    values = {"answer": 0.25}
    for reply in ("0.25", " .25 ", "2.5e-1", "0.2520", "+0.248"):
        assert question.check(reply, values), reply
    for reply in ("0.26", "-0.25", "1/4", "0.25.1", "", "abc"):
        assert not question.check(reply, values), reply
    exact = _question(rtol=0.0)
    assert exact.check("6", {"answer": 6}) and not exact.check("6.0001", {"answer": 6})


def test_choice_replies_accept_the_usual_ways_of_writing_a_letter():
    question = _question(kind="choice", choices=("x", "y", "z"))
    values = {"answer": "b"}
    assert all(question.check(reply, values) for reply in ("b", "B", " b) ", "(b)", "b."))
    assert not any(question.check(reply, values) for reply in ("a", "bb", "y", ""))


def test_question_fields_are_validated():
    with pytest.raises(ValueError, match="topic"):
        _question(topic="astrology")
    with pytest.raises(ValueError, match="kind"):
        _question(kind="essay")
    with pytest.raises(ValueError, match="choices"):
        _question(kind="choice")
    with pytest.raises(ValueError, match="keywords"):
        _question(kind="short")
    with pytest.raises(ValueError, match="choices"):
        _question(choices=("x", "y"))
