#!/usr/bin/env bash
# mpirun -np 1 and -np 2 of the default job for 300 steps end with the same loss to 1e-5.
source "$(dirname "$0")/common.sh"

mpi 1 "$CARNOT" train "$SRC/configs/swissroll.yaml" --set train.steps=300 --run-dir np1 > np1.log
mpi 2 "$CARNOT" train "$SRC/configs/swissroll.yaml" --set train.steps=300 --run-dir np2 > np2.log
grep -q "over 2 rank(s)" np2.log || fail "the -np 2 run did not use 2 ranks"
a=$(last_metric np1/metrics.jsonl last_loss)
b=$(last_metric np2/metrics.jsonl last_loss)
[ "$(last_metric np1/metrics.jsonl step)" = 300 ] || fail "np1 did not reach step 300"
echo "loss at step 300: 1 rank $a, 2 ranks $b"
awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; if (d < 0) d = -d; r = d / a;
  printf "relative difference %.3g (bound 1e-5)\n", r; exit !(r <= 1e-5) }' || fail "losses differ"
for f in job.yaml log.txt metrics.jsonl checkpoints/latest checkpoints/step_000000300/model.safetensors \
         checkpoints/step_000000300/ema.safetensors checkpoints/step_000000300/state.json; do
  [ -s "np2/$f" ] || fail "run folder lacks $f"
done
echo "PASS"
