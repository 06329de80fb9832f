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

# train.precision bf16 on the guarded device, 2 ranks: its checkpoint holds float32 master weights
# that sample as any other, and the CPU run writes the same bytes.
bf=(--set train.steps=40 --set checkpoint.every=40 --set train.precision=bf16)
mpi 2 "$CARNOT" --device guarded train "$job" "${bf[@]}" --run-dir bf16_guarded > bf16.log || { cat bf16.log; fail "bf16 training"; }
mpi 2 "$CARNOT" --device cpu train "$job" "${bf[@]}" --run-dir bf16_cpu > bf16_cpu.log
cmp bf16_cpu/checkpoints/step_000000040/model.safetensors bf16_guarded/checkpoints/step_000000040/model.safetensors ||
  fail "bf16: the guarded device's weights differ from the CPU's"
"$CARNOT" sample --ckpt bf16_guarded -n 64 --seed 5 --out bf16.npy > sample.log 2>&1 || { cat sample.log; fail "sampling a bf16 run"; }
"$CARNOT" --device guarded sample --ckpt bf16_guarded -n 64 --seed 5 --out bf16_g.npy > sample_g.log 2>&1 ||
  { cat sample_g.log; fail "sampling on the guarded device"; }
cmp bf16.npy bf16_g.npy || fail "samples on the guarded device differ from the CPU's"
echo "ok: bf16 trains on the guarded device as on the CPU, and its checkpoint samples the same there"

if "$CARNOT" --device cpu train "$job" --set distributed.backend=nccl --run-dir nccl > nccl.log 2>&1; then
  fail "distributed.backend nccl on the CPU was accepted"
fi
grep -q "distributed.backend nccl reduces GPU buffers" nccl.log || { cat nccl.log; fail "no clear error for nccl on the CPU"; }
echo "PASS"
