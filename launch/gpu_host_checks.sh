#!/usr/bin/env bash
# Runs Carnot's GPU checks and CPU-peer benchmarks on a bare CUDA host (the lent H100/H200 machine).
# Here, on the build machine:
#   ./launch/test.sh                                  # builds with CUDA where nvcc exists
#   CARNOT_GPU_EXTRA_DEBS="libxxhash0 libpng16-16" ../shared/gpu/prepare.sh
#   mkdir -p .gpu/bin && cp build/carnot build/tests/carnot_{unit,mpi,cuda}_tests .gpu/bin/
# Then on the host (device tool, carry [".gpu"]):  bash launch/gpu_host_checks.sh COMMIT
# Results land in $OUT (or ./gpu-results): copy them to benchmarks/results/.
set -uo pipefail
source .gpu/host-env.sh 2>/dev/null
# dpkg -x does not create Debian's alternatives link for OpenBLAS; PMIx warns without zlib.
export LD_LIBRARY_PATH=/tmp/carnot-deps/usr/lib/x86_64-linux-gnu/openblas-pthread:$LD_LIBRARY_PATH
export PMIX_MCA_pcompress_base_silence_warning=1
B=$PWD/.gpu/bin
COMMIT=${1:-unknown}
OUT=${OUT:-$PWD/gpu-results}
mkdir -p "$OUT"
nvidia-smi -L && "$B/carnot" --version || exit 1
echo "== CUDA tests";  "$B/carnot_cuda_tests" 2>&1 | grep -E "running on|OK|PASSED|FAILED|SKIPPED|Failure|actual|Which is|rror"
echo "== unit tests";  OPENBLAS_NUM_THREADS=1 "$B/carnot_unit_tests" --gtest_brief=1 2>&1 | tail -1
echo "== mpi tests";   mpirun -np 2 --oversubscribe --bind-to none -x OPENBLAS_NUM_THREADS=1 "$B/carnot_mpi_tests" 2>&1 | grep -E "ranks vs|PASSED|FAILED"
echo "== GPU q_sample vs CPU: bitwise equal weights expected"
for d in auto cpu; do
  OPENBLAS_NUM_THREADS=4 "$B/carnot" --device $d train configs/swissroll.yaml --set train.steps=200 --run-dir /tmp/dev_$d 2>&1 | grep -E "device:|final loss"
done
cmp /tmp/dev_auto/checkpoints/step_000000200/model.safetensors /tmp/dev_cpu/checkpoints/step_000000200/model.safetensors \
  && echo "equal" || echo "DIFFERENT"
echo "== CPU throughput against PyTorch on this host"
for th in 1 4 16; do
  python3 benchmarks/swissroll_train_step.py --carnot "$B/carnot" --threads $th --commit "$COMMIT" \
    --machine gpu-host-cpu --out "$OUT/swissroll_train_step-gpuhost-${th}t.json"
done
