"""The DDPM U-Net peer: diffusers' own UNet2DModel (the reference implementation), built from a carnot
export's __metadata__ "config", for two jobs:

    python3 unet_diffusers.py forward model.safetensors x.npy t.npy [y.npy] out.npy
        loads the export with load_state_dict(strict=True) and writes one forward pass in float64
        (the sinusoid too: diffusers computes it in float32 whatever the model's dtype).
    python3 unet_diffusers.py train model.safetensors --batch 64 --steps 50 --threads 2
        times training steps of the same model (AdamW, clipping, ε-MSE on the cosine schedule, random
        data, labels when the model has classes) and prints images/s as JSON: the peer of
        benchmarks/image_train_step.py --model unet.

Needs torch (Debian's python3-torch) and diffusers; when diffusers is missing it is installed with
pip, pinned to versions that run on torch 1.13, into $CARNOT_PEER_SITE (default
~/.cache/carnot/diffusers-0.27.2).
"""
import argparse
import json
import math
import os
import subprocess
import sys

import numpy as np
import torch

PINS = ["diffusers==0.27.2", "huggingface_hub==0.23.5", "numpy<2", "safetensors"]


def import_diffusers():
    site = os.environ.get("CARNOT_PEER_SITE", os.path.expanduser("~/.cache/carnot/diffusers-0.27.2"))
    if os.path.isdir(site):
        sys.path.insert(0, site)
    try:
        import diffusers  # noqa: F401
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "--root-user-action=ignore", "--target", site] + PINS, check=True)
        sys.path.insert(0, site)
    from diffusers import UNet2DModel
    return UNet2DModel


def load(path):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from dit_numpy import load_safetensors  # the same folder: one reader for every peer
    arrays, meta = load_safetensors(path)
    if meta.get("model") != "UNet2DModel":
        raise SystemExit(f"{path}: not a U-Net export (__metadata__ model is {meta.get('model')!r})")
    config = json.loads(meta["config"])
    config.pop("_class_name", None)
    model = import_diffusers()(**config)
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in arrays.items()}, strict=True)
    return model, config


def float64_sinusoid(model, config):
    """DDPM's sinusoid ([sin, cos], f_k = 10000^(−k/(half − 1))) in the model's dtype."""
    half = config["block_out_channels"][0] // 2

    def proj(t):
        k = torch.arange(half, dtype=torch.float64)
        args = t.to(torch.float64)[:, None] * torch.exp(-math.log(10000) * k / (half - config["freq_shift"]))[None]
        return torch.cat([torch.sin(args), torch.cos(args)], dim=-1)

    model.time_proj.forward = proj


def forward_main(argv):
    model, config = load(argv[0])
    model = model.double().eval()
    float64_sinusoid(model, config)
    x, t = torch.from_numpy(np.load(argv[1])).double(), torch.from_numpy(np.load(argv[2]))
    y = torch.from_numpy(np.load(argv[3])) if len(argv) == 5 else None
    with torch.no_grad():
        out = model(x, t, class_labels=y).sample
    np.save(argv[-1], out.numpy().astype(np.float32))


def train_main(argv):
    p = argparse.ArgumentParser()
    p.add_argument("export")
    for name, default in (("batch", 64), ("steps", 50), ("warmup", 5), ("threads", 1)):
        p.add_argument("--" + name, type=int, default=default)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model, config = load(a.export)
    model.train()
    c, s = config["in_channels"], config["sample_size"]
    x0 = torch.randn(a.batch, c, s, s)
    classes = config.get("num_class_embeds")
    y = torch.randint(0, classes, (a.batch,)) if classes else None
    from train_timing import images_per_second  # the same folder (load() put it on sys.path)
    rate = images_per_second(lambda xt, t: model(xt, t, class_labels=y).sample[:, :c], model.parameters(), x0,
                             a.steps, a.warmup, 5e-4)
    import diffusers
    print(json.dumps({"torch": torch.__version__, "diffusers": diffusers.__version__, "threads": a.threads,
                      "images_per_s": rate}))


if __name__ == "__main__":
    if sys.argv[1] == "forward":
        forward_main(sys.argv[2:])
    else:
        train_main(sys.argv[2:])
