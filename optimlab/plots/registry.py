"""The list of the book's figures and their reproducible writer.

A figure is saved as SVG with its text as paths, a fixed hash salt for the ids matplotlib
generates, and no date or creator in its metadata, so regenerating leaves the bytes unchanged
(with the pinned matplotlib of the ``book`` extra).

The same bytes on another machine need the same arithmetic too. Some figures are drawn from
rounding-sensitive data (histograms of rounding errors, curves whose simplified path keeps other
vertices when a value moves by an ulp), and NumPy's AVX-512 loops and OpenBLAS's per-CPU kernels
round differently from their AVX2 forms (seen: 5 of 31 figures differed between an AMD EPYC and an
Intel Xeon). ``write_figures`` therefore draws in a Python process started with ``PINNED_ENV``, which
selects the AVX2 code of NumPy, OpenBLAS and torch, present on every x86-64 machine with AVX2.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import matplotlib

from optimlab.plots import adam, adaptive, averaging, curvature, gpu, large_batch, lr_finding, momentum, numerics, quadratics, schedules, stochastic, weight_decay
from optimlab.plots import memory, sign_matrix  # chapters 9 and 10

FIGURES = {
    "gd_trajectories": quadratics.gd_trajectories,
    "gd_error_curves": quadratics.gd_error_curves,
    "gd_condition_number": quadratics.gd_condition_number,
    "gd_saddle": quadratics.gd_saddle,
    "momentum_trajectories": momentum.momentum_trajectories,
    "momentum_stability": momentum.momentum_stability,
    "momentum_rates": momentum.momentum_rates,
    "schedule_shapes": schedules.schedule_shapes,
    "schedule_warmup": schedules.schedule_warmup,
    "sgd_gradient_noise": stochastic.sgd_gradient_noise,
    "sgd_linear_scaling": stochastic.sgd_linear_scaling,
    "adaptive_step_sizes": adaptive.adaptive_step_sizes,
    "adaptive_trajectories": adaptive.adaptive_trajectories,
    "adam_bias_correction": adam.adam_bias_correction,
    "adam_amsgrad_counterexample": adam.adam_amsgrad_counterexample,
    "weight_decay_per_coordinate": weight_decay.weight_decay_per_coordinate,
    "weight_decay_lr_coupling": weight_decay.weight_decay_lr_coupling,
    "curvature_rosenbrock": curvature.curvature_rosenbrock,
    "sophia_clipping": curvature.sophia_clipping,
    "numerics_fp16_gradients": numerics.numerics_fp16_gradients,
    "numerics_loss_scale": numerics.numerics_loss_scale,
    "averaging_noisy_quadratic": averaging.averaging_noisy_quadratic,
    "gpu_roofline": gpu.gpu_roofline,
    "lamb_relative_updates": large_batch.lamb_relative_updates,
    "lr_range_tests": lr_finding.lr_range_tests,
    "lr_sweeps": lr_finding.lr_sweeps,
    "race_rosenbrock": lr_finding.race_rosenbrock,
    "newton_schulz_map": sign_matrix.newton_schulz_map,
    "sign_matrix_spectra": sign_matrix.sign_matrix_spectra,
    "memory_bytes_per_parameter": memory.memory_bytes_per_parameter,
    "memory_training_curves": memory.memory_training_curves,
}

# Read when NumPy, OpenBLAS and torch load, so they must be set before the process starts.
PINNED_ENV = {"NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR", "OPENBLAS_CORETYPE": "Haswell",
              "OPENBLAS_NUM_THREADS": "1", "ATEN_CPU_CAPABILITY": "avx2"}
SVG_RC = {"svg.hashsalt": "optimlab", "svg.fonttype": "path", "svg.image_inline": True}
SVG_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}


def pinned() -> bool:
    """Whether this process was started with ``PINNED_ENV``."""
    return all(os.environ.get(key) == value for key, value in PINNED_ENV.items())


def run_pinned(argv: list[str]) -> int:
    """``python -m optimlab.plots ARGV`` in a new process started with ``PINNED_ENV``; its exit status."""
    command = [sys.executable, "-m", "optimlab.plots", *argv]
    return subprocess.run(command, env={**os.environ, **PINNED_ENV}).returncode


def save_svg(fig, target) -> None:
    """Write ``fig`` as reproducible SVG to a path or a binary file object."""
    with matplotlib.rc_context(SVG_RC):
        fig.savefig(target, format="svg", metadata=SVG_METADATA)


def save_figure(fig, path) -> Path:
    """Write ``fig`` to ``path`` (``.svg``) reproducibly; return the path."""
    path = Path(path)
    if path.suffix != ".svg":
        raise ValueError(f"figures are saved as .svg, got {path.name!r}")
    save_svg(fig, path)
    return path


def write_figures(outdir="figures", names=None) -> list[Path]:
    """Draw and save the named figures (all by default) to ``outdir/<name>.svg``, in a process
    started with ``PINNED_ENV`` (this one if it was)."""
    names = list(FIGURES) if names is None else list(names)
    unknown = [n for n in names if n not in FIGURES]
    if unknown:
        raise ValueError(f"unknown figure(s) {unknown}; choose from {sorted(FIGURES)}")
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    if not pinned():  # draw in a pinned process (see the module docstring)
        if run_pinned([str(outdir), *names]) != 0:
            raise RuntimeError(f"drawing {names} in a pinned process failed (see its output above)")
        return [outdir / f"{name}.svg" for name in names]
    return [save_figure(FIGURES[name](), outdir / f"{name}.svg") for name in names]
