"""Where the training time of an LCE replay goes: completed trials, and stopped trials by how far their final
value is from the best final (a diagnostic of the savings figure, on the development split by default).

    PYTHONPATH=. python -m benchmarks.lce.where_time_goes --bench mlp_digits --split even --seeds 5
"""
from __future__ import annotations

import argparse

import numpy as np

from benchmarks.lce.run import SPLITS, replay, table

BUCKETS = ((0.0, 1.5), (1.5, 3.0), (3.0, 10.0), (10.0, np.inf))  # final / best final of the 100 trials


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bench", default="mlp_digits")
    ap.add_argument("--split", choices=SPLITS, default="even")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--trials", type=int, default=100)
    a = ap.parse_args(argv)
    budgets, vals, cum = table(a.bench, a.split)
    for seed in range(a.seeds):
        order = np.random.default_rng(seed).permutation(len(vals))[:a.trials]  # as run.savings
        v, c = vals[order], cum[order]
        ran = replay(v, budgets, seed)
        n = len(v)
        done = ran == len(budgets)
        full, used = c[:, -1].sum(), c[np.arange(n), ran - 1]
        ratio, frac = v[:, -1] / np.nanmin(v[:, -1]), ran / len(budgets)
        print(f"seed {seed}: saved {1 - used.sum() / full:.3f}; {done.sum()} completed, cost share "
              f"{used[done].sum() / full:.3f}; stopped, cost share {used[~done].sum() / full:.3f}")
        for lo, hi in BUCKETS:
            m = ~done & (ratio >= lo) & (ratio < hi)
            if m.any():
                print(f"  stopped, final / best in [{lo:g}, {hi:g}): {m.sum()} trials, mean fraction run "
                      f"{frac[m].mean():.2f}, cost share {used[m].sum() / full:.3f}")


if __name__ == "__main__":
    main()
