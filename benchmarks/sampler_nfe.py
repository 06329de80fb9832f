#!/usr/bin/env python3
"""Sample quality against network evaluations (NFE) for DDPM, EDM and flow matching on the Swiss roll.

Trains configs/swissroll.yaml (ε on the linear VP chain, T = 1000), configs/swissroll_edm.yaml and
configs/swissroll_flow.yaml (same network, batch and step budget), then samples each with its
samplers at equal NFE and prints the sample-quality ratio (sliced W1 to fresh data over the
data-vs-data W1; about 1 is as good as the data itself), averaged over several sampling seeds
because one draw of it scatters by ±0.5 even for a perfect sampler. Heun costs 2N − 1 evaluations
for N levels, every other sampler one per step. Writes a JSON record.

    python3 benchmarks/sampler_nfe.py --carnot build/carnot --out benchmarks/results/sampler_nfe-<machine>.json
"""
import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import tempfile


def run(cmd, env=None):
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise SystemExit(f"failed ({out.returncode}): {' '.join(cmd)}\n{out.stdout}\n{out.stderr}")
    return out.stdout


def launcher(ranks):
    if ranks > 1 and shutil.which("mpirun"):
        return ["mpirun", "-np", str(ranks), "--oversubscribe", "--bind-to", "none"]
    return []


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--carnot", default="build/carnot")
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--seeds", type=int, default=4, help="sampling seeds averaged per cell")
    ap.add_argument("-n", type=int, default=10000, help="samples per draw")
    ap.add_argument("--nfe", default="9,19,49,99")
    ap.add_argument("--out", help="JSON record to write")
    args = ap.parse_args()
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    nfes = [int(x) for x in args.nfe.split(",")]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    models = [("ddpm (eps, linear T=1000)", "swissroll", ["ddpm", "ddim", "heun"]),
              ("edm", "swissroll_edm", ["heun", "euler"]),
              ("flow matching", "swissroll_flow", ["flow_euler"])]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, config, samplers in models:
            run_dir = os.path.join(tmp, config)
            run(launcher(args.ranks) + [args.carnot, "train", os.path.join(root, "configs", config + ".yaml"),
                                        "--run-dir", run_dir], env)
            for sampler in samplers:
                for nfe in nfes:
                    steps = (nfe + 1) // 2 if sampler == "heun" else nfe
                    if sampler == "ddpm" and steps != nfe:
                        continue
                    ratios = []
                    for seed in range(args.seeds):
                        out = run([args.carnot, "sample", "--ckpt", run_dir, "-n", str(args.n), "--seed", str(seed),
                                   "--sampler", sampler, "--steps", str(steps),
                                   "--out", os.path.join(tmp, "s.npy")], env)
                        ratios.append(float(re.search(r"ratio ([0-9.]+)", out).group(1)))
                    rows.append({"model": label, "sampler": sampler, "steps": steps, "nfe": 2 * steps - 1
                                 if sampler == "heun" else steps, "quality_ratio_mean": statistics.mean(ratios),
                                 "quality_ratio_draws": ratios})
                    r = rows[-1]
                    print(f"{label:28s} {sampler:10s} steps {steps:4d}  NFE {r['nfe']:4d}  "
                          f"quality ratio {r['quality_ratio_mean']:.3f}  (draws {', '.join(f'{x:.2f}' for x in ratios)})",
                          flush=True)
    if args.out:
        commit = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip()
        cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")),
                   platform.processor())
        record = {"benchmark": "sampler_nfe", "machine": {"cpu": cpu, "cores": os.cpu_count()}, "commit": commit,
                  "command": "python3 benchmarks/sampler_nfe.py " + " ".join(
                      f"--{k} {v}" for k, v in [("ranks", args.ranks), ("seeds", args.seeds), ("nfe", args.nfe)]),
                  "samples_per_draw": args.n, "rows": rows}
        with open(args.out, "w") as f:
            json.dump(record, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
