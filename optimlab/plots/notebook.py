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
    ``IPython.display.HTML`` value is recorded as HTML too, which a chapter pastes as a block with
    ``:::{glue} name`` and ``:doc: /notebooks/NN_topic.py`` (myst-nb's ``glue:md`` reads only its own
    document).
    """
    from IPython.display import HTML, display

    if isinstance(value, numbers.Number) and hasattr(value, "item"):
        value = value.item()
    record = {GLUE_PREFIX + "text/plain": repr(value)}
    if isinstance(value, HTML):
        record[GLUE_PREFIX + "text/html"] = value.data
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


def torch_parity_report(cases, *, steps: int = 50, tolerance: float = 1e-12) -> tuple[str, float]:
    """Run ``optimlab.verify.parity.run_torch_parity`` for each ``(ours_cls, torch_cls, hyperparameters)``
    (float64, ``steps`` noisy steps, parameters and every state tensor compared after each step).

    Returns one line per case and the largest relative error; raises ``AssertionError`` listing every
    case when one misses ``tolerance`` or disagrees on the state's keys, so a notebook cell fails.
    """
    from optimlab.verify.parity import run_torch_parity

    lines, worst, failed = [], 0.0, False
    for ours, theirs, hyper in cases:
        result = run_torch_parity(ours, theirs, hyper, steps=steps)
        failed |= not result.ok(tolerance)
        worst = max(worst, result.error)
        lines.append(f"{ours.__name__}({hyper}) vs torch.optim.{theirs.__name__}: relative error {result.error:.1e}"
                     + "".join(f"; {problem}" for problem in result.problems))
    report = "\n".join(lines)
    if failed:
        raise AssertionError(f"torch parity above {tolerance:g}:\n{report}")
    return report, worst
