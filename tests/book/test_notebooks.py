"""Every companion notebook runs from top to bottom (its asserts are the chapter's checks)."""

import jupytext
import nbclient
import pytest

from book_paths import CHAPTERS, NOTEBOOKS


def test_there_are_notebooks_and_chapters():
    assert NOTEBOOKS and CHAPTERS


def test_each_chapter_has_its_notebook():
    numbers = {path.name[:2] for path in NOTEBOOKS}
    assert [c.name for c in CHAPTERS if c.name[:2] not in numbers] == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path):
    notebook = jupytext.read(path)
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()  # raises CellExecutionError on the first failing cell
    assert all(cell.get("execution_count") for cell in notebook.cells if cell.cell_type == "code")
