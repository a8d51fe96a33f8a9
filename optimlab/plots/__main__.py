"""``python -m optimlab.plots [OUTDIR] [NAME ...]``: regenerate the book's figures."""

import argparse

from optimlab.plots import FIGURES, write_figures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m optimlab.plots", description=__doc__)
    parser.add_argument("outdir", nargs="?", default="figures", help="folder to write into (default: figures)")
    parser.add_argument("names", nargs="*", help=f"figures to draw (default: all of {', '.join(FIGURES)})")
    args = parser.parse_args(argv)
    try:
        write_figures(args.outdir, args.names or None)
    except ValueError as exc:
        parser.error(str(exc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
