#!/usr/bin/env bash
# carnot sample --job on exact models: every sampler gives the data's moments within 5 standard
# errors (step counts as in tests/unit/exact_samplers_test.cpp, whose bias is under 0.35 SE; euler
# on the VP chain is DDIM with η = 0, the same update).
source "$(dirname "$0")/common.sh"
seed=${CARNOT_TEST_SEED:-$(( (RANDOM << 15) | RANDOM ))}
echo "[seed] $seed (replay with CARNOT_TEST_SEED=$seed)"
for job in gaussian_exact mixture_exact; do
  for sampler in "ddpm" "ddim --steps 2000" "euler --steps 2000" "heun --steps 500 --set diffusion.steps=1000" \
                 "flow_euler --steps 4000 --set diffusion.schedule=flow --set diffusion.objective=flow" \
                 "heun --steps 200 --set diffusion.schedule=edm --set diffusion.objective=edm --set diffusion.sigma_max=1000" \
                 "euler --steps 4000 --set diffusion.schedule=edm --set diffusion.objective=edm --set diffusion.sigma_max=1000"; do
    mpi 2 "$CARNOT" sample --job "$SRC/configs/$job.yaml" -n 20000 --seed "$seed" --out "$job.npy" \
      --sampler $sampler > out.txt
    grep "moments" out.txt | sed "s/^/$job $sampler: /"
    [ "$(grep -c moments out.txt)" -ge 2 ] || { cat out.txt; fail "no moments printed"; }
    awk '/moments/ { for (i = 1; i <= NF; i++) if ($i == "z") { z = $(i + 1); sub(/[),]+$/, "", z); z = z + 0;
         if (z > 5 || z < -5) bad = 1 } } END { exit bad }' out.txt || fail "$job $sampler: a moment is off by > 5 SE"
  done
done
# eval --metric nll: the last line is one JSON object with the bound in bits.
mpi 2 "$CARNOT" eval --job "$SRC/configs/gaussian_exact.yaml" --set diffusion.steps=200 -n 4000 --metric nll > eval.txt
tail -n 1 eval.txt
"${PYTHON:-python3}" -c "import json,sys; r=json.loads(open('eval.txt').read().strip().splitlines()[-1]); \
  assert {'bits','bits_minus_null','bits_stderr','n','steps'} <= r.keys() and r['n'] == 4000 and r['steps'] == 200, r; \
  assert r['bits_stderr'] > 0 and abs(r['bits_minus_null'] - (r['bits'] - r['null_bits'])) < 1e-9, r" \
  || fail "eval's JSON line"

# 8-bit data (data.quantize 8bit): eval reports bits_per_dim with DDPM's discretised decoder, a
# bound on the data's discrete NLL, whose exact value is the quantised Gaussian's entropy.
q=(--set 'data.mean=[0.1,-0.2]' --set 'data.std=[0.3,0.5]' --set data.quantize=8bit --set diffusion.steps=1000)
mpi 2 "$CARNOT" eval --job "$SRC/configs/gaussian_exact.yaml" "${q[@]}" -n 4000 --metric nll > eval8.txt
tail -n 1 eval8.txt
"${PYTHON:-python3}" - <<'PY' || fail "bits_per_dim"
import json, math
r = json.loads(open("eval8.txt").read().strip().splitlines()[-1])
assert {"bits_per_dim", "bits_per_dim_stderr"} <= r.keys() and "bits" not in r, r
cdf = lambda x, m, s: 0.5 * (1 + math.erf((x - m) / (s * math.sqrt(2))))
def entropy(m, s):  # bits of N(m, s²) clipped to [−1, 1] and rounded to 256 levels
    h = 0
    for k in range(256):
        lo = -math.inf if k == 0 else -1 + (2 * k - 1) / 255
        hi = math.inf if k == 255 else -1 + (2 * k + 1) / 255
        p = cdf(hi, m, s) - cdf(lo, m, s)
        h -= p * math.log2(p) if p > 0 else 0
    return h
exact = (entropy(0.1, 0.3) + entropy(-0.2, 0.5)) / 2
print(f"bits_per_dim {r['bits_per_dim']:.4f} ± {r['bits_per_dim_stderr']:.4f}; the data's exact {exact:.4f}")
assert r["bits_per_dim"] > exact - 5 * r["bits_per_dim_stderr"], (r, exact)
PY

set +e
"$CARNOT" sample --job "$SRC/configs/swissroll.yaml" --out x.npy 2> err.txt; rc=$?
set -e
[ $rc -eq 2 ] && grep -q "needs trained weights" err.txt || { cat err.txt; fail "--job with an mlp model"; }
# A flow model samples only with flow_euler, and flow_euler only a flow model; neither has a bound here.
flow=(--set diffusion.schedule=flow --set diffusion.objective=flow)
set +e
"$CARNOT" sample --job "$SRC/configs/gaussian_exact.yaml" "${flow[@]}" --sampler ddim --out x.npy 2> err1.txt; rc1=$?
"$CARNOT" sample --job "$SRC/configs/gaussian_exact.yaml" --sampler flow_euler --out x.npy 2> err2.txt; rc2=$?
"$CARNOT" eval --job "$SRC/configs/gaussian_exact.yaml" "${flow[@]}" --metric nll 2> err3.txt; rc3=$?
set -e
[ $rc1 -eq 2 ] && grep -q "it samples with flow_euler" err1.txt || { cat err1.txt; fail "ddim on a flow model"; }
[ $rc2 -eq 2 ] && grep -q "it samples with ddpm, ddim, euler, heun" err2.txt || { cat err2.txt; fail "flow_euler on a diffusion model"; }
[ $rc3 -eq 2 ] && grep -q "is a continuous-time model" err3.txt || { cat err3.txt; fail "eval nll on a flow model"; }
echo "PASS"
