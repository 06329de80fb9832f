#!/usr/bin/env python3
"""Scaling sweep: a job's training step on 1..N ranks, strong and weak scaling, as CSV and a PNG.

    launch/scaling_sweep.py configs/swissroll.yaml --ranks 1,2,4,8 --out runs/scaling

strong: the job's global batch split over R ranks; efficiency = t(1) / (R · t(R)).
weak:   R times the job's batch (the per-rank batch fixed); efficiency = t(1) / t(R).
Each point is `carnot bench step` (compute and exposed communication, mean of --steps steps after
--warmup, the slowest rank) with the job's buckets, overlap on. Ranks start through
launch/mpirun.sh, or the command in CARNOT_LAUNCH (e.g. "srun --mpi=pmix -n {ranks}" inside a
Slurm allocation). Writes OUT/scaling.csv and OUT/scaling.png; the plot needs matplotlib, which
is installed when missing (apt as root, else pip --user); if that fails the CSV stands and the
script says so and exits 1.
"""
import argparse
import csv
import json
import os
import shlex
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def launch_command(ranks, carnot):
    template = os.environ.get("CARNOT_LAUNCH")
    if template:
        return shlex.split(template.format(ranks=ranks)) + [carnot]
    return [os.path.join(ROOT, "launch", "mpirun.sh"), str(ranks)]


def bench_step(ranks, job, batch, sets, steps, warmup, carnot):
    cmd = launch_command(ranks, carnot) + ["bench", "step", job, "--steps", str(steps), "--warmup", str(warmup),
                                           "--set", f"train.global_batch={batch}"]
    for s in sets:
        cmd += ["--set", s]
    env = dict(os.environ, CARNOT=carnot)
    run = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"scaling_sweep: {' '.join(cmd)} failed (exit {run.returncode}):\n{run.stderr.strip()}")
    rows = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    overlapped = [r for r in rows if r["overlap"] or r["ranks"] == 1]  # one rank: one row, nothing to overlap
    if not overlapped:
        sys.exit(f"scaling_sweep: no result from {' '.join(cmd)}:\n{run.stdout}")
    return overlapped[0]


def job_batch(job, carnot):
    out = subprocess.run([carnot, "validate", job], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"scaling_sweep: {job} does not validate:\n{out.stderr.strip()}")
    for line in out.stdout.splitlines():
        if line.strip().startswith("global_batch:"):
            return int(line.split(":")[1])
    sys.exit(f"scaling_sweep: no train.global_batch in the resolved spec of {job}")


PLOT = r"""
import json, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
rows = json.load(open(sys.argv[1]))
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
for mode, style in (("strong", "o-"), ("weak", "s-")):
    pts = [r for r in rows if r["mode"] == mode]
    if not pts:
        continue
    ranks = [r["ranks"] for r in pts]
    ax1.plot(ranks, [r["samples_per_s"] for r in pts], style, label=f"{mode} scaling")
    ax1.plot(ranks, [pts[0]["samples_per_s"] * k / ranks[0] for k in ranks], ":", color="gray")
    ax2.plot(ranks, [r["efficiency"] for r in pts], style, label=mode)
ax1.set(yscale="log", xlabel="ranks", ylabel="samples/s", title="throughput (dotted: ideal)")
ax2.set(xlabel="ranks", ylabel="efficiency", ylim=(0, 1.2), title="parallel efficiency")
all_ranks = sorted({r["ranks"] for r in rows})
for ax in (ax1, ax2):
    ax.set_xscale("log", base=2)
    ax.set_xticks(all_ranks, [str(k) for k in all_ranks])
    ax.minorticks_off()
    ax.legend()
    ax.grid(alpha=0.3)
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=100)
"""


def python_with_matplotlib():
    """An interpreter that imports matplotlib: this one, Debian's, or either after installing it."""
    def has(py):
        return os.path.exists(py) and subprocess.run([py, "-c", "import matplotlib"], capture_output=True).returncode == 0
    candidates = [sys.executable, "/usr/bin/python3"]
    for py in candidates:
        if has(py):
            return py
    print("scaling_sweep: installing matplotlib for the plot", file=sys.stderr)
    if os.geteuid() == 0 and os.path.exists("/usr/bin/apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "python3-matplotlib"]
        if subprocess.run(install, env=env, capture_output=True).returncode != 0:  # stale package lists
            subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True)
            subprocess.run(install, env=env, capture_output=True)
        if has("/usr/bin/python3"):
            return "/usr/bin/python3"
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "matplotlib"]
    subprocess.run(pip if os.geteuid() == 0 else pip[:4] + ["--user"] + pip[4:], capture_output=True)
    return sys.executable if has(sys.executable) else None


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("job", nargs="?", default=os.path.join(ROOT, "configs", "swissroll.yaml"))
    p.add_argument("--ranks", default="1,2", help="comma-separated rank counts, e.g. 1,2,4,8")
    p.add_argument("--mode", choices=["strong", "weak", "both"], default="both")
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--set", action="append", default=[], help="override a job key (as carnot --set)")
    p.add_argument("--out", default="runs/scaling")
    p.add_argument("--carnot", default=os.environ.get("CARNOT", os.path.join(ROOT, "build", "carnot")))
    a = p.parse_args()
    try:
        ranks = [int(r) for r in a.ranks.split(",")]
    except ValueError:
        sys.exit(f"scaling_sweep: --ranks must be comma-separated integers, got '{a.ranks}'")
    if not ranks or min(ranks) < 1 or ranks != sorted(set(ranks)):
        sys.exit(f"scaling_sweep: --ranks must be increasing positive integers, got '{a.ranks}'")
    batch = job_batch(a.job, a.carnot)
    os.makedirs(a.out, exist_ok=True)
    rows = []
    measured = {}  # (ranks, batch) -> bench step's row: weak and strong share the 1-rank point
    for mode in (["strong", "weak"] if a.mode == "both" else [a.mode]):
        base = None
        for r in ranks:
            b = batch if mode == "strong" else batch * r
            if (r, b) not in measured:
                measured[(r, b)] = bench_step(r, a.job, b, a.set, a.steps, a.warmup, a.carnot)
            res = measured[(r, b)]
            step_s = res["step_ms"] / 1e3
            if base is None:
                base = (ranks[0], step_s)
            r0, t0 = base
            eff = (t0 * r0) / (step_s * r) if mode == "strong" else t0 / step_s
            row = {"mode": mode, "ranks": r, "global_batch": b, "per_rank_batch": b / r,
                   "step_ms": res["step_ms"], "compute_ms": res["compute_ms"],
                   "exposed_comm_ms": res["exposed_comm_ms"], "samples_per_s": res["samples_per_s"],
                   "efficiency": eff}
            rows.append(row)
            print(f"{mode:6s} ranks {r:4d}  batch {b:7d}  step {res['step_ms']:9.3f} ms  "
                  f"exposed comm {res['exposed_comm_ms']:8.3f} ms  {res['samples_per_s']:10.0f} samples/s  "
                  f"efficiency {eff:5.2f}", flush=True)
    csv_path = os.path.join(a.out, "scaling.csv")
    with open(csv_path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)
    print(f"scaling_sweep: wrote {csv_path}")
    json_path = os.path.join(a.out, "scaling.json")
    with open(json_path, "w") as f:
        json.dump(rows, f, indent=1)
    py = python_with_matplotlib()
    if py is None:
        sys.exit(f"scaling_sweep: matplotlib is missing and could not be installed; {csv_path} stands, the plot is not made")
    png_path = os.path.join(a.out, "scaling.png")
    plotted = subprocess.run([py, "-c", PLOT, json_path, png_path], capture_output=True, text=True)
    if plotted.returncode != 0:
        sys.exit(f"scaling_sweep: plotting failed:\n{plotted.stderr.strip()}")
    print(f"scaling_sweep: wrote {png_path}")


if __name__ == "__main__":
    main()
