#!/usr/bin/env python3
"""Training throughput of the Swiss-roll job: carnot's CPU backend against PyTorch on the same CPU.

Both train the same MLP score network (configs/swissroll.yaml: hidden 128, depth 4, time
embedding 32, AdamW, clipping, EMA) on the same global batch with the same number of threads, data
generation and noising included. Throughput is the median of samples/s over logging intervals,
the first interval (warm-up) left out. Prints the ratio carnot / PyTorch and writes a JSON record.

    python3 benchmarks/swissroll_train_step.py --carnot build/carnot --threads 1 \
        --out benchmarks/results/swissroll_train_step-<machine>.json
"""
import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def carnot_throughput(binary, config, steps, every, threads):
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads))
    for v in [k for k in env if k.startswith(("OMPI_COMM_WORLD", "PMI_", "SLURM_"))]:
        del env[v]
    with tempfile.TemporaryDirectory() as tmp:
        run = os.path.join(tmp, "run")
        subprocess.run([binary, "train", config, "--set", f"train.steps={steps}",
                        "--set", f"log.every={every}", "--run-dir", run],
                       env=env, check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(run, "metrics.jsonl")) as f:
            rates = [r["samples_per_s"] for r in map(json.loads, f) if "samples_per_s" in r]
    return statistics.median(rates[1:])


def torch_throughput(steps, every, threads, batch=256, hidden=128, depth=4, temb=32, T=1000):
    import torch
    from torch import nn
    torch.set_num_threads(threads)
    torch.manual_seed(0)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(hidden, hidden), nn.Linear(hidden, hidden)

        def forward(self, h, e):
            return h + self.fc2(nn.functional.silu(self.fc1(nn.functional.silu(h + e))))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.t_embedder = nn.Sequential(nn.Linear(temb, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
            self.input_proj = nn.Linear(2, hidden)
            self.blocks = nn.ModuleList(Block() for _ in range(depth))
            self.final_layer = nn.Linear(hidden, 2)
            half = temb // 2
            self.register_buffer("freqs", torch.exp(-math.log(10000.0) * torch.arange(half) / half))

        def forward(self, x, t):
            arg = t[:, None] * self.freqs[None]
            e = self.t_embedder(torch.cat([torch.cos(arg), torch.sin(arg)], dim=1))
            h = self.input_proj(x)
            for b in self.blocks:
                h = b(h, e)
            return self.final_layer(nn.functional.silu(h))

    net = Net()
    ema = [p.detach().clone() for p in net.parameters()]
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    betas = torch.linspace(1e-4, 0.02, T, dtype=torch.float64)
    abar = torch.cumprod(1 - betas, 0).float()
    std = torch.tensor([math.sqrt(4.875 * math.pi ** 2 - 4.25 + 0.25),
                        math.sqrt(4.875 * math.pi ** 2 + 0.25 - (2 / (3 * math.pi)) ** 2 + 0.25)])
    mean = torch.tensor([2.0, 2 / (3 * math.pi)])
    rates = []
    for _ in range(steps // every):
        start = time.perf_counter()
        for _ in range(every):
            tt = 1.5 * math.pi * (1 + 2 * torch.rand(batch))
            x0 = (torch.stack([tt * torch.cos(tt), tt * torch.sin(tt)], 1) + 0.5 * torch.randn(batch, 2) - mean) / std
            t = torch.randint(0, T, (batch,))
            eps = torch.randn(batch, 2)
            a = abar[t][:, None]
            xt = a.sqrt() * x0 + (1 - a).sqrt() * eps
            loss = ((net(xt, t.float()) - eps) ** 2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            with torch.no_grad():
                torch._foreach_mul_(ema, 0.999)
                torch._foreach_add_(ema, list(net.parameters()), alpha=1 - 0.999)
        rates.append(every * batch / (time.perf_counter() - start))
    return statistics.median(rates[1:]), torch.__version__


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.abspath(os.path.join(here, ".."))

    def portable(arg):
        """An absolute path as the record shows it: relative inside the repository, else its name."""
        if not os.path.isabs(arg):
            return arg
        rel = os.path.relpath(arg, root)
        return os.path.basename(arg) if rel.startswith("..") else rel
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--carnot", required=True, help="path to the carnot binary")
    p.add_argument("--config", default=os.path.join(here, "..", "configs", "swissroll.yaml"))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--every", type=int, default=200)
    p.add_argument("--commit", default=None, help="commit measured (default: git rev-parse HEAD)")
    p.add_argument("--machine", default=None, help="a name for the machine in the record")
    p.add_argument("--out", default=None, help="write the JSON record here")
    args = p.parse_args()

    commit = args.commit
    if commit is None:
        try:
            commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                                    cwd=here, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            commit = "unknown"
    c = carnot_throughput(args.carnot, args.config, args.steps, args.every, args.threads)
    t, version = torch_throughput(args.steps, args.every, args.threads)
    record = {
        "benchmark": "swissroll_train_step",
        "what": "training samples/s, Swiss-roll MLP (hidden 128, depth 4), global batch 256, one process",
        "machine": {"name": args.machine or platform.node(), "cpu": cpu_model(),
                    "cores": os.cpu_count()},
        "commit": commit,
        # Paths relative to the repository, so the record names no machine's folders.
        "command": " ".join(["benchmarks/" + os.path.basename(sys.argv[0])] + [portable(a) for a in sys.argv[1:]]),
        "threads": args.threads,
        "steps": args.steps,
        "carnot_samples_per_s": round(c, 1),
        "torch_samples_per_s": round(t, 1),
        "torch_version": version,
        "ratio_carnot_over_torch": round(c / t, 3),
    }
    print(f"threads {args.threads}: carnot {c:,.0f} samples/s, PyTorch {version} {t:,.0f} samples/s, "
          f"ratio {c / t:.2f}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(record, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
