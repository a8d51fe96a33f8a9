"""The ledger table: one row per claim, verdict and numbers from the evidence, cells kept intact."""

from optimlab.claims import CAVEAT, HOLDS, Claim, Verdict
from optimlab.claims.ledger import COLUMNS, key_numbers, ledger_html, ledger_markdown


def make_claim(number, evidence, verdict, statement="a | <b>"):
    return Claim(number, statement, "E", "adam", "criterion", "tiny scale", lambda: evidence, lambda e: verdict)


CLAIMS = {2: make_claim(2, {"gap": 3.0}, Verdict(CAVEAT, "only | sometimes")),
          1: make_claim(1, {"err": 1e-17}, Verdict(HOLDS))}


def test_key_numbers_picks_numbers_and_short_lists_in_order():
    evidence = {"flag": True, "x": 0.123456, "name": "text", "pair": [1, 2.5], "long": [1, 2, 3, 4, 5],
                "nested": {"a": 1}, "y": 7, "z": 8}
    assert key_numbers(evidence) == "x = 0.1235; pair = [1, 2.5]; y = 7"
    assert key_numbers({}) == ""


def test_markdown_rows_in_number_order_with_escaped_cells_and_links():
    lines = ledger_markdown(CLAIMS, where=lambda c: f"[ch. {c.number}](x.md)").splitlines()
    assert lines[0] == "| " + " | ".join(COLUMNS) + " |" and len(lines) == 4
    assert lines[2] == "| 1 | a \\| <b> | E | **holds** | err = 1e-17 | tiny scale | [ch. 1](x.md) |"
    assert lines[3].startswith("| 2 | a \\| <b> | E | **holds with a caveat**: only \\| sometimes | gap = 3 |")
    assert all(line.count(" | ") == len(COLUMNS) - 1 for line in lines[:1] + lines[2:])  # escaped pipes split nothing


def test_html_rows_escape_text_and_link_where_asked():
    table = ledger_html(CLAIMS, link=lambda c: ("chapter 5", "05-adam.html") if c.number == 2 else None)
    assert table.count("<tr>") == 3 and table.count("<th>") == len(COLUMNS)
    assert "<td>a | &lt;b&gt;</td>" in table and "<b>" not in table
    first, second = table.split("<tr>")[2:]
    assert first.startswith("<td>1</td>") and "<td><strong>holds</strong></td>" in first and first.endswith("<td></td></tr>")
    assert "<td><strong>holds with a caveat</strong>: only | sometimes</td>" in second
    assert '<td><a href="05-adam.html">chapter 5</a></td></tr>' in second
