"""The CUDA source of the block-wise 8-bit Adam kernel compiles, for every variant the optimizer can ask
for: float and double storage, every flag combination, every block size in ``BLOCK_SIZES``.

A compile check only: nothing here runs on a GPU (``test_kernels_gpu.py`` compares the results with
the reference where one exists). It needs ``nvcc`` and skips cleanly without it, as on CI, which has
neither a GPU nor nvcc. nvcc stands in for NVRTC (what ``cupy.RawKernel`` compiles with) and stops at
PTX, the stage NVRTC produces; NVRTC has no host headers, so the source must include none.
"""

import itertools
import shutil
import subprocess

import numpy as np
import pytest

from optimlab.kernels.blockwise import CUDA_OPTIONS, MAX_GRID, cuda_threads
from optimlab.optim.adam8bit import ADAM8BIT_KERNEL, BLOCK_SIZES

VARIANTS = [(flags, blocksize, ctype)
            for flags in itertools.product((False, True), repeat=len(ADAM8BIT_KERNEL.flags))
            for blocksize in BLOCK_SIZES for ctype in ("float", "double")]


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="needs nvcc (CUDA toolkit); a compile check only")
@pytest.mark.parametrize("flags, blocksize, ctype", VARIANTS,
                         ids=[f"{ADAM8BIT_KERNEL.kernel_name(*v[:2])}-{v[2]}" for v in VARIANTS])
def test_the_cuda_source_compiles_with_nvcc(tmp_path, flags, blocksize, ctype):
    source = ADAM8BIT_KERNEL.cuda_source(flags, blocksize, ctype)
    assert "#include" not in source
    (tmp_path / "kernel.cu").write_text(source)
    result = subprocess.run(["nvcc", "-arch=sm_90", *CUDA_OPTIONS, "--ptx", "kernel.cu", "-o", "kernel.ptx"],
                            cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no warnings either
    # The entry point keeps its C name, which cupy.RawKernel looks up.
    assert f".entry {ADAM8BIT_KERNEL.kernel_name(flags, blocksize)}(" in (tmp_path / "kernel.ptx").read_text()


def test_threads_per_cuda_block_are_whole_warps_dividing_the_block():
    assert [cuda_threads(b) for b in BLOCK_SIZES] == [64, 128, 256, 256, 256, 256, 256]
    for blocksize in (48, 300):
        with pytest.raises(ValueError, match=f"blocksize={blocksize}"):
            cuda_threads(blocksize)


def test_more_blocks_than_a_cuda_grid_holds_are_refused_before_launching():
    """The check runs before CuPy is needed, so it can be exercised here with a NumPy stand-in."""
    n = (MAX_GRID + 1) * 64
    with pytest.raises(ValueError, match=f"at most {MAX_GRID} blocks, got {n} elements in blocks of 64"):
        ADAM8BIT_KERNEL._run_cuda((True,), 64, [np.zeros(1, np.float32)], [], n)
