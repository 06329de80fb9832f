#!/usr/bin/env bash
# launch/scaling_sweep.py on 1 and 2 ranks: a CSV row per mode and rank count with the step split
# into compute and exposed communication, efficiency 1 at one rank, and a PNG (matplotlib is
# installed by the script when missing).
source "$(dirname "$0")/common.sh"
CARNOT="$CARNOT" python3 "$SRC/launch/scaling_sweep.py" "$SRC/configs/swissroll.yaml" --ranks 1,2 --steps 3 --warmup 1 \
  --out sweep > sweep.log 2>&1 || { cat sweep.log; fail "scaling_sweep.py"; }
cat sweep.log
python3 - <<'PY' || fail "scaling.csv"
import csv
rows = list(csv.DictReader(open("sweep/scaling.csv")))
assert [(r["mode"], int(r["ranks"])) for r in rows] == [("strong", 1), ("strong", 2), ("weak", 1), ("weak", 2)], rows
assert [int(r["global_batch"]) for r in rows] == [256, 256, 256, 512], rows
for r in rows:
    step, compute, comm = float(r["step_ms"]), float(r["compute_ms"]), float(r["exposed_comm_ms"])
    assert step > 0 and abs(compute + comm - step) <= 1e-9 * step, r
    assert abs(float(r["samples_per_s"]) * step / 1e3 - int(r["global_batch"])) < 1e-6 * int(r["global_batch"]), r
assert float(rows[0]["efficiency"]) == 1.0 and float(rows[2]["efficiency"]) == 1.0, rows
PY
[ "$(head -c 8 sweep/scaling.png | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || fail "scaling.png is not a PNG"
set +e
python3 "$SRC/launch/scaling_sweep.py" --ranks 2,1 --out bad > bad.log 2>&1; rc=$?
set -e
[ $rc -ne 0 ] && grep -q "increasing positive integers" bad.log || { cat bad.log; fail "--ranks 2,1 (exit $rc)"; }
echo "PASS"
