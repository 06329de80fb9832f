#!/usr/bin/env python3
"""The Swiss roll's own log-likelihood in bits per point: the ceiling of any bound K on it.

The roll (framework/data/swiss_roll.cpp) is t ~ U[1.5π, 4.5π], x = (t cos t, t sin t) + noise·n,
standardised per dimension. Its density p(x) = E_t N(x; f(t), diag(s²)) is integrated over a fine
grid of t for each of n fresh points; prints E[log₂ p(x)] with its standard error.

    pip install numpy; python3 benchmarks/swissroll_data_loglik.py --noise 0.02
"""
import argparse

import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--noise", type=float, default=0.02)
    ap.add_argument("-n", type=int, default=4000)
    ap.add_argument("--grid", type=int, default=400000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    pi = np.pi
    # The closed-form moments of the noise-free roll, as in framework/data/swiss_roll.h.
    mx, mz = 2.0, 2 / (3 * pi)
    vx, vz = 4.875 * pi * pi - 0.25 - mx * mx, 4.875 * pi * pi + 0.25 - mz * mz
    sx, sz = np.sqrt(vx + a.noise ** 2), np.sqrt(vz + a.noise ** 2)
    rng = np.random.default_rng(a.seed)
    t = 1.5 * pi * (1 + 2 * rng.random(a.n))
    x = np.stack([(t * np.cos(t) + a.noise * rng.standard_normal(a.n) - mx) / sx,
                  (t * np.sin(t) + a.noise * rng.standard_normal(a.n) - mz) / sz], 1)
    tg = 1.5 * pi + 3 * pi * (np.arange(a.grid) + 0.5) / a.grid
    fx, fz = (tg * np.cos(tg) - mx) / sx, (tg * np.sin(tg) - mz) / sz
    s1, s2 = a.noise / sx, a.noise / sz
    logp = np.empty(a.n)
    for i in range(a.n):
        e = -0.5 * ((x[i, 0] - fx) ** 2 / s1 ** 2 + (x[i, 1] - fz) ** 2 / s2 ** 2)
        top = e.max()
        logp[i] = top + np.log(np.exp(e - top).mean()) - np.log(2 * pi * s1 * s2)
    bits = logp / np.log(2)
    print(f"noise {a.noise}: E log2 p(x) = {bits.mean():.3f} ± {bits.std() / np.sqrt(a.n):.3f} bits per point "
          f"({a.n} points, {a.grid} grid points in t)")


if __name__ == "__main__":
    main()
