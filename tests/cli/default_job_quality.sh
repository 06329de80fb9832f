#!/usr/bin/env bash
# The default job, trained on 2 ranks, samples 10,000 points whose sliced W1 to fresh data is at
# most twice the mean W1 between independent data draws (10 pairs).
source "$(dirname "$0")/common.sh"

seed=${CARNOT_TEST_SEED:-$(( (RANDOM << 15) | RANDOM ))}
echo "[seed] sampling and evaluation seed: $seed (replay with CARNOT_TEST_SEED=$seed)"
mpi 2 "$CARNOT" train "$SRC/configs/swissroll.yaml" --run-dir run | tail -n 3
mpi 2 "$CARNOT" sample --ckpt run -n 10000 --out samples.npy --out samples.png --seed "$seed" \
  --quality-gate 2 | tee sample.log
grep -q "PASS" sample.log || fail "sample quality"
[ "$(head -c 8 samples.png | od -An -tx1 | tr -d ' ')" = 89504e470d0a1a0a ] || fail "samples.png is not a PNG"
echo "PASS"
