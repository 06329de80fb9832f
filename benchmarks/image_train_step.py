#!/usr/bin/env python3
"""CPU training throughput of an image model: carnot against PyTorch on the same model, batch and
thread count, in the same run, with the achieved GFLOP/s against this machine's sgemm rate.

    benchmarks/image_train_step.py --model dit|unet --carnot build/carnot --threads 2 [--out X.json]

dit: configs/fashion_dit_s.yaml's model (hidden 96, depth 4, heads 4, patch 4, 32×32×1, 10 classes)
against a PyTorch DiT with the reference's layout (benchmarks/peers/dit_torch.py train).
unet: configs/fashion_unet.yaml's DDPM U-Net (32 channels × (1, 2, 2), attention at 8×8, dropout
0.1, 10 classes) against diffusers' own UNet2DModel built from carnot's export of that very model
(benchmarks/peers/unet_diffusers.py train).
carnot trains on Fashion-MNIST, PyTorch on random images of the same shape (data loading is not
what is timed; carnot's is in its step time, so the ratio is if anything unfavourable to carnot).
Both: AdamW, gradient clipping, ε-MSE on the cosine schedule, one process. FLOPs per image
trained = 3 × forward (carnot validate's count). Run by /usr/bin/python3 (Debian's python3-torch;
installed when missing).
"""
import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = {"dit": "fashion_dit_s.yaml", "unet": "fashion_unet.yaml"}
DIT = dict(hidden=96, depth=4, heads=4, patch=4, input=32, channels=1, classes=10)  # fashion_dit_s.yaml's


def clean_env(threads):
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    for v in [k for k in env if k.startswith(("OMPI_COMM_WORLD", "PMI_", "SLURM_"))]:
        del env[v]
    return env


def carnot_run(binary, model, batch, steps, threads, ranks, tmp):
    """Median images/s over the logged intervals after the first, FLOPs per image forward, and the
    run's export (the U-Net peer builds the same model from it). ranks > 1: data-parallel ranks of
    one BLAS thread each (launch/mpirun.sh), on as many cores as the peer's threads."""
    config = os.path.join(ROOT, "configs", CONFIGS[model])
    run = os.path.join(tmp, "run")
    common = ["--set", f"train.global_batch={batch}", "--set", f"train.steps={steps}", "--set", "log.every=10",
              "--set", "sample.every=0", "--set", f"checkpoint.every={steps}"]
    launch = [os.path.join(ROOT, "launch", "mpirun.sh"), str(ranks)] if ranks > 1 else [binary]
    env = clean_env(1 if ranks > 1 else threads)
    if ranks > 1:
        env["CARNOT"] = binary
    subprocess.run(launch + ["train", config, "--run-dir", run] + common, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    with open(os.path.join(run, "metrics.jsonl")) as f:
        rates = [r["samples_per_s"] for r in map(json.loads, f) if "samples_per_s" in r]
    plan = subprocess.run([binary, "validate", config] + common, capture_output=True, text=True, check=True).stdout
    export = os.path.join(tmp, "model.safetensors")
    subprocess.run([binary, "export", "--ckpt", run, "--out", export], check=True, stdout=subprocess.DEVNULL)
    m = re.search(r"FLOPs\s+([0-9.]+) (k|M|G) per sample forward", plan)
    flops = float(m.group(1)) * {"k": 1e3, "M": 1e6, "G": 1e9}[m.group(2)]
    return statistics.median(rates[1:]), flops, export


def torch_run(model, export, batch, steps, threads):
    peers = os.path.join(ROOT, "benchmarks", "peers")
    if model == "dit":
        args = ["/usr/bin/python3", os.path.join(peers, "dit_torch.py"), "train"]
        for k, v in DIT.items():
            args += ["--" + k, str(v)]
    else:
        args = ["/usr/bin/python3", os.path.join(peers, "unet_diffusers.py"), "train", export]
    args += ["--batch", str(batch), "--steps", str(steps), "--threads", str(threads)]
    out = subprocess.run(args, env={k: v for k, v in clean_env(threads).items() if k != "PYTHONPATH"},
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def sgemm_gflops(threads):
    code = ("import numpy as np, time\n"
            "a = np.random.rand(1024, 1024).astype(np.float32); b = a.copy(); a @ b\n"
            "t = time.perf_counter(); n = 20\n"
            "for _ in range(n): a @ b\n"
            "print(2 * 1024 ** 3 * n / (time.perf_counter() - t) / 1e9)")
    out = subprocess.run(["/usr/bin/python3", "-c", code], env=clean_env(threads), capture_output=True, text=True,
                         check=True).stdout
    return float(out)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=sorted(CONFIGS), default="dit")
    p.add_argument("--carnot", default=os.path.join(ROOT, "build", "carnot"))
    p.add_argument("--threads", type=int, default=1, help="BLAS threads of each side (the peer's torch threads)")
    p.add_argument("--ranks", type=int, default=1, help="carnot as this many data-parallel ranks of one thread each "
                   "(then --threads should equal it: the same cores for both)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--out")
    a = p.parse_args()
    if subprocess.run(["/usr/bin/python3", "-c", "import torch"], capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "install", "-y", "-qq", "python3-torch"], env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"),
                       check=True)
    with tempfile.TemporaryDirectory() as tmp:
        carnot, flops, export = carnot_run(a.carnot, a.model, a.batch, a.steps, a.threads, a.ranks, tmp)
        torch = torch_run(a.model, export, a.batch, a.steps, a.threads)
    sgemm = sgemm_gflops(a.threads)
    row = {"benchmark": f"{a.model}_train_step", "model": DIT if a.model == "dit" else "configs/" + CONFIGS[a.model],
           "peer": "benchmarks/peers/dit_torch.py" if a.model == "dit" else
                   f"diffusers {torch.get('diffusers')} UNet2DModel (benchmarks/peers/unet_diffusers.py)",
           "batch": a.batch, "threads": a.threads, "carnot_ranks": a.ranks,
           "carnot_images_per_s": round(carnot, 1), "torch_images_per_s": round(torch["images_per_s"], 1),
           "ratio": round(carnot / torch["images_per_s"], 3), "torch": torch["torch"],
           "flops_per_image_trained": 3 * flops, "carnot_gflops": round(3 * flops * carnot / 1e9, 2),
           "sgemm_gflops_1024": round(sgemm, 2), "machine": {"cpu": platform.processor() or platform.machine(),
                                                               "cores": os.cpu_count()},
           "commit": subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                                    text=True).stdout.strip(),
           "command": " ".join(["benchmarks/image_train_step.py"] + sys.argv[1:])}
    print(json.dumps(row))
    print(f"carnot {carnot:.0f} images/s, PyTorch {torch['images_per_s']:.0f}: ratio {row['ratio']:.2f}; "
          f"carnot {row['carnot_gflops']:.1f} GFLOP/s against sgemm's {sgemm:.1f}")
    if a.out:
        with open(a.out, "w") as f:
            json.dump(row, f, indent=1)


if __name__ == "__main__":
    main()
