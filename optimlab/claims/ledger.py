"""The ledger table: one row per registered claim, computed from its evidence and verdict.

Columns: number, claim, kind, verdict (with its note), the key numbers of the evidence, the scale it
was tried at, and where the book treats it. Rendered as markdown (a notebook's output) or as HTML
(pasted into a chapter by myst-nb's ``{glue}`` directive, which carries HTML across documents).
"""

from __future__ import annotations

import html
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


def _rows(claims: dict[int, Claim]):
    """Per claim in number order: (claim, status, note, the other plain-text cells in column order)."""
    for number in sorted(claims):
        claim = claims[number]
        verdict = claim.verdict()
        yield claim, verdict.status, verdict.note, (str(number), claim.statement, claim.kind,
                                                    key_numbers(claim.evidence()), claim.scale)


def ledger_markdown(claims: dict[int, Claim], where: Callable[[Claim], str] = lambda c: "") -> str:
    """The ledger as a markdown table; ``where(claim)`` fills the last column (text or a link)."""
    def cell(text) -> str:
        return " ".join(str(text).split()).replace("|", "\\|")

    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for claim, status, note, (number, statement, kind, numbers_, scale) in _rows(claims):
        verdict = f"**{status}**" + (f": {note}" if note else "")
        cells = (number, statement, kind, verdict, numbers_, scale, where(claim))
        lines.append("| " + " | ".join(cell(c) for c in cells) + " |")
    return "\n".join(lines)


def ledger_html(claims: dict[int, Claim], link: Callable[[Claim], tuple[str, str] | None] = lambda c: None) -> str:
    """The ledger as an HTML table; ``link(claim)`` gives ``(text, href)`` for the last column, or ``None``."""
    def cell(text) -> str:
        return f"<td>{html.escape(str(text))}</td>"

    head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
    rows = []
    for claim, status, note, (number, statement, kind, numbers_, scale) in _rows(claims):
        verdict = f"<td><strong>{html.escape(status)}</strong>" + (f": {html.escape(note)}" if note else "") + "</td>"
        target = link(claim)
        where = f'<td><a href="{html.escape(target[1])}">{html.escape(target[0])}</a></td>' if target else "<td></td>"
        rows.append("<tr>" + "".join(map(cell, (number, statement, kind))) + verdict
                    + "".join(map(cell, (numbers_, scale))) + where + "</tr>")
    return (f'<table class="table claims-ledger"><thead><tr>{head}</tr></thead><tbody>'
            + "".join(rows) + "</tbody></table>")
