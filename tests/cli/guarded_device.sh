#!/usr/bin/env bash
# carnot train --device guarded: the GPU code path (every buffer on the device, NCCL's place taken
# by MPI behind the guard) run by the CLI on 2 ranks, with buckets and a resume in the middle,
# writes the same checkpoint bytes as the CPU run; a backend that cannot reduce device buffers is
# refused at its key.
source "$(dirname "$0")/common.sh"
job="$SRC/configs/swissroll.yaml"
set=(--set train.steps=120 --set checkpoint.every=60 --set distributed.bucket_mb=0.01)

mpi 2 "$CARNOT" --device cpu train "$job" "${set[@]}" --run-dir cpu > cpu.log
mpi 2 "$CARNOT" --device guarded train "$job" "${set[@]}" --set train.steps=60 --run-dir guarded > guarded1.log
mpi 2 "$CARNOT" --device guarded train "$job" "${set[@]}" --run-dir guarded > guarded2.log
grep -q "device: the guarded device" guarded1.log || { cat guarded1.log; fail "the guarded device was not announced"; }
grep -q "resuming from .*step_000000060" guarded2.log || { cat guarded2.log; fail "the guarded run did not resume"; }
for f in model.safetensors ema.safetensors optimizer.safetensors; do
  cmp cpu/checkpoints/step_000000120/$f guarded/checkpoints/step_000000120/$f ||
    fail "$f at step 120 differs between the CPU and the guarded device"
done
echo "ok: the guarded device's checkpoints at step 120 equal the CPU's byte for byte"

if "$CARNOT" --device cpu train "$job" --set distributed.backend=nccl --run-dir nccl > nccl.log 2>&1; then
  fail "distributed.backend nccl on the CPU was accepted"
fi
grep -q "distributed.backend nccl reduces GPU buffers" nccl.log || { cat nccl.log; fail "no clear error for nccl on the CPU"; }
echo "PASS"
