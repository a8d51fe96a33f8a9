"""The book's figures: one plotting function per figure, each returning a matplotlib ``Figure``.

Notebooks call these functions to show a figure; ``write_figures`` (``make figures``,
``python -m optimlab.plots``) saves every one of them to ``figures/`` byte for byte reproducibly.
Matplotlib is imported only here (the ``plot`` extra), never by the rest of the package.
"""

from optimlab.plots.registry import FIGURES, save_figure, write_figures
from optimlab.plots.notebook import glue, show, torch_parity_report

__all__ = ["FIGURES", "save_figure", "write_figures", "glue", "show", "torch_parity_report"]
