#!/usr/bin/env python3
"""Representation alignment over training: `carnot align` between two runs (e.g. two seeds) at
every checkpoint step they share, as a Markdown table and a JSON result file.

    python3 benchmarks/align_over_training.py runs/A runs/B [--n 1024] [--out results.json]

Each row: the step, linear CKA and mutual 10-NN between the runs' EMA weights at that step, and
their permutation nulls (mean ± sd over 10 shuffles)."""
import argparse
import json
import os
import platform
import re
import subprocess
import sys

import record

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def steps_of(run):
    folder = os.path.join(run, "checkpoints")
    if not os.path.isdir(folder):
        sys.exit(f"align_over_training: '{run}' has no checkpoints/")
    return {int(m.group(1)): os.path.join(folder, name)
            for name in os.listdir(folder) if (m := re.fullmatch(r"step_(\d{9})", name))}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run_a")
    p.add_argument("run_b")
    p.add_argument("--n", type=int, default=1024, help="probe points")
    p.add_argument("--layer", help="feature layer (default: the middle block)")
    p.add_argument("--carnot", default=os.path.join(ROOT, "build", "carnot"))
    p.add_argument("--out", help="write the rows as JSON here")
    p.add_argument("--machine", default=platform.node())
    a = p.parse_args()
    sa, sb = steps_of(a.run_a), steps_of(a.run_b)
    common = sorted(set(sa) & set(sb))
    if not common:
        sys.exit(f"align_over_training: no checkpoint step common to {a.run_a} and {a.run_b}")
    rows = []
    print("| step | linear CKA | CKA null | mutual 10-NN | mKNN null |")
    print("|---:|---:|---:|---:|---:|")
    for step in common:
        cmd = [a.carnot, "align", "--ckpt", sa[step], "--ckpt", sb[step], "-n", str(a.n)]
        if a.layer:
            cmd += ["--layer", a.layer]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"align_over_training: {' '.join(cmd)} failed:\n{out.stderr}")
        r = json.loads(out.stdout.strip().splitlines()[-1])
        r["step"] = step
        rows.append(r)
        print(f"| {step} | {r['cka']:.3f} | {r['cka_null']:.3f} ± {r['cka_null_sd']:.3f} | {r['mknn']:.3f} | "
              f"{r['mknn_null']:.3f} ± {r['mknn_null_sd']:.3f} |", flush=True)
    if a.out:
        record.write(a.out, {
            "benchmark": "align_over_training",
            "what": "carnot align between two runs at each shared checkpoint (EMA weights, middle block, probe noised "
                    "to a quarter of the diffusion steps)",
            "runs": [a.run_a, a.run_b], "machine": {"name": a.machine, "cores": os.cpu_count()},
            "commit": record.commit(), "command": record.command("align_over_training.py", sys.argv[1:]), "rows": rows})


if __name__ == "__main__":
    main()
