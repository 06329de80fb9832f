#!/usr/bin/env python3
"""DiT training throughput on one GPU: carnot against PyTorch on the same model, batch and GPU, in
the same run, with MFU against the H100's dense bf16 peak and against the GEMM ceiling measured here.

    python3 benchmarks/gpu/dit_step.py --carnot build-gpu/carnot [--models S,B,XL] [--steps 20]
        [--warmup 5] [--memory-fraction 0.85] [--out benchmarks/results/gpu-DATE.json]

Models: DiT-S/2, DiT-B/2, DiT-XL/2 on 32×32×4 latents (random uint8 latents with 1000 classes
written to a scratch folder: data loading is not what is timed), ε-MSE on the cosine schedule,
AdamW, clipping at 1, EMA (carnot) — the DiT paper's training step without learned σ.
Batch: the largest power of two whose plan (`carnot validate`) fits the memory fraction of the
GPU, halved while PyTorch runs out of memory: the same for both. carnot: `carnot --device cuda bench step` with train.precision bf16 (bf16
GEMMs on the tensor cores, float32 masters; --precision fp32 for the float32 path).
carnot also runs with CARNOT_CUDA_PLAIN=1 (no cuDNN, cuBLASLt epilogues, fused attention or vector paths):
carnot_plain_images_per_s says what the fused paths win, and gives a result where one of them fails.
--profile adds carnot's largest ops per step (bench step --profile) to each record.
PyTorch: benchmarks/peers/dit_torch.py with bf16 autocast, SDPA and torch.compile.
MFU: FLOPs per image trained (carnot validate's count: 2 per multiply-add, 3 × forward) × images/s,
over 989 TFLOP/s (H100 SXM dense bf16) and over the bf16 GEMM rate measured here.
Ceilings measured here (torch, i.e. cuBLAS and the copy engine's kernels): a 1 GiB device-to-device
copy (bytes read + written per second) and an 8192³ bf16 GEMM.
--device cpu with --models tiny runs the whole pipeline on the CPU at toy size (a check of the
script, not a benchmark).
"""
import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import record  # noqa: E402  (benchmarks/record.py)

MODELS = {  # the DiT paper's configurations, patch 2
    "S": dict(hidden=384, depth=12, heads=6),
    "B": dict(hidden=768, depth=12, heads=12),
    "XL": dict(hidden=1152, depth=28, heads=16),
    "tiny": dict(hidden=64, depth=2, heads=2),  # the script's own check on the CPU
}
H100_DENSE_BF16 = 989e12
PRECISION = "bf16"  # carnot's train.precision; --precision fp32 measures the float32 path


def ceilings(device):
    import torch
    if device != "cuda":
        return {}
    def timed(fn, reps):
        fn()
        torch.cuda.synchronize()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(reps):
            fn()
        end.record()
        torch.cuda.synchronize()
        return start.elapsed_time(end) / 1e3 / reps
    src = torch.empty(2**30, dtype=torch.uint8, device="cuda")
    dst = torch.empty_like(src)
    copy_s = timed(lambda: dst.copy_(src), 20)
    n = 8192
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    gemm_s = timed(lambda: a @ b, 20)
    return {"copy_gb_per_s": round(2 * 2**30 / copy_s / 1e9, 1), "bf16_gemm_tflops": round(2 * n**3 / gemm_s / 1e12, 1),
            "gpu": torch.cuda.get_device_name(), "gpu_memory_gib": round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1)}


def job_yaml(folder, size, batch, steps):
    m = MODELS[size]
    model = (f"{{kind: dit, size: {size}, patch: 2}}" if size != "tiny" else
             f"{{kind: dit, hidden: {m['hidden']}, depth: {m['depth']}, heads: {m['heads']}, patch: 2}}")
    text = (f"name: gpu_bench_dit_{size.lower()}\n"
            f"data: {{kind: npy, path: {folder}/x.npy, labels: {folder}/y.npy, num_classes: 1000, channels: 4, "
            f"image_size: 32}}\n"
            f"model: {model}\n"
            "diffusion: {schedule: cosine, steps: 1000, objective: eps}\n"
            "optimizer: {kind: adamw, lr: 1e-4, grad_clip: 1}\n"
            f"train: {{global_batch: {batch}, steps: {steps}, ema: 0.9999, precision: {PRECISION}}}\n"
            "diagnostics: {every: 0}\nsample: {every: 0}\n")
    path = os.path.join(folder, f"dit_{size.lower()}_{batch}.yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


def plan(carnot, job):
    """(GiB per rank, FLOPs per image forward) from carnot validate."""
    out = subprocess.run([carnot, "validate", job], capture_output=True, text=True, check=True).stdout
    size = re.search(r"total per rank\s+([0-9.]+) (B|KiB|MiB|GiB)", out)
    gib = float(size.group(1)) / {"B": 2**30, "KiB": 2**20, "MiB": 2**10, "GiB": 1}[size.group(2)]
    m = re.search(r"FLOPs\s+([0-9.]+) (k|M|G|T) per sample forward", out)
    return gib, float(m.group(1)) * {"k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}[m.group(2)]


def carnot_rate(carnot, job, device, steps, warmup, plain=False):
    cmd = [carnot, "--device", device, "bench", "step", job, "--steps", str(steps), "--warmup", str(warmup)]
    env = dict(os.environ, CARNOT_CUDA_PLAIN="1") if plain else None
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        return None, (out.stderr.strip().splitlines() or ["exit %d" % out.returncode])[-1]
    rows = [json.loads(l) for l in out.stdout.splitlines() if l.startswith("{")]
    return rows[-1]["samples_per_s"], None


def carnot_profile(carnot, job, device, steps, warmup, top=12):
    """Where carnot's step goes, op by op (bench step --profile): the largest ops and the rest."""
    cmd = [carnot, "--device", device, "bench", "step", job, "--steps", str(steps), "--warmup", str(warmup), "--profile"]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["exit %d" % out.returncode])[-1]}
    p = [json.loads(l)["profile"] for l in out.stdout.splitlines() if l.startswith('{"profile"')][-1]
    ops = [{"op": o["op"], "ms": round(o["ms_per_step"], 3), "calls": o["calls_per_step"], "share": round(o["share"], 4)}
           for o in p["ops"][:top]]
    return {"step_ms": round(p["step_ms"], 3), "ops_ms": round(p["ops_ms"], 3),
            "outside_ops_ms": round(p["outside_ops_ms"], 3), "top_ops": ops}


def pytorch_rate(size, batch, device, steps, warmup):
    m = MODELS[size]
    cmd = [sys.executable, os.path.join(os.path.dirname(HERE), "peers", "dit_torch.py"), "train",
           "--hidden", str(m["hidden"]), "--depth", str(m["depth"]), "--heads", str(m["heads"]), "--patch", "2",
           "--input", "32", "--channels", "4", "--classes", "1000", "--batch", str(batch), "--steps", str(steps),
           "--warmup", str(warmup), "--device", device, "--bf16", "--sdpa", "--compile"]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        return None, (out.stderr.strip().splitlines() or ["exit %d" % out.returncode])[-1]
    return json.loads(out.stdout.strip().splitlines()[-1]), None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--carnot", required=True)
    p.add_argument("--models", default="S,B,XL")
    p.add_argument("--device", default="cuda")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--memory-fraction", type=float, default=0.85)
    p.add_argument("--max-batch", type=int, default=512)
    p.add_argument("--precision", default="bf16", choices=["bf16", "fp32"])
    p.add_argument("--out", default="")
    p.add_argument("--profile", action="store_true", help="add carnot's op profile (bench step --profile) to each record")
    p.add_argument("--no-plain", action="store_true", help="skip the CARNOT_CUDA_PLAIN=1 run (it takes long at XL)")
    a = p.parse_args()
    global PRECISION
    PRECISION = a.precision
    ceiling = ceilings(a.device)
    print("ceilings:", json.dumps(ceiling), flush=True)
    budget = a.memory_fraction * ceiling.get("gpu_memory_gib", 4.0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        import numpy as np
        rng = np.random.default_rng(0)
        np.save(os.path.join(tmp, "x.npy"), rng.integers(0, 256, (a.max_batch, 32, 32, 4)).astype(np.uint8))
        np.save(os.path.join(tmp, "y.npy"), rng.integers(0, 1000, a.max_batch).astype(np.int64))
        for size in a.models.split(","):
            batch, flops = 0, 0.0
            b = 8
            while b <= a.max_batch:  # the largest power of two whose plan fits
                gib, f = plan(a.carnot, job_yaml(tmp, size, b, a.steps + a.warmup))
                if gib > budget:
                    break
                batch, flops, b = b, f, b * 2
            if batch == 0:
                rows.append({"model": f"DiT-{size}/2", "error": f"batch 8 does not fit {budget:.1f} GiB"})
                continue
            # The same batch for both: where PyTorch runs out of memory first, both take half.
            while True:
                peer, peer_error = pytorch_rate(size, batch, a.device, a.steps, a.warmup)
                if peer or batch <= 8 or "out of memory" not in (peer_error or "").lower():
                    break
                print(f"DiT-{size}/2: PyTorch out of memory at batch {batch}; both at {batch // 2}", flush=True)
                batch //= 2
                _, flops = plan(a.carnot, job_yaml(tmp, size, batch, a.steps + a.warmup))
            job = job_yaml(tmp, size, batch, a.steps + a.warmup)
            ours, our_error = carnot_rate(a.carnot, job, a.device, a.steps, a.warmup)
            # The plain kernels (CARNOT_CUDA_PLAIN=1: no cuDNN, cuBLASLt epilogues, fused attention or vector paths)
            # in the same run: what the fused paths win, and a result still when one of them fails.
            plain, plain_error = (None, None) if a.no_plain else carnot_rate(a.carnot, job, a.device, a.steps,
                                                                             a.warmup, plain=True)
            if ours is None and plain is not None:
                print(f"DiT-{size}/2: carnot failed ({our_error}); the plain kernels ran", flush=True)
            trained = 3 * flops
            row = {"model": f"DiT-{size}/2", "batch": batch, "carnot_images_per_s": ours,
                   "carnot_plain_images_per_s": plain,
                   "pytorch_images_per_s": peer["images_per_s"] if peer else None,
                   "ratio": round(ours / peer["images_per_s"], 3) if ours and peer else None,
                   "flops_per_image_trained": trained,
                   "mfu": round(trained * ours / H100_DENSE_BF16, 4) if ours else None,
                   "pytorch_mfu": round(trained * peer["images_per_s"] / H100_DENSE_BF16, 4) if peer else None,
                   "device": ceiling.get("gpu", a.device), "commit": record.commit(), "carnot_precision": a.precision}
            if ours and "bf16_gemm_tflops" in ceiling:
                row["mfu_vs_measured_gemm"] = round(trained * ours / (ceiling["bf16_gemm_tflops"] * 1e12), 4)
            if peer:
                row["pytorch"] = {k: peer[k] for k in ("torch", "bf16", "sdpa", "compile", "peak_memory_gib") if k in peer}
            if a.profile and ours:
                row["carnot_profile"] = carnot_profile(a.carnot, job, a.device, max(3, a.steps // 4), 2)
            if our_error or peer_error:
                row["errors"] = {k: v for k, v in (("carnot", our_error), ("pytorch", peer_error)) if v}
            if plain_error:
                row.setdefault("errors", {})["carnot_plain"] = plain_error
            print(json.dumps(row), flush=True)
            rows.append(row)
    if a.out:
        record.write(a.out, {"benchmark": "dit_step", "date": datetime.date.today().isoformat(), "ceilings": ceiling,
                             "peak_bf16_tflops": H100_DENSE_BF16 / 1e12, "records": rows,
                             "command": record.command("gpu/dit_step.py", sys.argv[1:])})


if __name__ == "__main__":
    main()
