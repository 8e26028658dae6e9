"""Bootstrap intervals of the parallel speedups S_k = t_1 / t_k in a ``parallel.py`` results file.

t_k is a median over seeds of the time k workers need to reach the target regret, so S_k is a ratio
of two medians of 20 (or 10) seeds, and a seed that never reaches the target counts as infinite time.
Resampling the seeds of t_1 and of t_k independently (with replacement) shows how far S_k moves
with the seeds drawn (P(S >= 0.75 k) is over all resamples; one whose median is not reached
counts as below)::

    .venv/bin/python benchmarks/multifidelity/speedup_ci.py benchmarks/multifidelity/results/parallel.s20.json
"""
from __future__ import annotations

import argparse
import json
import math

import numpy as np


def bootstrap(t1: np.ndarray, tk: np.ndarray, n: int = 4000, seed: int = 0) -> np.ndarray:
    """Speedups of ``n`` resamples; nan where a resampled median is infinite (not reached)."""
    rng = np.random.default_rng(seed)
    out = np.empty(n)
    for i in range(n):
        a = np.median(t1[rng.integers(0, len(t1), len(t1))])
        b = np.median(tk[rng.integers(0, len(tk), len(tk))])
        out[i] = a / b if math.isfinite(a) and math.isfinite(b) and b > 0 else math.nan
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results", help="a parallel.py results file (JSON)")
    ap.add_argument("--workers", type=int, default=16)
    args = ap.parse_args(argv)
    table = json.load(open(args.results))["table"]
    goal = 0.75 * args.workers
    print(f"| benchmark | scheduler | S_{args.workers} | bootstrap 5% / 50% / 95% | P(S >= {goal:g}) | undefined |")
    print("|---|---|---|---|---|---|")
    for bench, by_sched in table.items():
        for sched, d in by_sched.items():
            w = d["by_workers"]
            if str(args.workers) not in w:
                continue
            t = {k: np.array([math.inf if x is None else x for x in w[k]["times"]]) for k in ("1", str(args.workers))}
            s = bootstrap(t["1"], t[str(args.workers)])
            lo, mid, hi = np.nanpercentile(s, [5, 50, 95])
            point = w[str(args.workers)]["speedup"]
            print(f"| {bench} | {sched} | {'-' if point is None else f'{point:.1f}'} | {lo:.1f} / {mid:.1f} / {hi:.1f} "
                  f"| {np.nanmean(s >= goal):.2f} | {np.isnan(s).mean():.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
