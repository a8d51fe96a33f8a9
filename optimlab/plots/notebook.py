"""Helpers for the companion notebooks."""

from __future__ import annotations

import numbers

GLUE_PREFIX = "application/papermill.record/"


def glue(name: str, value):
    """Record ``value`` under ``name`` for the chapter's prose, and return it.

    The chapter pastes it with ``{glue:text}`/notebooks/NN_topic.py::name:.3g```. The output is
    the scrapbook record that myst-nb reads (what ``myst_nb.glue(name, value, display=False)``
    writes), produced with IPython alone so the notebooks also run where myst-nb is not installed.
    NumPy scalars are converted to Python numbers, whose repr the book can parse. An
    ``IPython.display.Markdown`` value is recorded as markdown too, for ``:::{glue:md} ... :::``.
    """
    from IPython.display import Markdown, display

    if isinstance(value, numbers.Number) and hasattr(value, "item"):
        value = value.item()
    record = {GLUE_PREFIX + "text/plain": repr(value)}
    if isinstance(value, Markdown):
        record[GLUE_PREFIX + "text/markdown"] = value.data
    display(record, raw=True, metadata={"scrapbook": {"name": name, "mime_prefix": GLUE_PREFIX}})
    return value


def show(fig):
    """Display ``fig`` in a notebook as the same SVG that ``write_figures`` saves."""
    import io

    from IPython.display import SVG, display

    from optimlab.plots.registry import save_svg

    buffer = io.BytesIO()
    save_svg(fig, buffer)
    display(SVG(buffer.getvalue()))
