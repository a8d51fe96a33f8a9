"""Every companion notebook runs from top to bottom (its asserts are the chapter's checks).

A notebook that passes is stored, executed, in the book's notebook cache (``book/notebook_cache.py``),
so that ``make book`` shows these outputs instead of running the notebook a second time.
"""

import time

import jupytext
import nbclient
import pytest
from filelock import FileLock
from jupyter_cache import get_cache
from jupyter_cache.base import CacheBundleIn

from book_paths import CHAPTERS, NOTEBOOK_CACHE, NOTEBOOK_FORMAT, NOTEBOOKS


def test_there_are_notebooks_and_chapters():
    assert NOTEBOOKS and CHAPTERS


def test_each_chapter_has_its_notebook():
    numbers = {path.name[:2] for path in NOTEBOOKS}
    assert [c.name for c in CHAPTERS if c.name[:2] not in numbers] == []


def store(notebook, path, seconds):
    """Put an executed notebook into the book's cache (one writer at a time: xdist runs two) and
    check that the book, reading the file as its configuration does, finds it there."""
    NOTEBOOK_CACHE.mkdir(parents=True, exist_ok=True)
    with FileLock(NOTEBOOK_CACHE.parent / f"{NOTEBOOK_CACHE.name}.lock"):
        cache = get_cache(NOTEBOOK_CACHE)
        bundle = CacheBundleIn(notebook, str(path), data={"execution_seconds": seconds})
        record = cache.cache_notebook_bundle(bundle, check_validity=False, overwrite=True)
        as_the_book_reads_it = jupytext.reads(path.read_text(), fmt=NOTEBOOK_FORMAT)
        assert cache.match_cache_notebook(as_the_book_reads_it).pk == record.pk


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path):
    notebook = jupytext.read(path)
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    # record_timing=False: timings in the cells' metadata would change the key the cache files it under
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3", record_timing=False,
                                     resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError on the first failing cell
    assert all(cell.get("execution_count") for cell in notebook.cells if cell.cell_type == "code")
    store(notebook, path, time.perf_counter() - start)
