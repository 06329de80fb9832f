#!/usr/bin/env bash
# Issue 8 end to end: the balance job's diagnostics lines (SGD temperature, entropic terms,
# charges, balances and the imbalance split), the plot script's PNG, the once-only notes where a
# quantity is not defined (AdamW, one rank), and `carnot align` between two seeds: above the
# permutation null, 1 against itself, and a clear error for an unknown layer.
source "$(dirname "$0")/common.sh"
job="$SRC/configs/thermo/balance_mlp.yaml"
short=(--set train.steps=600 --set checkpoint.every=600 --set log.every=200)

mpi 2 "$CARNOT" train "$job" "${short[@]}" --run-dir sgd > sgd.log
diag=$(grep '"gns_g2"' sgd/metrics.jsonl | tail -n 1)
[ -n "$diag" ] || fail "no diagnostics line in sgd/metrics.jsonl"
for key in temperature entropic_discretization entropic_noise entropic_ratio gns_b_simple \
           'charge/blocks.0.fc1-fc2' 'balance/blocks.3.fc1-fc2' 'imbalance_g2/blocks.1.fc1-fc2' \
           'imbalance_noise/blocks.2.fc1-fc2' 'grad_norm/blocks.0.fc1.weight'; do
  echo "$diag" | grep -q "\"$key\":" || fail "the diagnostics line lacks $key"
done
temp=$(echo "$diag" | grep -o '"temperature":[^,}]*' | cut -d: -f2)
awk -v t="$temp" 'BEGIN { want = 0.3 / 256; r = (t - want) / want; exit !(r < 1e-12 && r > -1e-12) }' \
  || fail "temperature $temp is not η/B = 0.3/256"
echo "ok: diagnostics line with temperature $temp = η/B and every pair's charge, balance and split"
grep -q "diagnostics:" sgd/log.txt && fail "SGD on 2 ranks should need no diagnostics notes: $(grep diagnostics: sgd/log.txt)"

if /usr/bin/python3 -c "import matplotlib" 2>/dev/null; then
  /usr/bin/python3 "$SRC/launch/plot_metrics.py" sgd --out sgd.png
  [ "$(head -c 4 sgd.png | tail -c 3)" = "PNG" ] || fail "plot_metrics.py wrote no PNG"
  echo "ok: plot_metrics.py drew sgd.png"
else
  fail "python3-matplotlib is missing (launch/deps.sh installs it)"
fi

# AdamW on one rank: temperature and noise scale are not defined; each note is logged once.
"$CARNOT" train "$job" "${short[@]}" --set optimizer.kind=adamw --set optimizer.lr=1e-3 \
  --run-dir adam > adam.log 2>&1 || { cat adam.log; fail "the AdamW run failed"; }
for note in "temperature and entropic terms are SGD's" "no gradient noise scale"; do
  n=$(grep -c "$note" adam/log.txt || true)
  [ "$n" = 1 ] || fail "note '$note' logged $n times, expected once"
done
grep -q '"temperature"' adam/metrics.jsonl && fail "AdamW's metrics carry a temperature"
echo "ok: AdamW's diagnostics say once what they leave out"

# Two seeds of the same model align far above the permutation null; a model with itself is 1.
mpi 2 "$CARNOT" train "$job" "${short[@]}" --set seed=1 --run-dir seed1 > /dev/null
"$CARNOT" align --ckpt sgd --ckpt seed1 -n 300 > align.log
cat align.log
tail -n 1 align.log | /usr/bin/python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
for m in ("cka", "mknn"):
    floor = r[m + "_null"] + 5 * r[m + "_null_sd"]
    assert r[m] > floor, f"{m} {r[m]:.4f} is not above its null + 5 sd {floor:.4f}"
assert r["layer_a"] == "blocks.2" and r["n"] == 300 and r["k"] == 10, r
' || fail "alignment of two seeds is not above the null"
"$CARNOT" align --ckpt sgd --ckpt sgd -n 100 | tail -n 1 | grep -q '"cka":1.0' || fail "a model's CKA with itself is not 1"
set +e
"$CARNOT" align --ckpt sgd --ckpt seed1 --layer blocks.9 -n 50 > bad.log 2>&1
rc=$?
set -e
[ $rc = 2 ] || fail "an unknown layer exits with $rc, expected 2"
grep -q "layer blocks.9: .* has no such feature layer (it has blocks.0, blocks.1, blocks.2, blocks.3)" bad.log \
  || fail "unclear message for an unknown layer: $(cat bad.log)"
echo "PASS"
