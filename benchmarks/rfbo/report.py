"""Markdown table of the rfbo check: median final regret at 50 and 100 evaluations per problem.

    python -m benchmarks.rfbo.report benchmarks/rfbo/results/quality_suite.json \
        benchmarks/rfbo/results/smac_suite.json

Reads any number of JSON files written by ``quality.py`` / ``smac_runs.py`` and prints, per problem and
label, the median (and interquartile range) of the regret at 50 and at 100 evaluations over the seeds
present, with the number of seeds.  CASH problems have no known optimum: their column is the holdout error.
"""
from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np


def main(paths: list[str]) -> None:
    from benchmarks.searchers.problems import PROBLEMS

    runs: dict[tuple[str, str], list[list[float]]] = defaultdict(list)
    for path in paths:
        for key, rec in json.loads(Path(path).read_text()).items():
            label, _, _, problem, _, evals = key.split("|")
            if int(evals) == 100:
                runs[(problem, label)].append(rec["traj"])
    labels = sorted({lb for _, lb in runs}, key=lambda lb: ("rfbo", "smac", "random").index(lb)
                    if lb in ("rfbo", "smac", "random") else 9)
    problems = sorted({p for p, _ in runs}, key=lambda p: (p not in PROBLEMS, p))
    print("| problem | " + " | ".join(f"{lb} @50 | {lb} @100" for lb in labels) + " |")
    print("|---|" + "---|---|" * len(labels))
    for p in problems:
        opt = PROBLEMS[p].optimum if p in PROBLEMS else 0.0
        cells = []
        for lb in labels:
            trajs = np.array(runs.get((p, lb), []), dtype=float)
            if trajs.size == 0:
                cells += ["-", "-"]
                continue
            for c in (49, 99):
                r = trajs[:, c] - opt
                q1, med, q3 = np.percentile(r, [25, 50, 75])
                cells.append(f"{med:.3g} [{q1:.2g}, {q3:.2g}] (n={len(r)})")
        print(f"| {p} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
