"""The ``optimlab`` command: ``optimlab verify`` (and more subcommands as the book grows)."""

from __future__ import annotations

import argparse
import sys

import numpy as np

TOLERANCE = {"float64": 1e-12, "float32": 1e-5}


def _verify(args: argparse.Namespace) -> int:
    """Every optimizer against its oracle, one row per configuration; non-zero exit on a mismatch."""
    from optimlab.verify import run_torch_parity
    from optimlab.verify.oracle_cases import ORACLE_NAMES, describe, oracle_cases
    from optimlab.verify.torch_cases import TORCH_TWINS, torch_cases

    known = {*TORCH_TWINS, *ORACLE_NAMES}
    unknown = sorted(set(args.only or ()) - known)
    if unknown:
        print(f"optimlab verify: unknown optimizer(s) {unknown}; choose from {sorted(known)}", file=sys.stderr)
        return 2
    tolerance = TOLERANCE[args.dtype]
    torch_names = [name for name in args.only or TORCH_TWINS if name in TORCH_TWINS]
    cases = torch_cases(torch_names) if torch_names else []
    others = oracle_cases(args.only)  # optimizers beyond torch.optim, each against its own oracle package
    header = f"{'optimizer':<17} {'oracle':<15} {'configuration':<58} {'param err':>10} {'state err':>10}  result"
    print(f"optimlab verify: {len(cases) + len(others)} configurations x {args.steps} steps, {args.dtype}, tolerance {tolerance:g}")
    print(header)
    print("-" * len(header))
    failures = 0
    for case in cases:
        result = run_torch_parity(case.ours, case.theirs, case.config, steps=args.steps, dtype=np.dtype(args.dtype),
                                  shapes=case.shapes)
        ok = result.ok(tolerance)
        failures += not ok
        config = ", ".join(f"{k}={v}" for k, v in case.config.items()) or "defaults"
        print(f"{case.name:<17} {'torch ' + _torch_version():<15} {config[:58]:<58} "
              f"{result.param_error:>10.1e} {result.state_error:>10.1e}  {'ok' if ok else 'MISMATCH'}", flush=True)
        for problem in result.problems:
            print(f"    {problem}")
    for case in others:
        result = case.run(steps=args.steps, dtype=np.dtype(args.dtype))
        ok = result.ok(case.tolerance if args.dtype == "float64" else tolerance)
        failures += not ok
        print(f"{case.name:<17} {case.oracle:<15} {describe(case.config)[:58]:<58} "
              f"{result.param_error:>10.1e} {result.state_error:>10.1e}  {'ok' if ok else 'MISMATCH'}", flush=True)
    print(f"{len(cases) + len(others) - failures} passed, {failures} failed")
    return 1 if failures else 0


def _bench(args: argparse.Namespace) -> int:
    """AdamW step benchmark as ratios within one run; writes a Markdown table with device, date and command."""
    from optimlab import bench

    command = f"optimlab bench --device {args.device} --layout {args.layout} --size {args.size} --repeats {args.repeats}"
    result = bench.run(args.device, args.layout, n=args.size, repeats=args.repeats)
    report = bench.to_markdown(result, command)
    print(report, end="")
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(report)
    return 0


def _quiz(args: argparse.Namespace) -> int:
    from optimlab.quiz.session import main as quiz_main

    return quiz_main(args)


def _torch_version() -> str:
    import torch

    return torch.__version__.split("+")[0]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="optimlab", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    verify = commands.add_parser("verify", help="check every optimizer against its oracle (torch.optim), step by step")
    verify.add_argument("--steps", type=_positive_int, default=50, help="steps per configuration (default 50)")
    verify.add_argument("--dtype", choices=sorted(TOLERANCE), default="float64", help="precision (default float64)")
    verify.add_argument("--only", nargs="+", metavar="NAME", help="only these optimizers (class names)")
    verify.set_defaults(run=_verify)

    quiz = commands.add_parser("quiz", help="the interview drill: questions whose answers optimlab computes",
                               description="Ask drill questions in the terminal, check each reply, reveal the worked "
                                           "answer and the code that proves it, and print the score. Ctrl-D or Ctrl-C "
                                           "ends the quiz with the score so far.")
    quiz.add_argument("--topic", action="append", metavar="TOPIC", help="only this topic (repeatable; see --list-topics)")
    quiz.add_argument("-n", "--count", type=_positive_int, default=5, help="number of questions (default 5)")
    quiz.add_argument("--seed", type=int, help="seed of the question order (default: a new order each run)")
    quiz.add_argument("--list-topics", action="store_true", help="list the topics and their question counts, then exit")
    quiz.set_defaults(run=_quiz)

    bench = commands.add_parser("bench", help="time AdamW steps against torch on this machine's CPU or GPU")
    bench.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="where to run (default cpu)")
    bench.add_argument("--layout", choices=["one", "gpt2"], default="one",
                       help="one large tensor, or GPT-2-small's 148 shapes (default one)")
    bench.add_argument("--size", type=_positive_int, default=1 << 24, help="elements of the one-tensor layout (default 2**24)")
    bench.add_argument("--repeats", type=_positive_int, default=10, help="timed steps (default 10)")
    bench.add_argument("--out", help="also write the Markdown table to this file")
    bench.set_defaults(run=_bench)

    from optimlab.race import DEFAULT_RACERS, FUNCTIONS, RACERS, race_command  # matplotlib only once a race runs

    race = commands.add_parser("race", help="race optimizers on a 2-D test function and draw their paths",
                               description="Run each optimizer from the function's standard start, print where it "
                                           "ends, and draw the paths and f - f* per step into one figure.")
    race.add_argument("--optimizers", nargs="+", default=list(DEFAULT_RACERS), metavar="NAME[:LR]",
                      help=f"racers, each with an optional learning rate (default: {' '.join(DEFAULT_RACERS)}); "
                           f"names: {', '.join(RACERS)}")
    race.add_argument("--function", choices=sorted(FUNCTIONS), default="rosenbrock", help="test function (default rosenbrock)")
    race.add_argument("--steps", type=_positive_int, default=500, help="steps per optimizer (default 500)")
    race.add_argument("--out", help="figure to write, .svg or .png (default race_FUNCTION.svg)")
    race.set_defaults(run=race_command)

    figures = commands.add_parser("figures", help="regenerate the book's figures (what `make figures` runs)")
    figures.add_argument("--outdir", default="figures", help="folder to write into (default figures)")
    figures.add_argument("names", nargs="*", help="figures to draw (default: all)")
    figures.set_defaults(run=_figures)
    return parser


def _figures(args: argparse.Namespace) -> int:
    from optimlab.plots.__main__ import figures_command

    return figures_command(args)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
