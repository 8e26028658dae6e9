"""Model-based multi-fidelity search when part of the space fails (a check, not a reported target).

A user's space often holds a region where training fails at once (a learning rate that diverges to NaN,
an out-of-memory width).  Under a scheduler such a trial fails at its first budget and is never
promoted, while a budget-aware model (BOHB's TPE, SMAC's random forest) is fit at the largest budget with
enough results, where only promoted trials are.  This script makes a region of each table fail (its value
NaN at every budget, its first budget's training charged) and runs the tunestack optimizers of the
one-worker table through the simulator: the share of trials that failed, and the regret of the best full
budget value after ``--budget`` full-evaluation equivalents, median over seeds::

    nice -n 10 .venv/bin/python benchmarks/multifidelity/failing_regions.py --seeds 10

The failing regions (about a fifth of each space, chosen before any run, by what diverges in practice):
``mlp_digits`` ``lr > 0.1``; ``gbm`` ``learning_rate > 0.4``.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import warnings
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

HERE = Path(__file__).resolve().parent
if __package__ in (None, ""):
    sys.path.insert(0, str(HERE.parents[1]))

import numpy as np  # noqa: E402

ETA = 3.0
FAILS = {"mlp_digits": ("lr", 0.1), "gbm": ("learning_rate", 0.4)}
# (name, searcher, scheduler): None lets the scheduler or preset choose its searcher
OPTIMIZERS = {"bohb": (None, "bohb"), "rf_hyperband": (None, "rf_hyperband"), "tpe_asha": ("tpe", "asha"),
              "asha": ("random", "asha"), "random": ("random", None)}


def one(bench: str, name: str, seed: int, budget: float) -> dict:
    from benchmarks.multifidelity.run import evaluator
    from tunestack.platform.simulator import simulate

    ev = evaluator(bench)
    param, above = FAILS[bench]
    first = float(ev.whole(ev.min_budget))

    def objective(config, b):
        if config[param] > above:
            return math.nan, first  # diverged in its first budget
        return ev.budget_objective(config, b)

    searcher, scheduler = OPTIMIZERS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the simulator warns once of a NaN value
        res = simulate(objective, ev.bench.search_space, searcher=searcher, scheduler=scheduler,
                       min_budget=ev.min_budget, max_budget=ev.max_budget, eta=ETA, workers=1,
                       max_time=budget * ev.max_budget, seed=seed)
    trials: dict[str, bool] = {}
    for h in res.history:
        trials[h["trial_id"]] = trials.get(h["trial_id"], False) or not math.isfinite(h["value"])
    full = [h["value"] for h in res.history
            if h["budget"] >= ev.max_budget * (1 - 1e-9) and math.isfinite(h["value"])]
    best = min(full) if full else math.inf
    return {"failed": sum(trials.values()) / max(len(trials), 1), "trials": len(trials),
            "regret": best - ev.optimum}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--benchmarks", default=",".join(FAILS))
    ap.add_argument("--optimizers", default=",".join(OPTIMIZERS))
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--budget", type=float, default=100.0, help="full-evaluation equivalents (100)")
    ap.add_argument("--out", default="", help="also write every run's record (JSON), for paired comparisons")
    args = ap.parse_args(argv)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True,
                            text=True).stdout.strip()
    print(f"# failing regions {FAILS}; budget {args.budget:g} full evaluations; seeds 0..{args.seeds - 1}; "
          f"git {commit}")
    print("| table | optimizer | trials failed, median (min-max) | trials | regret, median (min-max) |")
    print("|---|---|---|---|---|")
    runs = []
    for bench in args.benchmarks.split(","):
        for name in args.optimizers.split(","):
            rows = [one(bench, name, s, args.budget) for s in range(args.seeds)]
            runs += [dict(r, table=bench, optimizer=name, seed=s, git=commit) for s, r in enumerate(rows)]
            f = np.array([r["failed"] for r in rows])
            g = np.array([r["regret"] for r in rows])
            n = np.median([r["trials"] for r in rows])
            print(f"| {bench} | {name} | {np.median(f):.1%} ({f.min():.1%}-{f.max():.1%}) | {n:.0f} | "
                  f"{np.median(g):.4f} ({g.min():.4f}-{g.max():.4f}) |", flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(runs, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
