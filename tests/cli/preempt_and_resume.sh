#!/usr/bin/env bash
# Preemption: SIGUSR1 to one rank of a 2-rank run (or SIGTERM to a single process) makes every
# rank stop at the same step boundary, write a checkpoint and exit 75; rerunning the same command
# resumes there and ends with the same weights, byte for byte, as an uninterrupted run.
source "$(dirname "$0")/common.sh"
export OPENBLAS_NUM_THREADS=1
args=(train "$SRC/configs/swissroll.yaml" --set train.steps=1500 --set checkpoint.every=500 --set log.every=50)

mpi 2 "$CARNOT" "${args[@]}" --run-dir straight > straight.log

# The rank processes of the run in folder $1 (not mpirun, whose command line names it too).
ranks_of() {
  for p in $(pgrep -f -- "--run-dir $1" || true); do
    if [ "$(cat /proc/$p/comm 2>/dev/null)" = carnot ]; then echo "$p"; fi
  done
}
wait_for_step() {  # $1 folder, $2 step
  for _ in $(seq 1 1200); do
    [ -f "$1/metrics.jsonl" ] && [ "$(last_metric "$1/metrics.jsonl" step)" -ge "$2" ] 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

mpi 2 "$CARNOT" "${args[@]}" --run-dir preempted > preempted-1.log 2>&1 &
launcher=$!
wait_for_step preempted 200 || fail "the run did not reach step 200"
victim=$(ranks_of preempted | head -n 1 || true)
[ -n "$victim" ] || fail "no rank process found"
kill -USR1 "$victim"
set +e
wait $launcher; rc=$?
set -e
grep "stopping at step" preempted/log.txt || { cat preempted-1.log; fail "no stop message"; }
[ $rc -eq 75 ] || { cat preempted-1.log; fail "exit code $rc, not 75"; }
grep -q "on 1 of 2 rank(s); checkpoint written; exit 75" preempted/log.txt || fail "the message"
stopped=$(grep -o "stopping at step [0-9]*" preempted/log.txt | grep -o "[0-9]*$")
[ "$(cat preempted/checkpoints/latest)" = "$(printf 'step_%09d' "$stopped")" ] || fail "no checkpoint at step $stopped"

mpi 2 "$CARNOT" "${args[@]}" --run-dir preempted > preempted-2.log
grep "resuming from" preempted/log.txt | tail -n 1
cmp straight/checkpoints/step_000001500/model.safetensors preempted/checkpoints/step_000001500/model.safetensors \
  || fail "final weights differ from the uninterrupted run"
echo "2 ranks: stopped at step $stopped by SIGUSR1 on one rank, resumed, final weights identical"

# One process, SIGTERM.
"$CARNOT" "${args[@]}" --run-dir single > single.log 2>&1 &
pid=$!
wait_for_step single 200 || fail "the single run did not reach step 200"
kill -TERM $pid
set +e
wait $pid; rc=$?
set -e
[ $rc -eq 75 ] && grep -q "SIGTERM on 1 of 1 rank(s)" single/log.txt || { cat single.log; fail "SIGTERM: exit $rc"; }
echo "PASS"
