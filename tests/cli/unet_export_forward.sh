#!/usr/bin/env bash
# A tiny class-conditional DDPM U-Net (learned σ, dropout, attention) trained on Fashion-MNIST under 2
# ranks with a sample grid, then exported: the file carries diffusers' UNet2DModel names and shapes
# and its config; carnot forward on the export equals forward on the checkpoint bit for bit; and
# diffusers' own UNet2DModel, built from the export's config and loading it with
# load_state_dict(strict=True) (benchmarks/peers/unet_diffusers.py), agrees with carnot forward to
# 1e-5, with the trained weights and with every weight drawn at random. Guided sampling runs.
source "$(dirname "$0")/common.sh"
PY=${PYTHON:-python3}
"$PY" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target py safetensors numpy \
  || fail "pip could not install safetensors and numpy (PyPI needed for this test)"
cat > tiny.yaml <<'YAML'
name: tiny_unet
data: {kind: fashion_mnist, pad_to: 32}
model: {kind: unet, channels: 8, channel_mult: [1, 2], res_blocks: 1, attention_resolutions: [16], groups: 4,
        head_dim: 8, dropout: 0.2}
diffusion: {variance: learned, loss: hybrid}
train: {global_batch: 16, steps: 20}
log: {every: 5}
sample: {every: 20, n: 20, steps: 5}
YAML
mpi 2 "$CARNOT" train tiny.yaml --run-dir run > train.log || { cat train.log; fail "train"; }
f=run/samples/step_000000020.png
[ "$(head -c 8 "$f" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || { cat train.log; fail "no grid $f"; }
"$CARNOT" export --ckpt run --out model.safetensors > export.log || { cat export.log; fail "export"; }
grep -q "a U-Net, .* written to model.safetensors" export.log || { cat export.log; fail "export said nothing"; }
PYTHONPATH=$PWD/py "$PY" - <<'PYCODE' || fail "the export's names, shapes and config"
import json
import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file
with safe_open("model.safetensors", "np") as f:
    meta, shapes = f.metadata(), {k: f.get_tensor(k).shape for k in f.keys()}
    rng = np.random.default_rng()
    # Every weight at random (scale 0.3): DDPM's zero-initialised last layers, still small after
    # 20 steps, would otherwise hide most of the network from the comparison.
    save_file({k: (0.3 * rng.standard_normal(f.get_tensor(k).shape)).astype(np.float32) for k in f.keys()},
              "random.safetensors", metadata=meta)
config = json.loads(meta["config"])
assert meta["model"] == "UNet2DModel" and config["_class_name"] == "UNet2DModel", meta
assert config["block_out_channels"] == [8, 16] and config["layers_per_block"] == 1, config
assert config["down_block_types"] == ["DownBlock2D", "AttnDownBlock2D"], config  # attention at 16×16
assert config["up_block_types"] == ["AttnUpBlock2D", "UpBlock2D"], config
assert config["num_class_embeds"] == 11 and config["out_channels"] == 2 and config["attention_head_dim"] == 8, config
want = {"conv_in.weight": (8, 1, 3, 3), "time_embedding.linear_1.weight": (32, 8), "class_embedding.weight": (11, 32),
        "down_blocks.0.resnets.0.time_emb_proj.weight": (8, 32), "down_blocks.1.attentions.0.to_q.weight": (16, 16),
        "down_blocks.0.downsamplers.0.conv.weight": (8, 8, 3, 3), "down_blocks.1.resnets.0.conv_shortcut.weight": (16, 8, 1, 1),
        "mid_block.attentions.0.group_norm.weight": (16,), "up_blocks.0.resnets.1.conv1.weight": (16, 24, 3, 3),
        "up_blocks.0.upsamplers.0.conv.weight": (16, 16, 3, 3), "up_blocks.0.attentions.1.to_out.0.weight": (16, 16),
        "conv_norm_out.weight": (8,), "conv_out.weight": (2, 8, 3, 3)}
for k, s in want.items():
    assert shapes.get(k) == s, (k, shapes.get(k), s)
print(f"{len(shapes)} tensors with diffusers' names and shapes")
np.save("x.npy", rng.standard_normal((3, 1, 32, 32)).astype(np.float32))
np.save("t.npy", np.array([0, 421, 999], np.float32))
np.save("y.npy", np.array([3, 9, 10], np.int64))  # 10: the null class
PYCODE
"$CARNOT" forward --ckpt model.safetensors --x x.npy --t t.npy --y y.npy --out out_model.npy > /dev/null
"$CARNOT" forward --ckpt run --x x.npy --t t.npy --y y.npy --out out_ckpt.npy > /dev/null
cmp out_model.npy out_ckpt.npy || fail "forward on the export differs from forward on the checkpoint"
"$CARNOT" forward --ckpt random.safetensors --x x.npy --t t.npy --y y.npy --out out_random.npy > /dev/null
# diffusers' UNet2DModel (pip, pinned for Debian's torch 1.13) on /usr/bin/python3 with python3-torch.
TORCHPY=/usr/bin/python3
if ! env -u PYTHONPATH "$TORCHPY" -c "import torch" 2> /dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq python3-torch > apt.log 2>&1 || { apt-get update -qq && apt-get install -y -qq python3-torch; } >> apt.log 2>&1
fi
env -u PYTHONPATH "$TORCHPY" -c "import torch" || fail "PyTorch (Debian's python3-torch) is needed for the peer check"
export CARNOT_PEER_SITE=$PWD/peer_site
for w in model random; do
  env -u PYTHONPATH "$TORCHPY" "$SRC/benchmarks/peers/unet_diffusers.py" forward $w.safetensors x.npy t.npy y.npy \
    diffusers_$w.npy || fail "diffusers' UNet2DModel on $w.safetensors"
done
env -u PYTHONPATH "$TORCHPY" - <<'PYCODE' || fail "carnot forward against diffusers' UNet2DModel"
import numpy as np
for w in ("model", "random"):
    a, b = np.load(f"out_{w}.npy").astype(np.float64), np.load(f"diffusers_{w}.npy").astype(np.float64)
    err = np.linalg.norm(a - b) / np.linalg.norm(b)
    print(f"carnot forward vs diffusers' UNet2DModel ({w} weights, load_state_dict strict): relative error {err:.2e} (bound 1e-5)")
    assert a.shape == b.shape == (3, 2, 32, 32) and err < 1e-5
PYCODE
"$CARNOT" sample --ckpt run -n 4 --class 3 --cfg-scale 2 --sampler ddim --steps 3 --out guided.npy > guided.log \
  || { cat guided.log; fail "guided sampling"; }
"$PY" -c "import numpy as np; a = np.load('guided.npy'); assert a.shape == (4, 32, 32, 1) and a.dtype == np.uint8, a.shape" \
  || fail "guided samples"
# The bound on Fashion-MNIST's test split: padded images also get bits per value of the 28×28 image.
"$CARNOT" eval --ckpt run -n 4 --t-samples 2 > eval.log || { cat eval.log; fail "eval"; }
tail -n 1 eval.log | "$PY" -c "
import json, sys
r = json.loads(sys.stdin.read())
assert r['canvas_dims'] == 1024 and r['image_dims'] == 784, r
assert abs(r['bits_per_image_dim'] - r['bits_per_dim'] * 1024 / 784) < 1e-9 * r['bits_per_dim'], r
print('bits per canvas value', r['bits_per_dim'], 'per image value', r['bits_per_image_dim'])" || fail "eval's JSON"
echo "PASS"
