"""The question bank: each question is a prompt, a function that computes its answer with optimlab,
and a worked answer filled in from the computed numbers.

A question's ``compute(**params)`` runs the library (an optimizer's real step, a schedule, a state
measurement) and returns a dict of numbers; ``values[answer]`` is the expected reply and
``worked.format(**params, **values)`` the model answer, so no number in an answer is typed in.
Replies are checked by kind:

* ``numeric``: a number within ``rtol`` (relative) of the computed answer (default 1%, since a
  person answers to two or three significant figures); ``rtol=0`` asks for the exact value;
* ``choice``: the letter of the option the computation picked (``compute`` returns it);
* ``short``: free text that contains, for every group in ``keywords``, one of that group's words.
"""

from __future__ import annotations

import inspect
import math
import re
import textwrap
from dataclasses import dataclass, field
from typing import Callable

KINDS = ("numeric", "choice", "short")
TOPICS = {  # key: title, in the book's order
    "gd": "Gradient descent on quadratics",
    "momentum": "Momentum and Nesterov",
    "adaptive": "AdaGrad, RMSprop and Adadelta",
    "adam": "Adam and its variants",
    "weight-decay": "Weight decay",
    "schedules": "Schedules and warmup",
    "lr-finder": "Finding the learning rate",
    "sign-matrix": "Sign and matrix methods: Lion, Muon, Shampoo",
    "memory": "Optimizer memory",
    "large-batch": "Large batches: LARS and LAMB",
    "averaging": "Schedule-free methods and averaging",
    "curvature": "Curvature: L-BFGS and Sophia",
    "numerics": "Numerics: fp16, loss scaling, clipping",
    "gpu": "The GPU: bytes per step",
}
LETTERS = "abcdefgh"
NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


@dataclass(frozen=True)
class Question:
    """One drill question; see the module docstring for how ``compute``, ``answer`` and ``worked`` fit."""

    qid: str
    topic: str
    kind: str
    prompt: str
    compute: Callable[..., dict]
    worked: str
    params: dict = field(default_factory=dict)
    answer: str = "answer"
    choices: tuple[str, ...] = ()
    keywords: tuple[tuple[str, ...], ...] = ()
    rtol: float = 0.01

    def __post_init__(self):
        if self.topic not in TOPICS:
            raise ValueError(f"topic must be one of {list(TOPICS)}, got {self.topic!r}")
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if (self.kind == "choice") != bool(self.choices):
            raise ValueError(f"question {self.qid}: choices go with kind 'choice' only")
        if (self.kind == "short") != bool(self.keywords):
            raise ValueError(f"question {self.qid}: keywords go with kind 'short' only")

    def _shown(self) -> dict:
        """The parameters as a person reads them: whole floats without ``.0`` (7 billion, not 7.0)."""
        return {name: int(value) if isinstance(value, float) and value.is_integer() and abs(value) < 1e15 else value
                for name, value in self.params.items()}

    def text(self) -> str:
        """The prompt with its parameters filled in."""
        return self.prompt.format(**self._shown())

    def options(self) -> list[str]:
        """The lettered options of a choice question (``a) ...``), empty for the other kinds."""
        return [f"{letter}) {choice}" for letter, choice in zip(LETTERS, self.choices)]

    def solve(self, **overrides) -> dict:
        """Run the computation (with ``overrides`` of the parameters, for tests)."""
        return self.compute(**{**self.params, **overrides})

    def expected(self, values: dict) -> str:
        """The expected reply as text: the number (4 significant figures), the letter, or the keywords."""
        value = values[self.answer]
        if self.kind == "numeric":
            return f"{value:.4g}"
        if self.kind == "choice":
            return value
        return " and ".join("/".join(group) for group in self.keywords)

    def answer_line(self, values: dict) -> str:
        """``the answer is 0.4`` (numeric, choice) or ``a right answer mentions inf/nan and eps`` (short)."""
        lead = "a right answer mentions" if self.kind == "short" else "the answer is"
        return f"{lead} {self.expected(values)}"

    def explanation(self, values: dict) -> str:
        return self.worked.format(**self._shown(), **values)

    def check(self, reply: str, values: dict) -> bool:
        """Whether ``reply`` (what the person typed) is right, by the rule of this question's kind."""
        reply = reply.strip().lower()
        if self.kind == "choice":
            return reply.strip("().: ") == values[self.answer]  # "b", "B)", "(b)", "b."
        if self.kind == "short":
            return all(any(word.lower() in reply for word in group) for group in self.keywords)
        number = reply.replace(",", "").replace(" ", "").replace("−", "-")
        if NUMBER.fullmatch(number) is None:
            return False
        return math.isclose(float(number), float(values[self.answer]), rel_tol=self.rtol, abs_tol=0.0)

    @property
    def code(self) -> str:
        """The source of ``compute``: the code that proves the answer."""
        source = textwrap.dedent(inspect.getsource(self.compute))
        return source[source.index("def "):]  # without the registering decorator


BANK: dict[str, Question] = {}


def question(topic: str, kind: str, prompt: str, worked: str, **options):
    """Decorator: register the decorated function as the ``compute`` of a question named after it."""
    def register(compute: Callable[..., dict]) -> Callable[..., dict]:
        qid = compute.__name__.replace("_", "-")
        if qid in BANK:
            raise ValueError(f"question {qid} is registered twice")
        BANK[qid] = Question(qid, topic, kind, prompt, compute, worked, **options)
        return compute
    return register


def letter(index) -> str:
    """The option letter of the computation's pick (``index`` counts from 0)."""
    return LETTERS[int(index)]


def questions(topics=None) -> list[Question]:
    """The bank's questions in the book's topic order, optionally only those of ``topics``."""
    order = list(TOPICS)
    chosen = [q for q in BANK.values() if topics is None or q.topic in topics]
    return sorted(chosen, key=lambda q: order.index(q.topic))
