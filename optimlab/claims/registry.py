"""The claims registry: every claim of the ledger as a statement, a function that computes its
evidence (a dict of numbers) and a stated criterion that turns the evidence into a verdict.

A verdict is one of ``HOLDS``, ``CAVEAT`` (holds with a caveat, named in the note) or ``NOT_HERE``
(does not hold at the scale tried, named in the note). Evidence functions are deterministic and
cached, so the ledger, the quiz and the tests share one computation per process.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

HOLDS = "holds"
CAVEAT = "holds with a caveat"
NOT_HERE = "does not hold here"
STATUSES = (HOLDS, CAVEAT, NOT_HERE)


@dataclass(frozen=True)
class Verdict:
    status: str
    note: str = ""

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")


@dataclass(frozen=True)
class Claim:
    """One ledger row: ``evidence()`` computes the numbers, ``judge(evidence)`` applies ``criterion``."""

    number: int
    statement: str
    kind: str
    topic: str
    criterion: str
    scale: str
    evidence: Callable[[], dict]
    judge: Callable[[dict], Verdict]
    slow: bool = False

    def verdict(self) -> Verdict:
        return self.judge(self.evidence())


CLAIMS: dict[int, Claim] = {}


def claim(number: int, statement: str, *, kind: str, topic: str, criterion: str, scale: str,
          judge: Callable[[dict], Verdict], slow: bool = False):
    """Decorator: register the decorated evidence function (cached) as claim ``number``."""
    def register(evidence: Callable[[], dict]) -> Callable[[], dict]:
        if number in CLAIMS:
            raise ValueError(f"claim {number} is registered twice")
        cached = functools.cache(evidence)
        CLAIMS[number] = Claim(number, statement, kind, topic, criterion, scale, cached, judge, slow)
        return cached
    return register


def verdict_if(condition: bool, passed: Verdict, failed: Verdict) -> Verdict:
    """``passed`` when ``condition`` holds, else ``failed`` (keeps each judge a single expression)."""
    return passed if condition else failed
