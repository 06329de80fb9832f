#!/usr/bin/env bash
# Killing a training run (SIGKILL, possibly mid-checkpoint) and rerunning the same command
# continues from the last good checkpoint to the same final loss as an uninterrupted run; a
# finished run rerun trains nothing; --resume never and a changed spec are refused with exit 2.
source "$(dirname "$0")/common.sh"
export OPENBLAS_NUM_THREADS=1
args=(train "$SRC/configs/swissroll.yaml" --set train.steps=2000 --set checkpoint.every=100 --set log.every=100)

"$CARNOT" "${args[@]}" --run-dir straight > straight.log

"$CARNOT" "${args[@]}" --run-dir killed > killed-1.log &
pid=$!
for _ in $(seq 1 600); do
  [ -f killed/checkpoints/latest ] && [ "$(cat killed/checkpoints/latest)" \> step_000000300 ] && break
  sleep 0.05
done
kill -9 $pid 2>/dev/null || fail "the run ended before it could be killed"
wait $pid 2>/dev/null || true
echo "killed after $(cat killed/checkpoints/latest)"
"$CARNOT" "${args[@]}" --run-dir killed > killed-2.log
grep "resuming from" killed-2.log || fail "the rerun did not resume"

a=$(last_metric straight/metrics.jsonl last_loss)
b=$(last_metric killed/metrics.jsonl last_loss)
echo "final loss: uninterrupted $a, killed and resumed $b"
[ "$a" = "$b" ] || fail "the resumed run ended with another loss"
cmp straight/checkpoints/step_000002000/model.safetensors killed/checkpoints/step_000002000/model.safetensors \
  || fail "final weights differ"

"$CARNOT" "${args[@]}" --run-dir killed | grep -q "nothing to train" || fail "finished run retrained"

# A damaged newest checkpoint: --resume auto names it and continues from the one before.
printf 'X' | dd of=killed/checkpoints/step_000002000/model.safetensors bs=1 seek=5000 conv=notrunc 2>/dev/null
"$CARNOT" "${args[@]}" --run-dir killed --set train.steps=2050 > damaged.log
grep -q "skipping checkpoint step_000002000: model.safetensors: checksum mismatch" damaged.log \
  && grep -q "resuming from killed/checkpoints/step_000001900 at step 1900" damaged.log \
  || { cat damaged.log; fail "damaged checkpoint not skipped"; }
grep -E "skipping|resuming" damaged.log

# --resume CHECKPOINT starts a new run folder from that checkpoint, and ends where the others did.
"$CARNOT" "${args[@]}" --run-dir from_ckpt --resume killed/checkpoints/step_000001900 > from_ckpt.log
grep -q "resuming from killed/checkpoints/step_000001900 at step 1900" from_ckpt.log || fail "--resume CHECKPOINT"
[ "$(last_metric from_ckpt/metrics.jsonl last_loss)" = "$a" ] || fail "--resume CHECKPOINT ended with another loss"

set +e
"$CARNOT" "${args[@]}" --run-dir killed --resume never 2> never.err; rc=$?
[ $rc -eq 2 ] && grep -q "is not empty" never.err || { cat never.err; fail "--resume never (exit $rc)"; }
"$CARNOT" "${args[@]}" --run-dir killed --set optimizer.lr=3e-4 --set model.depth=2 2> diff.err; rc=$?
set -e
[ $rc -eq 2 ] && grep -q "optimizer.lr: 0.001 -> 3e-04" diff.err && grep -q "model.depth: 4 -> 2" diff.err \
  || { cat diff.err; fail "spec mismatch not refused with its keys (exit $rc)"; }
cat diff.err
echo "PASS"
