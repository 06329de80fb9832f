#!/usr/bin/env bash
# carnot's safetensors files through the Python `safetensors` package and back: Python reads
# every checkpoint file with its names, shapes, dtypes and metadata, writes the tensors anew, and
# carnot reads Python's file.
source "$(dirname "$0")/common.sh"
PY=${PYTHON:-python3}
"$PY" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target py safetensors numpy \
  || fail "pip could not install safetensors and numpy (PyPI needed for this test)"
export PYTHONPATH=$PWD/py

"$CARNOT" train "$SRC/configs/swissroll.yaml" --set train.steps=20 --set checkpoint.every=20 --run-dir run > /dev/null
ck=run/checkpoints/step_000000020
"$PY" - "$ck" <<'PYCODE'
import sys, numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file, save_file
ck = sys.argv[1]
with safe_open(f"{ck}/model.safetensors", "np") as f:
    meta, names = f.metadata(), list(f.keys())
assert meta["model.kind"] == "mlp" and meta["model.hidden"] == "128", meta
model = load_file(f"{ck}/model.safetensors")
assert model["blocks.0.fc1.weight"].shape == (128, 128) and model["blocks.0.fc1.weight"].dtype == np.float32
assert model["final_layer.weight"].shape == (2, 128)
assert sum(v.size for v in model.values()) == 153474, sum(v.size for v in model.values())
ema = load_file(f"{ck}/ema.safetensors")
assert ema.keys() == model.keys()
opt = load_file(f"{ck}/optimizer.safetensors")
assert opt["exp_avg"].shape == opt["exp_avg_sq"].shape and (opt["exp_avg_sq"] >= 0).all()
save_file(model, "python.safetensors", metadata=meta)
again = load_file("python.safetensors")
assert all(np.array_equal(again[k], model[k]) for k in model)
print(f"python read {len(names)} tensors, {sum(v.size for v in model.values())} parameters, metadata {meta}")
PYCODE
"$CARNOT" inspect python.safetensors > inspect.out || { cat inspect.out; fail "carnot cannot read Python's file"; }
"$CARNOT" inspect "$ck/model.safetensors" > inspect_ck.out
diff <(grep -E '^    ' inspect.out | sort) <(grep -E '^    ' inspect_ck.out | sort) || fail "tensor lists differ"
grep -q "metadata model.kind = mlp" inspect.out || fail "metadata lost"
echo "carnot read Python's file: $(grep -c '^    ' inspect.out) tensors, same names, dtypes and shapes"
echo "PASS"
