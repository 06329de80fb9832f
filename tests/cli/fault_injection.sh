#!/usr/bin/env bash
# A rank that throws, exits abruptly or hangs (debug.fault) ends the whole 2-rank job: non-zero
# exit, within the issue's 60 s bound (the watchdog's distributed.timeout_s is 5 here), and
# Carnot's own message naming the rank and what happened.
source "$(dirname "$0")/common.sh"
export OPENBLAS_NUM_THREADS=1
declare -A expect=(
  [throw]="carnot: rank 1: error: debug.fault: an injected error at step 30"
  [exit]="carnot: rank 1: debug.fault: exiting abruptly [(]code 3[)] at step 30"
  [hang]="carnot: rank 1: no progress for [0-9]+ s while computing at step 30")
for kind in throw exit hang; do
  set +e
  timeout 60 "$MPIEXEC" -np 2 --oversubscribe --bind-to none "$CARNOT" train "$SRC/configs/swissroll.yaml" \
    --run-dir "run_$kind" --set "debug.fault={rank: 1, step: 30, kind: $kind}" --set distributed.timeout_s=5 \
    > "$kind.out" 2> "$kind.err"
  rc=$?
  set -e
  [ $rc -ne 124 ] || fail "$kind: the job was still running after 60 s"
  [ $rc -ne 0 ] || fail "$kind: exit code 0"
  grep -Eq "${expect[$kind]}" "$kind.err" || { cat "$kind.err"; fail "$kind: no message naming rank 1"; }
  echo "$kind: exit $rc; $(grep -E "${expect[$kind]}" "$kind.err" | head -n 1)"
done
# A fault on a rank the run does not have is refused before anything starts.
set +e
"$MPIEXEC" -np 2 --oversubscribe --bind-to none "$CARNOT" train "$SRC/configs/swissroll.yaml" --run-dir run_bad \
  --set "debug.fault={rank: 5, step: 3, kind: hang}" > bad.out 2> bad.err
rc=$?
set -e
[ $rc -eq 2 ] && grep -q "debug.fault.rank 5 does not exist in a run of 2 rank(s)" bad.err && [ ! -e run_bad ] \
  || { cat bad.err; fail "debug.fault.rank beyond the world (exit $rc)"; }
echo "PASS"
