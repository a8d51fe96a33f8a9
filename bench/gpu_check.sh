#!/usr/bin/env bash
# The GPU checks of issue 9, for a machine with a CUDA GPU (H100/H200): Python 3, numpy, cupy-cuda13x,
# torch with CUDA and pytest installed; no network needed. Run from the repository root:
#
#     OUT=/some/folder bash bench/gpu_check.sh      # default OUT: bench/results/gpu-<date>
#
# Worst case under 10 minutes (each step has its own timeout: tests 270 s, each bench 100 s,
# kernels 120 s), so one device call of timeout 600 s covers it. Writes under $OUT: the GPU and
# versions, the gpu-marked tests' report (every kernel under CuPy against NumPy, flat buffers, the 8-bit block kernel, the fused clip), and `optimlab bench --device
# cuda` on one 268M-parameter tensor and on GPT-2-small's 148 shapes (Markdown tables with the copy
# bandwidth, GB/s, ratios to torch and the 8-bit/fp32 ratio measured in the same run), and every
# elementwise optimizer's fused step on one flat 268M buffer as a fraction of the copy bandwidth.
set -u
OUT="${OUT:-bench/results/gpu-$(date -u +%Y-%m-%d)}"
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
status=0

{ date -u; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; \
  python3 -c "import sys, numpy, cupy, torch; print('python', sys.version.split()[0], '| numpy', numpy.__version__, '| cupy', cupy.__version__, '| torch', torch.__version__, '| cuda available', torch.cuda.is_available())"; \
} > "$OUT/environment.txt" 2>&1
cat "$OUT/environment.txt"

# The gpu tests only (the other test modules need packages the GPU machine may lack).
timeout 270 python3 -m pytest -q -p no:cacheprovider -m gpu -o addopts="" -rs \
  tests/optim/test_kernels_gpu.py > "$OUT/pytest-gpu.txt" 2>&1 || status=1
tail -n 15 "$OUT/pytest-gpu.txt"

for layout in one gpt2; do
  timeout 100 python3 -m optimlab.cli bench --device cuda --layout "$layout" --size 268435456 --repeats 20 \
    --out "$OUT/cuda-adamw-$layout.md" > "$OUT/bench-$layout.log" 2>&1 || status=1
  tail -n 20 "$OUT/bench-$layout.log"
done
# Every elementwise optimizer's fused kernel on one flat 268M buffer, against its own byte count.
timeout 120 python3 -c "import sys; from optimlab import bench; \
r = bench.kernel_roofline('cuda', n=1 << 28, repeats=10); \
open(sys.argv[1], 'w').write(bench.kernel_roofline_markdown(r, 'bench.kernel_roofline(\'cuda\', n=1 << 28, repeats=10)'))" \
  "$OUT/cuda-kernels-268M.md" > "$OUT/kernels.log" 2>&1 || status=1
cat "$OUT/cuda-kernels-268M.md" 2>/dev/null || tail -n 20 "$OUT/kernels.log"
exit $status
