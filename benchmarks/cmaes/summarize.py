"""Median best regret per problem, optimizer and checkpoint, from ``results/*.json``; writes results.md.

    python -m benchmarks.cmaes.summarize
"""
from __future__ import annotations

import json
from collections import defaultdict

import numpy as np

from .common import CHECKPOINTS, RESULTS

ORDER = ["cmaes", "pycma-ipop", "pycma", "random"]


def load() -> list[dict]:
    rows = []
    for path in sorted(RESULTS.glob("*.json")):
        rows.extend(json.loads(path.read_text()))
    return rows


def table(rows: list[dict]) -> str:
    cell = defaultdict(list)
    for r in rows:
        for c in CHECKPOINTS:
            cell[r["problem"], r["optimizer"], c].append(r["best_regret"][str(c)])
    probs = list(dict.fromkeys(r["problem"] for r in rows))
    opts = [o for o in ORDER if any(r["optimizer"] == o for r in rows)]
    seeds = {len(v) for v in cell.values()}
    lines = [f"Median best regret over {'/'.join(map(str, sorted(seeds)))} seeds "
             "(in brackets: 25th-75th percentile).", "", "Commands (repository root):", "",
             "    nice -n 10 python -m benchmarks.cmaes.quality --seeds 20   # .venv: cmaes, random",
             "    PYTHONPATH=. nice -n 10 .bench-venv-cma/bin/python -m benchmarks.cmaes.peers_pycma "
             "--seeds 20",
             "    python -m benchmarks.cmaes.summarize", "",
             "pycma: cma " + _cma_version(rows) + ", unit cube, sigma0 = 0.3, bounds [0, 1] "
             "(BoundTransform), uniform random x0; `pycma` = plain runs, `pycma-ipop` = fmin2 with IPOP restarts.", "",
             "| problem | optimizer | " + " | ".join(f"{c} evals" for c in CHECKPOINTS) + " |",
             "|---|---|" + "---|" * len(CHECKPOINTS)]
    for p in probs:
        for o in opts:
            vals = []
            for c in CHECKPOINTS:
                v = np.asarray(cell[p, o, c])
                q1, med, q3 = np.percentile(v, [25, 50, 75])
                vals.append(f"{med:.3g} [{q1:.2g}, {q3:.2g}]")
            lines.append(f"| {p} | {o} | " + " | ".join(vals) + " |")
    return "\n".join(lines)


def _cma_version(rows: list[dict]) -> str:
    versions = {r.get("cma_version") for r in rows if r.get("cma_version")}
    return ", ".join(sorted(versions)) or "(version not recorded)"


def main() -> None:
    text = table(load())
    (RESULTS / "results.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
