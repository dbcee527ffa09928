"""Scenario discovery: how well and how fast PRIM recovers a known box.

Usage: python benchmarks/bench_discover.py [--runs N] [--dims D] [--repeats R]

Inputs are uniform on [0, 1]^D (one column integer-valued, 0–9); the outcome is true inside
the box x0 in (0.2, 0.6), x1 in (0.3, 0.8). For R seeds it prints the restricted inputs, the
largest distance of a recovered limit from the true one, the box's coverage and density at
min_density 0.9 and 0.95, and the seconds PRIM took (EMA Workbench's import excluded).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from sim.discovery import _ema, find_boxes

TRUTH = {"x0": (0.2, 0.6), "x1": (0.3, 0.8)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000, help="sampled runs (default 1000)")
    parser.add_argument("--dims", type=int, default=5, help="inputs (default 5, at least 3)")
    parser.add_argument("--repeats", type=int, default=5, help="seeds (default 5)")
    args = parser.parse_args()
    start = time.perf_counter()
    _ema()
    print(f"import EMA Workbench: {time.perf_counter() - start:.1f} s")
    print("seed  min_density  restricted  max |limit error|  coverage  density  seconds")
    for seed in range(args.repeats):
        rng = np.random.default_rng(seed)
        x = pd.DataFrame(
            rng.uniform(size=(args.runs, args.dims - 1)),
            columns=[f"x{i}" for i in range(args.dims - 1)],
        )
        x["k"] = rng.integers(0, 10, args.runs)
        y = pd.Series(True, index=x.index)
        for name, (lo, hi) in TRUTH.items():
            y &= (x[name] > lo) & (x[name] < hi)
        for min_density in (0.9, 0.95):
            t = time.perf_counter()
            box = find_boxes(x, y, min_density=min_density)
            seconds = time.perf_counter() - t
            errors = [
                max(abs(r.low - TRUTH[r.parameter][0]), abs(r.high - TRUTH[r.parameter][1]))
                for r in box.itertuples()
                if r.parameter in TRUTH
            ]
            print(
                f"{seed:>4}  {min_density:>11.2f}  {','.join(box['parameter']):>10}  "
                f"{max(errors, default=float('nan')):>17.3f}  {box['coverage'].iloc[0]:>8.3f}  "
                f"{box['density'].iloc[0]:>7.3f}  {seconds:>7.2f}"
            )


if __name__ == "__main__":
    main()
