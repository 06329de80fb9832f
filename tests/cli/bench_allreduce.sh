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
echo "PASS"
