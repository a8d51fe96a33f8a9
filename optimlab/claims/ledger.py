"""The ledger table: one markdown row per registered claim, computed from its evidence and verdict.

Columns: number, claim, kind, verdict (with its note), the key numbers of the evidence, the scale it
was tried at, and where the book treats it (``where(claim)``: a markdown link or plain text).
"""

from __future__ import annotations

import numbers
from typing import Callable

from optimlab.claims.registry import Claim

COLUMNS = ("#", "claim", "kind", "verdict", "key numbers", "scale tried", "where")


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _formatted(value) -> str | None:
    """A number to 4 significant digits, a short list of numbers as ``[a, b, …]``, else ``None``."""
    if _is_real(value):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)) and 0 < len(value) <= 4 and all(_is_real(v) for v in value):
        return "[" + ", ".join(f"{v:.4g}" for v in value) + "]"
    return None


def key_numbers(evidence: dict, limit: int = 3) -> str:
    """The first ``limit`` numeric entries of ``evidence`` (numbers, short lists of numbers) as
    ``name = value``, 4 significant digits."""
    items = [f"{name} = {text}" for name, text in ((n, _formatted(v)) for n, v in evidence.items()) if text]
    return "; ".join(items[:limit])


def _cell(text: str) -> str:
    """Markdown table cell: pipes escaped, line breaks flattened."""
    return " ".join(str(text).split()).replace("|", "\\|")


def ledger_markdown(claims: dict[int, Claim], where: Callable[[Claim], str] = lambda c: "") -> str:
    """The ledger as a markdown table (claims in number order; each evidence computed once, cached)."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for number in sorted(claims):
        claim = claims[number]
        verdict = claim.verdict()
        status = f"**{verdict.status}**" + (f": {verdict.note}" if verdict.note else "")
        cells = (number, claim.statement, claim.kind, status, key_numbers(claim.evidence()), claim.scale, where(claim))
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines)
