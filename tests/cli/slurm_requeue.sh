#!/usr/bin/env bash
# launch/slurm/carnot.sbatch run as Slurm would, with stand-ins for srun (mpirun with 2 ranks)
# and scontrol (records its arguments): SIGUSR1 to the batch script reaches the ranks, they
# checkpoint and exit 75, the script requeues the job by its id and exits 75; the requeued job
# (through the several-node template, which runs the same body) resumes from that checkpoint and
# finishes with exit 0.
source "$(dirname "$0")/common.sh"
mkdir -p stubs
cat > stubs/srun <<STUB
#!/usr/bin/env bash
while [[ "\$1" == --* ]]; do shift; done   # --mpi=pmix --kill-on-bad-exit=1
exec "$(command -v "$MPIEXEC")" -np 2 --oversubscribe --bind-to none "\$@"
STUB
cat > stubs/scontrol <<STUB
#!/usr/bin/env bash
echo "\$@" >> "$PWD/scontrol.log"
STUB
chmod +x stubs/srun stubs/scontrol
# env execs bash, so $! is the batch script's own pid, as Slurm's signal would find it.
batch_job=(env PATH="$PWD/stubs:$PATH" SLURM_JOB_ID=4242 CARNOT="$CARNOT" bash "$SRC/launch/slurm/carnot.sbatch"
           "$SRC/configs/swissroll.yaml" --run-dir run --set train.steps=1500 --set log.every=50)

"${batch_job[@]}" > first.log 2>&1 &
batch=$!
for _ in $(seq 1 1200); do
  [ -f run/metrics.jsonl ] && [ "$(last_metric run/metrics.jsonl step)" -ge 200 ] 2>/dev/null && break
  sleep 0.05
done
kill -USR1 $batch
set +e
wait $batch; rc=$?
set -e
[ $rc -eq 75 ] || { cat first.log; fail "the batch script exited $rc, not 75"; }
grep -q "^requeue 4242$" scontrol.log || { cat first.log; fail "scontrol requeue 4242 not called"; }
grep "stopping at step" run/log.txt || fail "the ranks did not stop"
# The requeued job through the several-node template, which hands over to the same body.
env PATH="$PWD/stubs:$PATH" SLURM_JOB_ID=4242 CARNOT="$CARNOT" CARNOT_SLURM_DIR="$SRC/launch/slurm" \
  bash "$SRC/launch/slurm/carnot-multinode.sbatch" "$SRC/configs/swissroll.yaml" --run-dir run --set train.steps=1500 \
  --set log.every=50 > second.log 2>&1 || { cat second.log; fail "the requeued job failed"; }
grep "resuming from" run/log.txt | tail -n 1
grep -q "final loss" run/log.txt || fail "the requeued job did not finish"
[ "$(wc -l < scontrol.log)" -eq 1 ] || fail "requeued twice"
echo "PASS"
