#!/usr/bin/env bash
# distributed.zero=1 on 2 ranks trains the default job to the loss of zero 0 (to 1e-5); its
# checkpoints hold the whole optimizer state, so a ZeRO run resumes bit for bit, and a run may
# switch distributed.zero when it resumes.
source "$(dirname "$0")/common.sh"
job="$SRC/configs/swissroll.yaml"
ck=(--set checkpoint.every=100)

mpi 2 "$CARNOT" train "$job" --set train.steps=300 "${ck[@]}" --run-dir zero0 > zero0.log
mpi 2 "$CARNOT" train "$job" --set train.steps=300 "${ck[@]}" --set distributed.zero=1 --run-dir zero1 > zero1.log
a=$(last_metric zero0/metrics.jsonl last_loss)
b=$(last_metric zero1/metrics.jsonl last_loss)
echo "loss at step 300 on 2 ranks: zero 0 $a, zero 1 $b"
awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; if (d < 0) d = -d; r = d / a;
  printf "relative difference %.3g (bound 1e-5)\n", r; exit !(r <= 1e-5) }' || fail "ZeRO-1 changed the loss"
s0=$(stat -c %s zero0/checkpoints/step_000000300/optimizer.safetensors)
s1=$(stat -c %s zero1/checkpoints/step_000000300/optimizer.safetensors)
[ "$s0" = "$s1" ] || fail "ZeRO-1's optimizer file ($s1 bytes) is not the whole state ($s0 bytes)"

# Stop at 150, resume to 300: the same last loss, to the last digit.
mpi 2 "$CARNOT" train "$job" --set train.steps=150 "${ck[@]}" --set distributed.zero=1 --run-dir halves > /dev/null
mpi 2 "$CARNOT" train "$job" --set train.steps=300 "${ck[@]}" --set distributed.zero=1 --run-dir halves > halves.log
grep -q "resuming from .*step_000000150" halves.log || { cat halves.log; fail "the second half did not resume"; }
c=$(last_metric halves/metrics.jsonl last_loss)
[ "$c" = "$b" ] || fail "resumed ZeRO-1 run ends at $c, the straight one at $b"
echo "ok: ZeRO-1 stopped at 150 and resumed ends at $c, as the straight run"

# Switch: ZeRO-1's checkpoint at 150 resumed with zero 0 on 3 ranks.
mpi 2 "$CARNOT" train "$job" --set train.steps=150 "${ck[@]}" --set distributed.zero=1 --run-dir switch > /dev/null
mpi 3 "$CARNOT" train "$job" --set train.steps=300 "${ck[@]}" --run-dir switch > switch.log
grep -q "resuming from .*step_000000150" switch.log || { cat switch.log; fail "the switched run did not resume"; }
d=$(last_metric switch/metrics.jsonl last_loss)
awk -v a="$a" -v d="$d" 'BEGIN { x = a - d; if (x < 0) x = -x; r = x / a;
  printf "zero 1 on 2 ranks then zero 0 on 3: loss %s, relative difference %.3g (bound 1e-5)\n", d, r; exit !(r <= 1e-5) }' \
  || fail "switching distributed.zero and world size on resume changed the loss"
echo "PASS"
