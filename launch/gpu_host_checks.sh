#!/usr/bin/env bash
# Runs Carnot's GPU checks and benchmarks on a bare CUDA host (the lent H100/H200 machine).
# Here, on the build machine:
#   ./launch/test.sh                                  # builds with CUDA where nvcc exists
#   CARNOT_GPU_EXTRA_DEBS="libxxhash0 libpng16-16" ../shared/gpu/prepare.sh
#   mkdir -p .gpu/bin && cp build/carnot build/carnot_kernel_bench build/tests/carnot_{unit,mpi,cuda}_tests .gpu/bin/
# Then on the host (device tool, carry [".gpu"]), one stage per call (each under 10 minutes):
#   bash launch/gpu_host_checks.sh tests COMMIT       # CUDA tests, kernel bench, then training on the GPU against the CPU
#   bash launch/gpu_host_checks.sh kernels COMMIT     # the same without the training (the CPU runs take minutes)
#   bash launch/gpu_host_checks.sh bench COMMIT S,B   # DiT step vs PyTorch (benchmarks/gpu/dit_step.py)
#   bash launch/gpu_host_checks.sh bench COMMIT XL --no-plain   # extra arguments go to dit_step.py
#   bash launch/gpu_host_checks.sh all COMMIT         # kernels, then bench S,B,XL --no-plain: one call, ~6 minutes
# Results land in $OUT (or ./gpu-results): copy them to benchmarks/results/.
set -uo pipefail
source .gpu/host-env.sh 2>/dev/null
# dpkg -x does not create Debian's alternatives link for OpenBLAS; PMIx warns without zlib.
export LD_LIBRARY_PATH=/tmp/carnot-deps/usr/lib/x86_64-linux-gnu/openblas-pthread:$LD_LIBRARY_PATH
export PMIX_MCA_pcompress_base_silence_warning=1
B=$PWD/.gpu/bin
STAGE=${1:-tests}
COMMIT=${2:-unknown}
export CARNOT_COMMIT=$COMMIT  # benchmarks/record.py: the host's copy of .git is not the build's commit
OUT=${OUT:-$PWD/gpu-results}
mkdir -p "$OUT"
nvidia-smi -L && "$B/carnot" --version || exit 1

if [ "$STAGE" = all ]; then
  bash "$0" kernels "$COMMIT" || exit
  exec bash "$0" bench "$COMMIT" S,B,XL --no-plain
fi

if [ "$STAGE" = tests ] || [ "$STAGE" = kernels ]; then
  echo "== CUDA tests"
  "$B/carnot_cuda_tests" 2>&1 | tee "$OUT/cuda_tests.log" | grep -E "running on|OK|PASSED|FAILED|SKIPPED|Failure|actual|Which is|rror"
  if grep -q "FAILED" "$OUT/cuda_tests.log"; then
    # The same tests on the general kernels: a pass here puts the fault in a fused or vectorised path.
    echo "== CUDA tests again with the plain kernels only (CARNOT_CUDA_PLAIN=1)"
    CARNOT_CUDA_PLAIN=1 "$B/carnot_cuda_tests" 2>&1 | tee "$OUT/cuda_tests_plain.log" | grep -E "OK|PASSED|FAILED|Failure"
  fi
  echo "== each op against the measured ceilings (benchmarks/gpu/kernel_bench.cpp)"
  "$B/carnot_kernel_bench" | tee "$OUT/kernel_bench-$(date +%Y-%m-%d).jsonl"
  echo "== the same with the plain kernels only (no cuDNN, cuBLASLt epilogues, fused attention or vector paths)"
  CARNOT_CUDA_PLAIN=1 "$B/carnot_kernel_bench" | grep -E "attention|linear|conv2d|adaln|gated|gelu|accumulate" \
    | tee "$OUT/kernel_bench-plain-$(date +%Y-%m-%d).jsonl"
  # One JSON record of both (benchmarks/record.py: machine, commit, command) for benchmarks/results/.
  python3 - "$OUT" "$(date +%Y-%m-%d)" <<'PY'
import json, sys
sys.path.insert(0, "benchmarks")
import record
out, day = sys.argv[1], sys.argv[2]
rows = lambda name: [json.loads(l) for l in open(f"{out}/{name}-{day}.jsonl") if l.startswith("{")]
fast, plain = rows("kernel_bench"), rows("kernel_bench-plain")
record.write(f"{out}/kernel_bench-{day}.json", {"benchmark": "kernel_bench", "date": day, "commit": record.commit(),
             "machine": fast[0] if fast else None, "rows": fast[1:], "plain_rows": plain,
             "command": "launch/gpu_host_checks.sh kernels (build/carnot_kernel_bench, then with CARNOT_CUDA_PLAIN=1)"})
PY
  [ "$STAGE" = kernels ] && exit 0
  echo "== training on the GPU against the CPU (same job, same seed: close losses, not bitwise)"
  for d in cuda cpu; do
    OPENBLAS_NUM_THREADS=8 "$B/carnot" --device $d train configs/swissroll.yaml --set train.steps=300 \
      --run-dir /tmp/swiss_$d 2>&1 | grep -E "device:|final loss|error"
  done
  printf 'name: dl_dit\ndata: {kind: dead_leaves, image_size: 32}\nmodel: {kind: dit, size: S, patch: 4}\ntrain: {global_batch: 64, steps: 30}\nlog: {every: 10}\nsample: {every: 0}\n' > /tmp/dl_dit.yaml
  for job in configs/dead_leaves.yaml /tmp/dl_dit.yaml; do
    for d in cuda cpu; do
      OPENBLAS_NUM_THREADS=8 "$B/carnot" --device $d train $job --set train.steps=30 --set log.every=10 \
        --set sample.every=0 --run-dir /tmp/img_${d}_$(basename $job .yaml) 2>&1 | grep -E "device:|step |final loss|error"
    done
    OPENBLAS_NUM_THREADS=8 "$B/carnot" --device cuda bench step $job --steps 10 --warmup 3 --profile
  done
elif [ "$STAGE" = bench ]; then
  MODELS=${3:-S,B,XL}
  python3 benchmarks/gpu/dit_step.py --carnot "$B/carnot" --models "$MODELS" --profile \
    --out "$OUT/gpu-$(date +%Y-%m-%d)-${MODELS//,/}.json" "${@:4}"
else
  echo "stage must be tests, kernels, bench or all" >&2
  exit 2
fi
