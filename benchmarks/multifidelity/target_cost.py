"""How expensive are the configurations that reach a parallel run's target regret?

For each benchmark and scheduler of a ``parallel.py`` results file: the table configurations whose
final (max-budget) value is within the target regret ``r*``, and their full-training cost against the
table's median.  Reaching ``r*`` takes training one of them to the end, so the cheapest one's cost is a
lower bound on ``t_k`` for any ``k``; the median is reported as the typical cost.  (Table mode; the
parallel runs evaluate the surrogate, so this is indicative.)::

    .venv/bin/python benchmarks/multifidelity/target_cost.py benchmarks/multifidelity/results/parallel.s20.json
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.mf.benchmarks import load  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    path = Path((argv or sys.argv[1:] or ["benchmarks/multifidelity/results/parallel.s20.json"])[0])
    table = json.loads(path.read_text())["table"]
    print("| benchmark | scheduler | r* | configs within r* | their median full cost (s) | "
          "/ table median | t_16 (s) |\n|---|---|---|---|---|---|---|")
    for name, by_sched in table.items():
        bench = load(name, mode="tabular", seed=0)
        rows = bench.sample_configs(bench.table.n_configs, seed=0)  # every row of the table
        curves = [bench.curves(c) for c in rows]
        final = np.array([v[-1] for v, _ in curves]) - bench.optimum
        cost = np.array([c[-1] for _, c in curves])
        for sched, rec in by_sched.items():
            good = final <= rec["target_regret"]
            t16 = rec["by_workers"].get("16", {}).get("median_time")
            print(f"| {name} | {sched} | {rec['target_regret']:.4g} | {int(good.sum())} | "
                  f"{np.median(cost[good]):.2f} | {np.median(cost[good]) / np.median(cost):.2f} | "
                  f"{'-' if t16 is None else f'{t16:.3g}'} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
