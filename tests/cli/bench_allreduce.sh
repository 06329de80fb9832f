#!/usr/bin/env bash
# carnot bench allreduce under 2 ranks (started by launch/mpirun.sh): one JSON line per message size, sizes doubling from --min
# to --max, every figure positive and busbw = algbw · 2(n − 1)/n; without a launcher it is refused
# with exit 2 (there is no MPI to compare with). Speed is the benchmark's business, not this test's.
source "$(dirname "$0")/common.sh"
CARNOT="$CARNOT" "$SRC/launch/mpirun.sh" 2 bench allreduce --min 1K --max 64K --iters 5 > bench.txt || { cat bench.txt; fail "bench"; }
"${PYTHON:-python3}" - <<'PY' || { cat bench.txt; fail "bench output"; }
import json
rows = [json.loads(l) for l in open("bench.txt") if l.startswith("{")]
assert [r["bytes"] for r in rows] == [1024 << i for i in range(7)], [r["bytes"] for r in rows]
for r in rows:
    assert r["ranks"] == 2 and min(r["carnot_time_us"], r["mpi_time_us"], r["carnot_busbw_gbs"], r["mpi_busbw_gbs"]) > 0, r
    assert abs(r["carnot_busbw_gbs"] - r["carnot_algbw_gbs"] * 2 * (2 - 1) / 2) < 1e-9 * r["carnot_algbw_gbs"], r
print(f"{len(rows)} sizes, 1 KiB to 64 KiB; ratio at 64 KiB {rows[-1]['ratio']:.2f}")
PY
set +e
env -u OMPI_COMM_WORLD_SIZE "$CARNOT" bench allreduce --max 4K > single.txt 2> single.err; rc=$?
set -e
[ $rc -eq 2 ] && grep -q "run it under mpirun" single.err || { cat single.err; fail "bench without a launcher (exit $rc)"; }
set +e
CARNOT="$CARNOT" "$SRC/launch/mpirun.sh" 2 bench allreduce --max 4G > big.txt 2> big.err; rc=$?
set -e
[ $rc -eq 2 ] && grep -q "max <= 1073741824 bytes" big.err || { cat big.err; fail "--max 4G (exit $rc)"; }
# bench step: two settings (overlap on, off), compute + exposed communication = the step.
CARNOT="$CARNOT" "$SRC/launch/mpirun.sh" 2 bench step "$SRC/configs/swissroll.yaml" --set distributed.bucket_mb=0.125 \
  --steps 5 --warmup 2 > step.txt || { cat step.txt; fail "bench step"; }
"${PYTHON:-python3}" - <<'PY' || { cat step.txt; fail "bench step output"; }
import json
rows = [json.loads(l) for l in open("step.txt") if l.startswith("{")]
assert [r["overlap"] for r in rows] == [True, False], rows
assert rows[0]["buckets"] > 1 and rows[1]["buckets"] == 1, rows
for r in rows:
    assert r["ranks"] == 2 and r["step_ms"] > 0 and r["exposed_comm_ms"] >= 0, r
    assert abs(r["compute_ms"] + r["exposed_comm_ms"] - r["step_ms"]) < 1e-9 * r["step_ms"] + 1e-12, r
print("bench step:", ", ".join(f"overlap {r['overlap']}: {r['step_ms']:.2f} ms, exposed comm {r['exposed_fraction']:.0%}" for r in rows))
PY
# --profile: the step's time per op (a whole number of calls per step), within the step's time.
"$CARNOT" bench step "$SRC/configs/swissroll.yaml" --steps 4 --warmup 1 --profile > profile.txt ||
  { cat profile.txt; fail "bench step --profile"; }
"${PYTHON:-python3}" - <<'PY' || { cat profile.txt; fail "bench step --profile output"; }
import json
lines = [json.loads(l) for l in open("profile.txt") if l.startswith("{")]
p = [l["profile"] for l in lines if "profile" in l][0]
ops = {o["op"]: o for o in p["ops"]}
for name in ("gemm", "adamw_ema_step", "mse_loss"):  # the update after the reduction is one op
    assert name in ops and ops[name]["calls_per_step"] >= 1 and ops[name]["calls_per_step"] == int(ops[name]["calls_per_step"]), (name, ops.get(name))
assert 0 < p["ops_ms"] <= p["step_ms"] and abs(p["ops_ms"] + p["outside_ops_ms"] - p["step_ms"]) < 1e-6 * p["step_ms"], p
assert [o["ms_per_step"] for o in p["ops"]] == sorted((o["ms_per_step"] for o in p["ops"]), reverse=True), p["ops"]
print(f"bench step --profile: {len(ops)} ops, {p['ops_ms'] / p['step_ms']:.0%} of the step; largest {p['ops'][0]['op']}")
PY
set +e
CARNOT="$CARNOT" "$SRC/launch/mpirun.sh" 2 bench allreduce --backend nccl --max 4K > nccl.txt 2> nccl.err; rc=$?
set -e
# Without a GPU (CI) the NCCL path is refused clearly; with one it prints its rows.
if [ $rc -ne 0 ]; then
  [ $rc -eq 2 ] && grep -qE "needs a GPU for every rank|built without NCCL" nccl.err || { cat nccl.err; fail "bench --backend nccl (exit $rc)"; }
  echo "ok (exit 2): $(grep -E 'needs a GPU|without NCCL' nccl.err | head -n 1)"
fi
echo "PASS"
