#!/usr/bin/env bash
# A tiny class-conditional DiT trained on Fashion-MNIST under 2 ranks: sample grids during
# training, also in TensorBoard event files that the tensorboard package reads back with the
# metrics; then exported: the file carries the reference's
# tensor names and shapes (read with the Python safetensors package) and DiT's constructor
# arguments; carnot forward on the export equals forward on the checkpoint bit for bit, and an
# independent NumPy DiT written from the reference's models.py (benchmarks/peers/dit_numpy.py)
# and a PyTorch DiT with the reference's module layout (benchmarks/peers/dit_torch.py, loading the
# export strictly) agree to 1e-5, with trained and with random weights.
source "$(dirname "$0")/common.sh"
PY=${PYTHON:-python3}
"$PY" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target py safetensors numpy tensorboard \
  || fail "pip could not install safetensors, numpy and tensorboard (PyPI needed for this test)"
export PYTHONPATH=$PWD/py
cat > tiny.yaml <<'YAML'
name: tiny_dit
data: {kind: fashion_mnist, pad_to: 32}
model: {kind: dit, hidden: 32, depth: 2, heads: 2, patch: 8}
diffusion: {variance: learned, loss: hybrid}
train: {global_batch: 16, steps: 20}
log: {every: 5}
sample: {every: 10, n: 20, steps: 5}
YAML
mpi 2 "$CARNOT" train tiny.yaml --run-dir run > train.log || { cat train.log; fail "train"; }
for s in 10 20; do  # grids from the EMA weights during training
  f=run/samples/step_0000000$s.png
  [ "$(head -c 8 "$f" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || { cat train.log; fail "no grid $f"; }
done
grep -q "sample grid run/samples/step_000000020.png" run/log.txt || fail "log.txt names no grid"
"$PY" - <<'PYCODE' || fail "TensorBoard's reader on run/tensorboard"
import glob, json
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
files = glob.glob("run/tensorboard/events.out.tfevents.*")
assert len(files) == 1, files
ea = EventAccumulator(files[0], size_guidance={"images": 0, "scalars": 0})
ea.Reload()
tags = ea.Tags()
assert {"loss", "lr", "grad_norm", "samples_per_s"} <= set(tags["scalars"]), tags
want = [r for r in map(json.loads, open("run/metrics.jsonl")) if "loss" in r]  # not the diagnostics lines
got = ea.Scalars("loss")
assert [e.step for e in got] == [r["step"] for r in want], ([e.step for e in got], [r["step"] for r in want])
assert all(abs(e.value - r["loss"]) <= 1e-6 * abs(r["loss"]) for e, r in zip(got, want))
images = ea.Images("samples")
assert [i.step for i in images] == [10, 20], [i.step for i in images]
png = open("run/samples/step_000000020.png", "rb").read()
assert images[1].encoded_image_string == png and images[1].width > 32 and images[1].height > 32
print(f"TensorBoard reads {len(got)} loss scalars equal to metrics.jsonl and {len(images)} sample grids")
PYCODE
"$CARNOT" export --ckpt run --out model.safetensors > export.log || { cat export.log; fail "export"; }
grep -q "written to model.safetensors" export.log || fail "export said nothing"
"$PY" - <<'PYCODE' || fail "the export's names and shapes"
import numpy as np
from safetensors import safe_open
with safe_open("model.safetensors", "np") as f:
    meta, shapes = f.metadata(), {k: f.get_tensor(k).shape for k in f.keys()}
assert meta["model"] == "DiT" and meta["hidden_size"] == "32" and meta["patch_size"] == "8", meta
assert meta["num_classes"] == "10" and meta["learn_sigma"] == "true", meta
want = {"x_embedder.proj.weight": (32, 1, 8, 8), "x_embedder.proj.bias": (32,), "pos_embed": (1, 16, 32),
        "t_embedder.mlp.0.weight": (32, 256), "t_embedder.mlp.2.weight": (32, 32),
        "y_embedder.embedding_table.weight": (11, 32),
        "blocks.0.attn.qkv.weight": (96, 32), "blocks.0.attn.proj.weight": (32, 32),
        "blocks.1.mlp.fc1.weight": (128, 32), "blocks.1.mlp.fc2.weight": (32, 128),
        "blocks.1.adaLN_modulation.1.weight": (192, 32), "blocks.1.adaLN_modulation.1.bias": (192,),
        "final_layer.adaLN_modulation.1.weight": (64, 32), "final_layer.linear.weight": (128, 32)}
for k, s in want.items():
    assert shapes.get(k) == s, (k, shapes.get(k), s)
print(f"{len(shapes)} tensors with the reference's names and shapes")
rng = np.random.default_rng()
np.save("x.npy", rng.standard_normal((3, 1, 32, 32)).astype(np.float32))
np.save("t.npy", np.array([0, 421, 999], np.float32))
np.save("y.npy", np.array([3, 9, 10], np.int64))  # 10: the null class
# The same file with every weight drawn at random (scale 0.3): adaLN-Zero's gates, near zero after
# a short training, would otherwise hide the blocks from the comparison below.
from safetensors.numpy import save_file
with safe_open("model.safetensors", "np") as f:
    rand = {k: (0.3 * rng.standard_normal(f.get_tensor(k).shape)).astype(np.float32) for k in f.keys()}
save_file(rand, "random.safetensors", metadata=meta)
PYCODE
"$CARNOT" forward --ckpt model.safetensors --x x.npy --t t.npy --y y.npy --out out_export.npy > /dev/null
"$CARNOT" forward --ckpt run --x x.npy --t t.npy --y y.npy --out out_ckpt.npy > /dev/null
cmp out_export.npy out_ckpt.npy || fail "forward on the export differs from forward on the checkpoint"
"$CARNOT" forward --ckpt random.safetensors --x x.npy --t t.npy --y y.npy --out out_random.npy > /dev/null
for w in model random; do
  "$PY" "$SRC/benchmarks/peers/dit_numpy.py" $w.safetensors x.npy t.npy y.npy numpy_$w.npy
done
"$PY" - <<'PYCODE' || fail "carnot forward against the NumPy DiT"
import numpy as np
for mine, peer in (("out_export", "numpy_model"), ("out_random", "numpy_random")):
    a, b = np.load(mine + ".npy").astype(np.float64), np.load(peer + ".npy").astype(np.float64)
    assert a.shape == b.shape == (3, 2, 32, 32), (a.shape, b.shape)
    err = np.linalg.norm(a - b) / np.linalg.norm(b)
    print(f"carnot forward vs the NumPy DiT ({peer}): relative error {err:.2e} (bound 1e-5)")
    assert err < 1e-5
PYCODE
# The PyTorch DiT laid out as the reference's models.py (benchmarks/peers/dit_torch.py) loads both
# files with load_state_dict(strict=True) and agrees with carnot forward to 1e-5. Debian's
# python3-torch serves /usr/bin/python3; installed here when missing.
TORCHPY=/usr/bin/python3
if ! env -u PYTHONPATH "$TORCHPY" -c "import torch" 2> /dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq python3-torch > apt.log 2>&1 || { apt-get update -qq && apt-get install -y -qq python3-torch; } >> apt.log 2>&1
fi
env -u PYTHONPATH "$TORCHPY" -c "import torch" || fail "PyTorch (Debian's python3-torch) is needed for the peer check"
for w in model random; do
  env -u PYTHONPATH "$TORCHPY" "$SRC/benchmarks/peers/dit_torch.py" forward $w.safetensors x.npy t.npy y.npy torch_$w.npy
done
env -u PYTHONPATH "$TORCHPY" - <<'PYCODE' || fail "carnot forward against the PyTorch DiT"
import numpy as np
for mine, peer in (("out_export", "torch_model"), ("out_random", "torch_random")):
    a, b = np.load(mine + ".npy").astype(np.float64), np.load(peer + ".npy").astype(np.float64)
    err = np.linalg.norm(a - b) / np.linalg.norm(b)
    print(f"carnot forward vs the PyTorch DiT ({peer}, load_state_dict strict): relative error {err:.2e} (bound 1e-5)")
    assert a.shape == b.shape and err < 1e-5
PYCODE
expect_refused() {  # expect_refused PATTERN COMMAND...
  local pattern=$1; shift
  set +e; "$@" > /dev/null 2> err.txt; local rc=$?; set -e
  [ $rc -eq 2 ] && grep -qF -- "$pattern" err.txt || { cat err.txt; fail "exit $rc, expected 2 and '$pattern': $*"; }
  echo "ok (exit 2): $(grep -F -- "$pattern" err.txt | head -n 1)"
}
expect_refused "give --y" "$CARNOT" forward --ckpt model.safetensors --x x.npy --t t.npy --out bad.npy
# Guided sampling of one class; guidance without a class, and a class the model lacks, refused.
"$CARNOT" sample --ckpt run -n 6 --class 3 --cfg-scale 2.5 --sampler ddim --steps 3 --out guided.npy > guided.log \
  || { cat guided.log; fail "guided sampling"; }
grep -q "class 3, guidance scale 2.5" guided.log || { cat guided.log; fail "guided sampling said nothing"; }
"$PY" -c "import numpy as np; a = np.load('guided.npy'); assert a.shape == (6, 32, 32, 1) and a.dtype == np.uint8, a.shape"
expect_refused "--cfg-scale needs --class K" "$CARNOT" sample --ckpt run -n 2 --cfg-scale 2 --class null --out g.npy
expect_refused "the model has classes 0 to 9" "$CARNOT" sample --ckpt run -n 2 --class 12 --out g.npy
# The network on the guarded device (the GPU's path: rows, times and labels go over, outputs come
# back; learned variance, guidance): the same samples as on the CPU, byte for byte.
for d in cpu guarded; do
  "$CARNOT" --device $d sample --ckpt run -n 6 --class 3 --cfg-scale 2.5 --sampler ddpm --seed 7 --out s_$d.npy \
    > s_$d.log || { cat s_$d.log; fail "sampling on $d"; }
done
grep -q "device: the guarded device" s_guarded.log || { cat s_guarded.log; fail "the guarded device was not announced"; }
cmp s_cpu.npy s_guarded.npy || fail "guided DDPM samples differ between the CPU and the guarded device"
echo "ok: guided DDPM sampling on the guarded device equals the CPU's"
echo "PASS"
