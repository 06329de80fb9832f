#!/usr/bin/env bash
# A misspelled key is refused with its line and exit code 2, on one rank and under mpirun; other
# bad command lines also exit 2 with a message.
source "$(dirname "$0")/common.sh"

sed 's/noise: 0.5/nosie: 0.5/' "$SRC/configs/swissroll.yaml" > bad.yaml
line=$(grep -n nosie bad.yaml | cut -d: -f1)

expect_usage_error() {  # expect_usage_error PATTERN COMMAND...
  local pattern=$1; shift
  set +e; "$@" >out.txt 2>err.txt; local rc=$?; set -e
  [ $rc -eq 2 ] || { cat out.txt err.txt; fail "exit code $rc, expected 2: $*"; }
  grep -qF -- "$pattern" err.txt || { cat err.txt; fail "message lacks '$pattern': $*"; }
  echo "ok (exit 2): $* -> $(grep -F -- "$pattern" err.txt | head -n 1)"
}

expect_usage_error "bad.yaml:$line:" "$CARNOT" train bad.yaml
expect_usage_error "unknown key 'data.nosie' (did you mean 'data.noise'?)" "$CARNOT" train bad.yaml
expect_usage_error "bad.yaml:$line:" mpi 2 "$CARNOT" train bad.yaml
[ "$(grep -c 'unknown key' err.txt)" -eq 1 ] || fail "under mpirun the error should be printed once"
[ ! -e runs ] || fail "a refused spec must not create a run folder"
expect_usage_error "--set 'train.steps=many'" "$CARNOT" train "$SRC/configs/swissroll.yaml" --set train.steps=many
expect_usage_error "cannot read job spec" "$CARNOT" train missing.yaml
expect_usage_error "is not a run folder" "$CARNOT" sample --ckpt nowhere --out x.npy
expect_usage_error "--bogus" "$CARNOT" train "$SRC/configs/swissroll.yaml" --bogus
# NCCL reduces device buffers; the trainer's are on the host: refused on every rank, not a fallback.
expect_usage_error "distributed.backend nccl reduces GPU buffers" mpi 2 "$CARNOT" train "$SRC/configs/swissroll.yaml" \
  --set distributed.backend=nccl
expect_usage_error "distributed.backend: 'gloo' is not one of: auto, mpi, nccl" "$CARNOT" train "$SRC/configs/swissroll.yaml" --set distributed.backend=gloo
echo "PASS"
