"""DiT in PyTorch, laid out as facebookresearch/DiT's models.py (same module names, so its
state_dict keys are the reference's), for two jobs:

    python3 dit_torch.py forward model.safetensors x.npy t.npy [y.npy] out.npy
        loads a carnot export (or any DiT state dict in safetensors) with load_state_dict(strict=True)
        and writes one forward pass, computed in float64: the check that an export loads into the
        reference's layout and means the same function.
    python3 dit_torch.py train --hidden 96 --depth 4 --heads 4 --patch 4 --input 32 --channels 1 \\
        --classes 10 --batch 64 --steps 50 --threads 2 [--device cuda --bf16 --sdpa --compile]
        times training steps (AdamW, the same loss as carnot's eps objective on random data) and
        prints images/s as JSON: the peer of benchmarks/image_train_step.py --model dit (CPU) and
        of benchmarks/gpu/dit_step.py (GPU: bf16 autocast, fused attention, torch.compile).
The safetensors file is parsed here (a JSON header and raw little-endian tensors), so only torch
and numpy are needed.
"""
import argparse
import json
import math
import sys

import numpy as np
import torch
import torch.nn as nn


def modulate(x, shift, scale):
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


class PatchEmbed(nn.Module):  # timm's: Conv2d(k = s = patch), flatten, transpose
    def __init__(self, patch, cin, hidden):
        super().__init__()
        self.proj = nn.Conv2d(cin, hidden, kernel_size=patch, stride=patch, bias=True)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class TimestepEmbedder(nn.Module):
    def __init__(self, hidden, freq=256):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(freq, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.freq = freq

    def forward(self, t):
        half = self.freq // 2
        dtype = self.mlp[0].weight.dtype
        freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=dtype, device=t.device) / half)
        args = t[:, None].to(freqs.dtype) * freqs[None]
        return self.mlp(torch.cat([torch.cos(args), torch.sin(args)], dim=-1))


class LabelEmbedder(nn.Module):
    def __init__(self, classes, hidden, dropout):
        super().__init__()
        self.embedding_table = nn.Embedding(classes + (1 if dropout > 0 else 0), hidden)

    def forward(self, y):
        return self.embedding_table(y)


USE_SDPA = False  # train --sdpa: fused attention (F.scaled_dot_product_attention, torch ≥ 2.0)


class Attention(nn.Module):  # timm's Attention, written out
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        if USE_SDPA:
            o = torch.nn.functional.scaled_dot_product_attention(q, k, v)
        else:
            o = ((q @ k.transpose(-2, -1)) * (C // self.heads) ** -0.5).softmax(dim=-1) @ v
        return self.proj(o.transpose(1, 2).reshape(B, N, C))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU(approximate="tanh")
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class DiTBlock(nn.Module):
    def __init__(self, hidden, heads, mlp_ratio=4):
        super().__init__()
        self.norm1 = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(hidden, heads)
        self.norm2 = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        self.mlp = Mlp(hidden, hidden * mlp_ratio)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden, 6 * hidden))

    def forward(self, x, c):
        s_msa, c_msa, g_msa, s_mlp, c_mlp, g_mlp = self.adaLN_modulation(c).chunk(6, dim=1)
        x = x + g_msa.unsqueeze(1) * self.attn(modulate(self.norm1(x), s_msa, c_msa))
        return x + g_mlp.unsqueeze(1) * self.mlp(modulate(self.norm2(x), s_mlp, c_mlp))


class FinalLayer(nn.Module):
    def __init__(self, hidden, patch, out_channels):
        super().__init__()
        self.norm_final = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        self.linear = nn.Linear(hidden, patch * patch * out_channels)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden, 2 * hidden))

    def forward(self, x, c):
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=1)
        return self.linear(modulate(self.norm_final(x), shift, scale))


class DiT(nn.Module):
    def __init__(self, input_size=32, patch_size=2, in_channels=4, hidden_size=1152, depth=28, num_heads=16,
                 mlp_ratio=4, class_dropout_prob=0.1, num_classes=1000, learn_sigma=True):
        super().__init__()
        self.out_channels = in_channels * 2 if learn_sigma else in_channels
        self.patch = patch_size
        self.x_embedder = PatchEmbed(patch_size, in_channels, hidden_size)
        self.t_embedder = TimestepEmbedder(hidden_size)
        self.y_embedder = LabelEmbedder(num_classes, hidden_size, class_dropout_prob) if num_classes > 0 else None
        tokens = (input_size // patch_size) ** 2
        self.pos_embed = nn.Parameter(torch.zeros(1, tokens, hidden_size), requires_grad=False)
        self.blocks = nn.ModuleList([DiTBlock(hidden_size, num_heads, mlp_ratio) for _ in range(depth)])
        self.final_layer = FinalLayer(hidden_size, patch_size, self.out_channels)

    def unpatchify(self, x):
        c, p = self.out_channels, self.patch
        h = w = int(x.shape[1] ** 0.5)
        x = x.reshape(x.shape[0], h, w, p, p, c)
        return torch.einsum("nhwpqc->nchpwq", x).reshape(x.shape[0], c, h * p, h * p)

    def forward(self, x, t, y=None):
        x = self.x_embedder(x) + self.pos_embed
        c = self.t_embedder(t) + (self.y_embedder(y) if self.y_embedder is not None else 0)
        for block in self.blocks:
            x = block(x, c)
        return self.unpatchify(self.final_layer(x, c))


def read_safetensors(path):
    from dit_numpy import load_safetensors  # the same folder: one reader for both peers
    arrays, meta = load_safetensors(path)
    return {k: torch.from_numpy(v.copy()) for k, v in arrays.items()}, meta


def forward_main(args):
    state, meta = read_safetensors(args[0])
    model = DiT(int(meta["input_size"]), int(meta["patch_size"]), int(meta["in_channels"]), int(meta["hidden_size"]),
                int(meta["depth"]), int(meta["num_heads"]), int(meta["mlp_ratio"]), float(meta["class_dropout_prob"]),
                int(meta["num_classes"]), meta["learn_sigma"] == "true")
    model.load_state_dict(state, strict=True)  # the reference's names and shapes, every one
    # In float64, so that the comparison measures carnot's float32 against the exact function.
    model = model.double().eval()
    x, t = torch.from_numpy(np.load(args[1])).double(), torch.from_numpy(np.load(args[2]))
    y = torch.from_numpy(np.load(args[3])) if len(args) == 5 else None
    with torch.no_grad():
        np.save(args[-1], model(x, t, y).numpy().astype(np.float32))


def train_main(argv):
    p = argparse.ArgumentParser()
    for name, default in (("hidden", 96), ("depth", 4), ("heads", 4), ("patch", 4), ("input", 32), ("channels", 1),
                          ("classes", 10), ("batch", 64), ("steps", 50), ("warmup", 5), ("threads", 1)):
        p.add_argument("--" + name, type=int, default=default)
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast (fp32 master weights and optimizer)")
    p.add_argument("--sdpa", action="store_true", help="fused attention (scaled_dot_product_attention)")
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    a = p.parse_args(argv)
    global USE_SDPA
    USE_SDPA = a.sdpa and hasattr(torch.nn.functional, "scaled_dot_product_attention")
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    if a.device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True  # fp32 GEMMs outside autocast (the optimizer's are not GEMMs)
        torch.backends.cudnn.allow_tf32 = True
    model = DiT(a.input, a.patch, a.channels, a.hidden, a.depth, a.heads, 4, 0.1, a.classes, False).to(a.device)
    forward = model
    compiled = a.compile and hasattr(torch, "compile")
    if compiled:
        forward = torch.compile(model)
    x0 = torch.randn(a.batch, a.channels, a.input, a.input, device=a.device)
    y = torch.randint(0, a.classes, (a.batch,), device=a.device) if a.classes else None
    from train_timing import images_per_second  # the same folder: one timed step for every peer
    rate = images_per_second(lambda xt, t: forward(xt, t, y), model.parameters(), x0, a.steps, a.warmup, 1e-3,
                             autocast_bf16=a.bf16)
    out = {"torch": torch.__version__, "threads": a.threads, "device": a.device, "bf16": a.bf16, "sdpa": USE_SDPA,
           "compile": compiled, "images_per_s": rate}
    if a.device == "cuda":
        out["gpu"] = torch.cuda.get_device_name()
        out["peak_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
    print(json.dumps(out))


if __name__ == "__main__":
    if sys.argv[1] == "forward":
        forward_main(sys.argv[2:])
    else:
        train_main(sys.argv[2:])
