"""``python -m optimlab.plots [OUTDIR] [NAME ...]`` (and ``optimlab figures``): regenerate the book's figures."""

import argparse
import sys

from optimlab.plots import FIGURES, write_figures
from optimlab.plots.registry import pinned, run_pinned


def figures_command(args) -> int:
    """Write the named figures (all by default) into ``args.outdir``, one progress step per figure;
    an unknown name is an error (exit 2) before anything is drawn."""
    from optimlab.training import Progress

    names = args.names or list(FIGURES)
    unknown = [name for name in names if name not in FIGURES]
    if unknown:
        print(f"optimlab figures: error: unknown figure(s) {unknown}; choose from {', '.join(FIGURES)}", file=sys.stderr)
        return 2
    if not pinned():  # one pinned process for all of them (see optimlab.plots.registry)
        return run_pinned([str(args.outdir), *names])
    with Progress(len(names), desc="figures") as bar:
        for name in names:
            (path,) = write_figures(args.outdir, [name])
            bar.update(1, last=name)
            print(f"wrote {path}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m optimlab.plots", description=__doc__)
    parser.add_argument("outdir", nargs="?", default="figures", help="folder to write into (default: figures)")
    parser.add_argument("names", nargs="*", help=f"figures to draw (default: all of {', '.join(FIGURES)})")
    return figures_command(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
