"""``optimlab race``: several optimizers on one 2-D test function, drawn as one figure.

Each racer runs from the function's standard start with ``optimlab.problems.run_optimizer``; the
figure (:func:`optimlab.plots.race.race_figure`) shows the paths on the contour lines and
:math:`f(\\theta_t) - f^\\star` per step. A racer is ``NAME`` or ``NAME:LR``; without a learning rate
it gets the default of :data:`DEFAULT_LRS` for that function (hand-picked so every racer moves
visibly and none diverges within a few hundred steps), or the one in :data:`SCALE_FREE_LRS` for the
methods whose step does not depend on the gradient's scale.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from optimlab import optim
from optimlab.problems import Beale, Quadratic, Rosenbrock, Saddle, Trajectory, run_optimizer
from optimlab.training import Progress

FUNCTIONS = {
    "rosenbrock": Rosenbrock,
    "beale": Beale,
    "saddle": Saddle,
    "quadratic": lambda: Quadratic(np.diag([1.0, 10.0]), np.zeros(2)),  # κ = 10
}
STARTS = {"quadratic": (-9.0, 2.0)}  # the quadratic's own start is its minimiser

# name: (class, fixed hyperparameters)
RACERS = {
    "SGD": (optim.SGD, {}),
    "Momentum": (optim.SGD, {"momentum": 0.9}),
    "Nesterov": (optim.SGD, {"momentum": 0.9, "nesterov": True}),
    "Adagrad": (optim.Adagrad, {}),
    "RMSprop": (optim.RMSprop, {}),
    "Adadelta": (optim.Adadelta, {}),
    "Adam": (optim.Adam, {}),
    "AdamW": (optim.AdamW, {}),
    "Adamax": (optim.Adamax, {}),
    "NAdam": (optim.NAdam, {}),
    "RAdam": (optim.RAdam, {}),
    "Lion": (optim.Lion, {}),
    "Rprop": (optim.Rprop, {}),
    "SGDScheduleFree": (optim.SGDScheduleFree, {}),
    "AdamWScheduleFree": (optim.AdamWScheduleFree, {}),
}
# the gradient-scale-dependent racers: their step is lr times the gradient (RAdam's first 5 steps too)
DEFAULT_LRS = {
    "rosenbrock": {"SGD": 1e-3, "Momentum": 2e-4, "Nesterov": 2e-4, "SGDScheduleFree": 5e-4, "RAdam": 1e-3},
    "beale": {"SGD": 1e-2, "Momentum": 2e-3, "Nesterov": 2e-3, "SGDScheduleFree": 5e-3, "RAdam": 1e-2},
    "saddle": {"SGD": 0.1, "Momentum": 0.02, "Nesterov": 0.02, "SGDScheduleFree": 0.1, "RAdam": 0.05},
    "quadratic": {"SGD": 0.15, "Momentum": 0.05, "Nesterov": 0.05, "SGDScheduleFree": 0.1, "RAdam": 0.05},
}
SCALE_FREE_LRS = {"Adagrad": 0.5, "RMSprop": 0.01, "Adadelta": 1.0, "Adam": 0.05, "AdamW": 0.05, "Adamax": 0.1,
                  "NAdam": 0.05, "Lion": 0.01, "Rprop": 0.01, "AdamWScheduleFree": 0.05}
DEFAULT_RACERS = ("SGD", "Momentum", "Adam", "Lion")


@dataclass(frozen=True)
class Racer:
    """One entry of the race: a name from :data:`RACERS` and its learning rate."""

    name: str
    lr: float

    @property
    def label(self) -> str:
        return f"{self.name} (lr={self.lr:g})"


def parse_racer(spec: str, function: str) -> Racer:
    """``NAME`` or ``NAME:LR`` -> :class:`Racer`; ``ValueError`` naming the bad part."""
    name, _, lr_text = spec.partition(":")
    if name not in RACERS:
        raise ValueError(f"unknown optimizer {name!r}; choose from {', '.join(RACERS)}")
    if not lr_text:
        return Racer(name, DEFAULT_LRS[function].get(name, SCALE_FREE_LRS.get(name)))
    try:
        lr = float(lr_text)
    except ValueError:
        raise ValueError(f"learning rate of {name} must be a number, got {lr_text!r}") from None
    if not (lr > 0 and math.isfinite(lr)):
        raise ValueError(f"learning rate of {name} must be positive and finite, got {lr_text!r}")
    return Racer(name, lr)


def run_race(function: str, racers, steps: int, progress=None) -> dict[str, Trajectory]:
    """Run every racer for ``steps`` steps on ``FUNCTIONS[function]``; {label: trajectory}.

    ``progress`` (optional) is called once per finished racer, e.g. ``Progress.update``.
    """
    if function not in FUNCTIONS:
        raise ValueError(f"unknown function {function!r}; choose from {', '.join(FUNCTIONS)}")
    problem = FUNCTIONS[function]()
    trajectories = {}
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging racer is shown, not fatal
        for racer in racers:
            cls, fixed = RACERS[racer.name]
            trajectories[racer.label] = run_optimizer(problem, cls, steps, start=STARTS.get(function),
                                                      lr=racer.lr, **fixed)
            if progress is not None:
                progress(1, last=racer.name)
    return trajectories


def check_output(path) -> str | None:
    """Why ``path`` cannot take the figure (``None`` if it can): an .svg or .png file in a writable folder."""
    path = Path(path)
    if path.suffix not in (".svg", ".png"):
        return f"--out must end in .svg or .png, got {str(path)!r}"
    if path.is_dir():
        return f"--out {str(path)!r} is a directory"
    folder = path.parent
    if not folder.is_dir():
        return f"--out {str(path)!r}: folder {str(folder)!r} does not exist"
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return f"--out {str(path)!r} is not writable"
    return None


def race_command(args) -> int:
    """``optimlab race``: validate the arguments (exit 2 with a message), race, print a table, save the figure."""

    def fail(message: str) -> int:
        print(f"optimlab race: error: {message}", file=sys.stderr)
        return 2

    out = args.out or f"race_{args.function}.svg"
    problem = check_output(out)
    if problem:
        return fail(problem)
    try:
        racers = [parse_racer(spec, args.function) for spec in args.optimizers]
    except ValueError as exc:
        return fail(str(exc))
    repeated = sorted({r.label for r in racers if racers.count(r) > 1})
    if repeated:
        return fail(f"racer(s) listed twice: {', '.join(repeated)}")
    with Progress(len(racers), desc=f"race on {args.function}") as bar:
        trajectories = run_race(args.function, racers, args.steps, progress=bar.update)
    minimum = FUNCTIONS[args.function]().min_value
    print(f"{'optimizer':<32} {'final point':>24} {'f - f*':>10}")
    for label, trajectory in trajectories.items():
        gap = trajectory.values[-1] - minimum
        final = "diverged" if not np.isfinite(gap) else f"{gap:10.2e}"
        print(f"{label:<32} {np.array2string(trajectory.final, precision=4):>24} {final:>10}")
    from optimlab.plots.race import race_figure
    from optimlab.plots.registry import save_svg

    fig = race_figure(args.function, trajectories)
    try:
        if out.endswith(".svg"):
            save_svg(fig, out)
        else:
            fig.savefig(out, format="png", dpi=150, metadata={"Software": None})
    except OSError as exc:
        return fail(f"could not write {out!r}: {exc}")
    print(f"wrote {out}")
    return 0
