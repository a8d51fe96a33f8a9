"""Tables the chapters show are pasted output of optimlab code (myst-nb's ``glue:md`` cannot paste
from another document): each must still be exactly what the code produces now, or the test fails."""

from optimlab.optim.memory import markdown_table, state_bytes_table
from optimlab.optim.variants import variants_markdown
from book_paths import ROOT


def test_chapter_09_variants_table_is_the_registry():
    chapter = (ROOT / "chapters" / "09-sign-and-matrix.md").read_text()
    assert variants_markdown(["Lion", "Muon", "Shampoo"]) in chapter


def test_chapter_10_bytes_table_is_the_measurement():
    chapter = (ROOT / "chapters" / "10-memory-efficient.md").read_text()
    assert markdown_table(state_bytes_table()) in chapter
