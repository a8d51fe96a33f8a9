"""Every stored figure is what its plotting function draws now, byte for byte."""

import re

import pytest
from filelock import FileLock

from optimlab.plots import FIGURES, write_figures
from book_paths import CHAPTERS, ROOT

FIGURE_DIR = ROOT / "figures"


@pytest.fixture(scope="session")
def drawn(tmp_path_factory, worker_id):
    """Every figure drawn now, once per test run (xdist's workers share the drawing through their
    common temporary folder): one child process with the pinned environment (see
    ``optimlab.plots.registry``)."""
    base = tmp_path_factory.getbasetemp()
    outdir = (base if worker_id == "master" else base.parent) / "figures-drawn"
    with FileLock(f"{outdir}.lock"):
        if not outdir.exists():
            partial = outdir.with_name("figures-drawing")
            write_figures(partial)
            partial.rename(outdir)  # only a complete drawing is shared
    return outdir


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_figure_is_reproduced_byte_for_byte(name, drawn):
    fresh = drawn / f"{name}.svg"
    stored = FIGURE_DIR / f"{name}.svg"
    assert stored.exists(), f"{stored} is missing: run `make figures`"
    assert fresh.read_bytes() == stored.read_bytes(), f"{stored.name} is stale: run `make figures`"


def test_no_stored_figure_without_code():
    assert sorted(p.stem for p in FIGURE_DIR.iterdir()) == sorted(FIGURES)


def test_chapters_show_only_generated_figures():
    shown = {m for c in CHAPTERS for m in re.findall(r"figures/([\w-]+)\.svg", c.read_text())}
    assert shown == set(FIGURES), "every stored figure is shown by a chapter, and only those"


def test_unknown_figure_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="unknown figure"):
        write_figures(tmp_path, ["no_such_figure"])
