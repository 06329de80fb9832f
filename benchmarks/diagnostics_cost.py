#!/usr/bin/env python3
"""What the training diagnostics cost: the same job trained with diagnostics.every 0 (off), at the
default interval (100) and at 10, in alternating rounds on the same ranks; throughput is the
median of samples/s over logging intervals (the first left out), then the median over rounds.
Besides that end-to-end comparison (noisy on a shared machine), the trainer's own account: the
seconds rank 0 spent measuring and writing diagnostics over the run's time (log.txt).
Prints both per interval and writes a JSON record.

    python3 benchmarks/diagnostics_cost.py --carnot build/carnot --ranks 2 \
        --config configs/thermo/balance_mlp.yaml --steps 4000 \
        --out benchmarks/results/diagnostics_cost-<machine>-mlp.json
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

import record

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def throughput(binary, config, ranks, steps, log_every, every, extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_COMM_WORLD", "PMI_", "SLURM_"))}
    env["CARNOT"] = binary
    with tempfile.TemporaryDirectory() as tmp:
        run = os.path.join(tmp, "run")
        cmd = [os.path.join(ROOT, "launch", "mpirun.sh"), str(ranks), "train", config, "--run-dir", run,
               "--set", f"train.steps={steps}", "--set", f"log.every={log_every}",
               "--set", f"checkpoint.every={steps}", "--set", f"diagnostics.every={every}"] + extra
        subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(run, "metrics.jsonl")) as f:
            rates = [r["samples_per_s"] for r in map(json.loads, f) if "samples_per_s" in r]
        with open(os.path.join(run, "log.txt")) as f:
            took = re.search(r"diagnostics took ([0-9.]+) s of ([0-9.]+) s", f.read())
    return statistics.median(rates[1:]), float(took.group(1)) / float(took.group(2)) if took else 0.0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--carnot", default=os.path.join(ROOT, "build", "carnot"))
    p.add_argument("--config", default=os.path.join(ROOT, "configs", "thermo", "balance_mlp.yaml"))
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--log-every", type=int, default=200, help="a multiple of the intervals measured")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--intervals", default="0,100,10")
    p.add_argument("--set", action="append", default=[], help="extra overrides for the job")
    p.add_argument("--machine", default=platform.node())
    p.add_argument("--out")
    a = p.parse_args()
    intervals = [int(x) for x in a.intervals.split(",")]
    extra = [x for s in a.set for x in ("--set", s)]
    rates = {e: [] for e in intervals}
    shares = {e: [] for e in intervals}
    for r in range(a.rounds):
        for e in intervals:
            rate, share = throughput(a.carnot, a.config, a.ranks, a.steps, a.log_every, e, extra)
            rates[e].append(rate)
            shares[e].append(share)
        print(f"round {r + 1}: " + ", ".join(f"every {e}: {rates[e][-1]:,.0f} samples/s" for e in intervals), flush=True)
    base = statistics.median(rates[0]) if 0 in rates else None
    rows = []
    for e in intervals:
        m = statistics.median(rates[e])
        row = {"every": e, "samples_per_s": round(m, 1), "rounds": [round(x, 1) for x in rates[e]]}
        if base and e != 0:
            share = statistics.median(shares[e])
            row["step_time_over_off"] = round(base / m, 4)
            row["diagnostics_share_of_time"] = round(share, 5)
            print(f"diagnostics every {e}: {100 * share:.2f}% of training time by the trainer's account; "
                  f"end to end {100 * (base / m - 1):+.2f}% against off ({m:,.0f} vs {base:,.0f} samples/s; "
                  f"median of {a.rounds} rounds)")
        rows.append(row)
    if a.out:
        record.write(a.out, {
            "benchmark": "diagnostics_cost",
            "what": "diagnostics' cost: the trainer's own account of rank 0's seconds measuring and writing them "
                    "over the run's time, and end-to-end throughput against diagnostics off (alternating rounds, "
                    "medians)",
            "machine": {"name": a.machine, "cores": os.cpu_count()}, "commit": record.commit(),
            "command": record.command("diagnostics_cost.py", sys.argv[1:]),
            "config": os.path.relpath(a.config, ROOT), "ranks": a.ranks, "steps": a.steps, "rows": rows})


if __name__ == "__main__":
    main()
