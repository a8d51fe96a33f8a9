"""Sphinx configuration of the optimlab book (built by ``make book``).

The source directory is the repository root (chapters and notebooks live there); this folder holds
only the configuration. Run as ``sphinx-build -c book . _build/html``. Math is typeset by a local
MathJax 3 bundle that ``make book`` installs from npm into ``_build/mathjax``; nothing is loaded
from outside at read time.
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from notebook_cache import NOTEBOOK_FORMAT, ROOT, cache_path  # noqa: E402

MATHJAX_DIR = Path(os.environ.get("OPTIMLAB_MATHJAX_DIR", ROOT / "_build" / "mathjax"))
MATHJAX_FILE = "tex-svg-full.js"  # the plain tex-svg.js lacks \boldsymbol and friends
if not (MATHJAX_DIR / MATHJAX_FILE).is_file():
    raise RuntimeError(
        f"{MATHJAX_DIR / MATHJAX_FILE} is missing: run `make book` (it installs MathJax 3 from npm)"
    )

project = "optimlab"
author = "the optimlab authors"
copyright = "the optimlab authors"

extensions = ["myst_nb", "sphinx.ext.mathjax"]

root_doc = "index"
include_patterns = ["index.md", "chapters/*.md", "notebooks/*.py", "drill/*.py"]  # drill/: one page per quiz topic
exclude_patterns = ["_build", ".venv", "**/.ipynb_checkpoints"]

# Notebooks: jupytext py:percent is the only committed form. Each is executed by the build unless the
# test suite has already executed it on the same sources (see notebook_cache.py).
nb_custom_formats = {".py": ["jupytext.reads", {"fmt": NOTEBOOK_FORMAT}]}
nb_execution_mode = "cache"
nb_execution_cache_path = str(cache_path())
nb_execution_raise_on_error = True  # a failing cell fails the build
nb_execution_timeout = 600
nb_execution_show_tb = True
nb_merge_streams = True

myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_dmath_double_inline = True
myst_heading_anchors = 3

# Math: local MathJax 3, SVG output (no web fonts).
html_static_path = ["_static", str(MATHJAX_DIR)]
mathjax_path = MATHJAX_FILE
mathjax3_config = {
    "tex": {"macros": {"R": r"\mathbb{R}", "E": r"\mathbb{E}"}},
    "svg": {"fontCache": "global"},
}

html_theme = "sphinx_book_theme"
html_title = "optimlab: neural-network optimizers from first principles"
html_show_sphinx = False
html_show_sourcelink = False
html_copy_source = False
html_last_updated_fmt = None
html_theme_options = {
    "show_toc_level": 2,
    "use_download_button": False,
    "use_fullscreen_button": False,
    "use_repository_button": False,
    "use_source_button": False,
    "use_issues_button": False,
    "use_edit_page_button": False,
    "extra_footer": "",
}
html_css_files = ["optimlab.css"]
