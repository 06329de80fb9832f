"""DiT's forward pass in NumPy, written from facebookresearch/DiT's models.py (and timm's Attention,
Mlp and PatchEmbed that it uses), reading weights by the reference's state-dict names: an
independent check that a carnot export means what the reference would make of it.

    python3 dit_numpy.py model.safetensors x.npy t.npy [y.npy] out.npy
"""
import json
import struct
import sys

import numpy as np


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    dtypes = {"F32": np.float32, "F64": np.float64}
    tensors = {k: np.frombuffer(data[v["data_offsets"][0]:v["data_offsets"][1]], dtypes[v["dtype"]]).reshape(v["shape"])
               for k, v in header.items()}
    return tensors, meta


def linear(w, x, name):
    return x @ w[name + ".weight"].astype(np.float64).T + w[name + ".bias"]


def layer_norm(x, eps=1e-6):  # nn.LayerNorm(elementwise_affine=False, eps=1e-6)
    mu = x.mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(((x - mu) ** 2).mean(-1, keepdims=True) + eps)


def silu(x):
    return x / (1 + np.exp(-x))


def gelu_tanh(x):  # nn.GELU(approximate="tanh")
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


def modulate(x, shift, scale):
    return x * (1 + scale[:, None, :]) + shift[:, None, :]


def timestep_embedding(t, dim, max_period=10000):
    half = dim // 2
    freqs = np.exp(-np.log(max_period) * np.arange(half) / half)
    args = t[:, None].astype(np.float64) * freqs[None]
    return np.concatenate([np.cos(args), np.sin(args)], axis=-1)


def dit_forward(w, meta, x, t, y):
    p, C, H = int(meta["patch_size"]), int(meta["hidden_size"]), int(meta["num_heads"])
    depth, out_ch = int(meta["depth"]), (2 if meta["learn_sigma"] == "true" else 1) * int(meta["in_channels"])
    B, cin, S, _ = x.shape
    g = S // p
    # PatchEmbed: Conv2d(k = s = p), flatten, transpose → tokens row-major over the grid.
    patches = x.reshape(B, cin, g, p, g, p).transpose(0, 2, 4, 1, 3, 5).reshape(B, g * g, cin * p * p)
    wp = w["x_embedder.proj.weight"].reshape(C, -1).astype(np.float64)
    h = patches @ wp.T + w["x_embedder.proj.bias"] + w["pos_embed"]
    temb = linear(w, silu(linear(w, timestep_embedding(t, w["t_embedder.mlp.0.weight"].shape[1]), "t_embedder.mlp.0")),
                  "t_embedder.mlp.2")
    c = temb + (w["y_embedder.embedding_table.weight"][y] if y is not None else 0)
    sc = silu(c)
    D = C // H
    for i in range(depth):
        b = f"blocks.{i}"
        s_msa, c_msa, g_msa, s_mlp, c_mlp, g_mlp = np.split(linear(w, sc, b + ".adaLN_modulation.1"), 6, axis=1)
        qkv = linear(w, modulate(layer_norm(h), s_msa, c_msa), b + ".attn.qkv")
        qkv = qkv.reshape(B, g * g, 3, H, D).transpose(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        a = q @ k.transpose(0, 1, 3, 2) * D ** -0.5
        a = np.exp(a - a.max(-1, keepdims=True))
        a /= a.sum(-1, keepdims=True)
        o = (a @ v).transpose(0, 2, 1, 3).reshape(B, g * g, C)
        h = h + g_msa[:, None, :] * linear(w, o, b + ".attn.proj")
        m = gelu_tanh(linear(w, modulate(layer_norm(h), s_mlp, c_mlp), b + ".mlp.fc1"))
        h = h + g_mlp[:, None, :] * linear(w, m, b + ".mlp.fc2")
    shift, scale = np.split(linear(w, sc, "final_layer.adaLN_modulation.1"), 2, axis=1)
    out = linear(w, modulate(layer_norm(h), shift, scale), "final_layer.linear")
    # unpatchify: einsum("nhwpqc->nchpwq")
    out = out.reshape(B, g, g, p, p, out_ch).transpose(0, 5, 1, 3, 2, 4)
    return out.reshape(B, out_ch, S, S)


if __name__ == "__main__":
    weights, meta = load_safetensors(sys.argv[1])
    x, t = np.load(sys.argv[2]).astype(np.float64), np.load(sys.argv[3])
    y = np.load(sys.argv[4]) if len(sys.argv) == 6 else None
    np.save(sys.argv[-1], dit_forward(weights, meta, x, t, y).astype(np.float32))
