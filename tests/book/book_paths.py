"""Paths shared by the book's tests (imported by name: pytest puts this folder on sys.path)."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]-*.md"))
HTML = Path(os.environ.get("OPTIMLAB_BOOK_HTML", ROOT / "_build" / "html"))

sys.path.insert(0, str(ROOT / "book"))
from notebook_cache import NOTEBOOK_FORMAT, cache_path  # noqa: E402

NOTEBOOK_CACHE = cache_path()  # where the notebook tests leave executed notebooks for `make book`
