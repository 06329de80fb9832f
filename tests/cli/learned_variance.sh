#!/usr/bin/env bash
# A network with learned reverse variances, trained on the bound (diffusion.loss vlb) over 2 ranks,
# then evaluated and sampled: the bound's terms print, the JSON line is complete, training lowered
# the bound (a model that learned nothing sits far above it), and DDPM sampling runs with the
# learned variances.
source "$(dirname "$0")/common.sh"
job="$SRC/configs/swissroll_2015.yaml"
common=(--set diffusion.variance=learned --set diffusion.loss=vlb --set log.every=100)
mpi 2 "$CARNOT" train "$job" --run-dir early "${common[@]}" --set train.steps=20 --set checkpoint.every=20 > train.txt \
  || { cat train.txt; fail "train (20 steps)"; }
mpi 2 "$CARNOT" train "$job" --run-dir run "${common[@]}" --set train.steps=1500 --set checkpoint.every=1500 > train.txt \
  || { cat train.txt; fail "train (1500 steps)"; }
mpi 2 "$CARNOT" eval --ckpt early --metric nll -n 4000 > early.txt || { cat early.txt; fail "eval early"; }
mpi 2 "$CARNOT" eval --ckpt run --metric nll -n 4000 --per-step > eval.txt || { cat eval.txt; fail "eval"; }
grep -q "^ *prior " eval.txt && [ "$(grep -cE '^ +[0-9]+ +-?[0-9.]+$' eval.txt)" -eq 40 ] || { cat eval.txt; fail "--per-step table"; }
tail -n 1 early.txt; tail -n 1 eval.txt
# Trained beats barely trained by more than 10 of their combined standard errors.
"${PYTHON:-python3}" -c "import json; l=lambda f: json.loads(open(f).read().strip().splitlines()[-1]); \
  a, b = l('early.txt'), l('eval.txt'); se = (a['bits_stderr']**2 + b['bits_stderr']**2) ** 0.5; \
  assert b['bits'] > a['bits'] + 10 * se, (a, b)" || fail "training did not raise the bound"
mpi 2 "$CARNOT" sample --ckpt run -n 2000 --out s.npy > sample.txt || { cat sample.txt; fail "sample"; }
grep -q "variance learned" sample.txt || { cat sample.txt; fail "sample did not say it used the learned variance"; }

# Learned β as well: the logits train (non-zero in the checkpoint) and eval and sample read them.
mpi 2 "$CARNOT" train "$job" --run-dir betas "${common[@]}" --set diffusion.betas=learned --set train.steps=1500 \
  --set checkpoint.every=1500 > train.txt || { cat train.txt; fail "train with learned betas"; }
"${PYTHON:-python3}" - betas/checkpoints/step_000001500/ema.safetensors <<'PY' || fail "schedule.beta_logits"
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
meta = json.loads(raw[8:8 + n])["schedule.beta_logits"]
a, b = meta["data_offsets"]
v = struct.unpack(f"<{(b - a) // 4}f", raw[8 + n + a:8 + n + b])
assert meta["shape"] == [39] and max(abs(x) for x in v) > 1e-3, (meta, v[:5])
print("schedule.beta_logits: 39 values, largest |p| %.3f" % max(abs(x) for x in v))
PY
mpi 2 "$CARNOT" eval --ckpt betas --metric nll -n 4000 > betas.txt || { cat betas.txt; fail "eval learned betas"; }
tail -n 1 betas.txt
mpi 2 "$CARNOT" sample --ckpt betas -n 2000 --out b.npy > sample.txt || { cat sample.txt; fail "sample learned betas"; }
echo "PASS"
