#!/usr/bin/env python3
"""Plots a run's metrics.jsonl as one PNG: the loss; the gradient noise scale B_simple against the
global batch B; the balance ratios ‖g_u‖²/‖g_w‖² of the model's rescaling pairs and their charges
‖u‖² − ‖w‖²; and, where measured, the weight-decay equilibrium of scale-invariant groups and the
imbalance split into its true-gradient and noise parts (docs: framework/diagnostics/report.h).

    python3 launch/plot_metrics.py runs/NAME [--out runs/NAME/metrics.png] [--smooth 10]

Runs with many pairs (DiT: two per head per block) are drawn per kind (qk, vo, fc1-fc2) as the
median over pairs with the 10–90% band. Needs matplotlib (Debian: python3-matplotlib)."""
import argparse
import json
import os
import re
import sys

try:
    import matplotlib
    import numpy as np
except ImportError as e:  # a Python without them (a pyenv or venv): say which works
    sys.exit(f"plot_metrics: {e.name} is missing from {sys.executable}; install python3-matplotlib "
             "(launch/deps.sh does) and run /usr/bin/python3 launch/plot_metrics.py, or pip install matplotlib")

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402


def read_metrics(path):
    rows = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                sys.exit(f"{path}:{number}: not a JSON line: {e}")
    return rows


def global_batch(run_dir):
    path = os.path.join(run_dir, "job.yaml")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        m = re.search(r"^\s*global_batch:\s*(\d+)", f.read(), re.M)
    return int(m.group(1)) if m else None


def series(rows, key):
    pts = [(r["step"], r[key]) for r in rows if key in r and r[key] is not None]
    if not pts:
        return np.array([]), np.array([])
    s, v = zip(*pts)
    return np.array(s, float), np.array(v, float)


def smooth(v, k):
    """Trailing moving average over k points (the first ones over fewer)."""
    if k <= 1 or len(v) == 0:
        return v
    c = np.cumsum(np.insert(v, 0, 0.0))
    out = np.empty_like(v)
    for i in range(len(v)):
        lo = max(0, i + 1 - k)
        out[i] = (c[i + 1] - c[lo]) / (i + 1 - lo)
    return out


def pair_kind(name):
    for kind in ("qk", "vo", "fc1-fc2"):
        if f".{kind}" in name or name.endswith(kind):
            return kind
    return "pair"


def draw_family(ax, rows, prefix, k, log=False):
    """One line per member of a metric family (prefix/NAME), or per kind's median and band."""
    names = sorted({key[len(prefix):] for r in rows for key in r if key.startswith(prefix)})
    if not names:
        return False
    if len(names) <= 12:
        for name in names:
            s, v = series(rows, prefix + name)
            ax.plot(s, smooth(v, k), label=name, lw=1.2)
    else:
        kinds = {}
        for name in names:
            kinds.setdefault(pair_kind(name), []).append(name)
        for kind, members in sorted(kinds.items()):
            steps = sorted({r["step"] for r in rows if prefix + members[0] in r})
            grid = np.array([[r.get(prefix + m, np.nan) for m in members] for r in rows if prefix + members[0] in r])
            grid = np.apply_along_axis(lambda col: smooth(col, k), 0, grid)
            lo, mid, hi = np.nanpercentile(grid, [10, 50, 90], axis=1)
            line, = ax.plot(steps, mid, lw=1.4, label=f"{kind}: median of {len(members)}")
            ax.fill_between(steps, lo, hi, color=line.get_color(), alpha=0.2)
    if log:
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.legend(fontsize=7, ncol=2)
    return True


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", help="a run folder (with metrics.jsonl and job.yaml), or a metrics.jsonl file")
    p.add_argument("--out", help="the PNG to write (default: metrics.png beside metrics.jsonl)")
    p.add_argument("--smooth", type=int, default=10, help="moving average over this many diagnostic lines")
    a = p.parse_args()
    path = a.run if a.run.endswith(".jsonl") else os.path.join(a.run, "metrics.jsonl")
    if not os.path.exists(path):
        sys.exit(f"plot_metrics: no metrics at '{path}'")
    run_dir = os.path.dirname(path)
    rows = read_metrics(path)
    if not rows:
        sys.exit(f"plot_metrics: '{path}' holds no metrics yet")
    out = a.out or os.path.join(run_dir, "metrics.png")
    B = global_batch(run_dir)

    panels = ["loss", "noise", "balance", "charge"]
    if any(k.startswith("wd_equilibrium/") for r in rows for k in r):
        panels.append("wd")
    if any(k.startswith("imbalance_g2/") for r in rows for k in r):
        panels.append("split")
    cols = 2 if len(panels) <= 4 else 3
    fig, axes = plt.subplots(2, cols, figsize=(5.5 * cols, 8))
    axes = axes.ravel()
    for ax in axes[len(panels):]:
        ax.axis("off")
    for ax, panel in zip(axes, panels):
        ax.set_xlabel("step")
        if panel == "loss":
            s, v = series(rows, "loss")
            ax.plot(s, v, lw=1.2)
            ax.set_yscale("log")
            ax.set_title("training loss")
        elif panel == "noise":
            s, v = series(rows, "gns_b_simple")
            if len(s):
                ax.plot(s, v, lw=1.2, label="B_simple = EMA tr Σ / EMA |G|²")
                if B:
                    ax.axhline(B, color="k", ls="--", lw=1, label=f"global batch B = {B}")
                ax.set_yscale("symlog", linthresh=max(1.0, (B or 1) / 10))
                ax.legend(fontsize=8)
            else:
                ax.text(0.5, 0.5, "no noise scale measured\n(one rank without micro-batches)", ha="center",
                        transform=ax.transAxes)
            ax.set_title("gradient noise scale")
        elif panel == "balance":
            if draw_family(ax, rows, "balance/", a.smooth, log=True):
                ax.axhline(1, color="k", ls="--", lw=1)
            else:
                ax.text(0.5, 0.5, "no rescaling pairs in this model", ha="center", transform=ax.transAxes)
            ax.set_title(f"balance ‖g_u‖²/‖g_w‖² (moving average of {a.smooth})")
        elif panel == "charge":
            if not draw_family(ax, rows, "charge/", 1):
                ax.text(0.5, 0.5, "no rescaling pairs in this model", ha="center", transform=ax.transAxes)
            ax.set_title("charge ‖u‖² − ‖w‖²")
        elif panel == "wd":
            draw_family(ax, rows, "wd_equilibrium/", a.smooth, log=True)
            ax.axhline(1, color="k", ls="--", lw=1)
            ax.set_title("weight-decay equilibrium η‖g‖²/(2γ‖θ‖²)")
        elif panel == "split":
            draw_family(ax, rows, "imbalance_noise/", a.smooth)
            ax.axhline(0, color="k", lw=0.8)
            ax.set_title("imbalance's noise part (tr Σ_u − tr Σ_w)/B")
    fig.suptitle(os.path.basename(os.path.abspath(run_dir)) or path)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"plot_metrics: wrote {out} ({len(rows)} lines, panels: {', '.join(panels)})")


if __name__ == "__main__":
    main()
