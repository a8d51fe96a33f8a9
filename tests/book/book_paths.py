"""Paths shared by the book's tests (imported by name: pytest puts this folder on sys.path)."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]-*.md"))
HTML = Path(os.environ.get("OPTIMLAB_BOOK_HTML", ROOT / "_build" / "html"))
