"""Where executed notebooks are cached, so that the book reuses the test suite's executions.

``tests/book/test_notebooks.py`` runs every notebook and stores the executed copy in a
jupyter-cache folder; ``make book`` (myst-nb's ``cache`` mode) takes a notebook's outputs from there
when its code cells are unchanged, and executes it otherwise. jupyter-cache keys a notebook by its
code cells only, so the folder's name carries a digest of everything else a notebook reads: the
package's sources, the pinned dependencies and the chapters (the ledger links to them). Edit any of
them and the book executes every notebook afresh.
"""

import hashlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_FORMAT = "py:percent"  # jupytext's, the notebooks' only committed form


def _inputs():
    yield ROOT / "pyproject.toml"
    yield from sorted((ROOT / "optimlab").rglob("*.py"))
    yield from sorted((ROOT / "chapters").glob("*.md"))


def sources_digest() -> str:
    """SHA-256 (first 16 hex digits) over the paths and bytes of the notebooks' inputs."""
    digest = hashlib.sha256()
    for path in _inputs():
        digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def cache_path() -> Path:
    """The jupyter-cache folder of the current sources (``_build/.jupyter_cache/<digest>``)."""
    return ROOT / "_build" / ".jupyter_cache" / sources_digest()
