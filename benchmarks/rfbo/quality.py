"""Quality check of the rfbo searcher (and variants of its settings) against random search.

    nice -n 10 python -m benchmarks.rfbo.quality --problems suite --seeds 10 --evals 100 \
        --variant rfbo=rfbo --variant random=random --out benchmarks/rfbo/results/quality_suite.json

``--variant LABEL=SEARCHER[:JSON]`` runs ``tunestack.minimize(fn, space, searcher=SEARCHER, n_trials=evals,
seed=s, **JSON)``.  ``--problems`` takes names, or ``suite`` (benchmarks/searchers problems incl. CASH),
``dev`` (benchmarks/rfbo/dev_problems.py), ``all``.  Prints median final regret at 50 and at ``evals``
(CASH problems: holdout error, their optimum is unknown) and the mean rank of the variants per problem.
Results (every best-so-far trajectory) go to ``--out`` as JSON; finished runs are reused on a rerun.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np


def _problems(spec: str) -> dict:
    from benchmarks.rfbo.dev_problems import DEV_PROBLEMS
    from benchmarks.searchers.problems import all_problems

    suite = all_problems(cash=True)
    groups = {"suite": suite, "dev": DEV_PROBLEMS, "all": {**suite, **DEV_PROBLEMS}}
    out: dict = {}
    for name in spec.split(","):
        if name in groups:
            out.update(groups[name])
        elif name in suite or name in DEV_PROBLEMS:
            out[name] = suite.get(name) or DEV_PROBLEMS[name]
        else:
            raise SystemExit(f"unknown problem {name!r}")
    return out


def _run_one(args: tuple) -> tuple[str, list[float], float]:
    key, label, searcher, kwargs, problem_spec, pname, seed, evals = args
    os.nice(10) if os.nice(0) < 10 else None
    import tunestack

    p = _problems(problem_spec)[pname]
    t0 = time.perf_counter()
    res = tunestack.minimize(p.fn, p.space, searcher=searcher, n_trials=evals, seed=seed, **kwargs)
    vals = [v if math.isfinite(v) else math.inf for v in res.values()]
    return key, np.minimum.accumulate(vals).tolist(), time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--problems", default="suite")
    ap.add_argument("--variant", action="append", required=True, help="LABEL=SEARCHER[:JSON kwargs]")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--evals", type=int, default=100)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    probs = _problems(a.problems)
    variants = {}
    for v in a.variant:
        label, _, rest = v.partition("=")
        searcher, _, js = rest.partition(":")
        variants[label] = (searcher, json.loads(js) if js else {})
    out = Path(a.out)
    store = json.loads(out.read_text()) if out.exists() else {}
    tasks = []
    for label, (searcher, kw) in variants.items():
        for pname in probs:
            for s in range(a.seeds):
                key = f"{label}|{searcher}|{json.dumps(kw, sort_keys=True)}|{pname}|{s}|{a.evals}"
                if key not in store:
                    tasks.append((key, label, searcher, kw, a.problems, pname, s, a.evals))
    print(f"{len(tasks)} runs to do ({len(store)} cached)", flush=True)
    with Pool(a.jobs) as pool:
        for i, (key, traj, sec) in enumerate(pool.imap_unordered(_run_one, tasks)):
            store[key] = {"traj": traj, "seconds": sec}
            if i % 10 == 0 or i == len(tasks) - 1:
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(json.dumps(store))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(store))
    report(store, variants, probs, a.seeds, a.evals)


def report(store: dict, variants: dict, probs: dict, seeds: int, evals: int) -> None:
    checkpoints = sorted({min(50, evals), evals})
    labels = list(variants)
    print(f"\nmedian regret over {seeds} seeds (CASH: holdout error); rank by value at {evals} evals")
    print(f"{'problem':20s}" + "".join(f"{lb + '@' + str(c):>16s}" for lb in labels for c in checkpoints))
    ranks = {lb: [] for lb in labels}
    for pname, p in probs.items():
        row, finals = f"{pname:20s}", {}
        for lb in labels:
            searcher, kw = variants[lb]
            trajs = [store[f"{lb}|{searcher}|{json.dumps(kw, sort_keys=True)}|{pname}|{s}|{evals}"]["traj"]
                     for s in range(seeds)]
            opt = p.optimum if p.optimum is not None else 0.0
            reg = np.array(trajs) - opt
            finals[lb] = reg[:, evals - 1]
            row += "".join(f"{np.median(reg[:, c - 1]):16.4g}" for c in checkpoints)
        print(row)
        per_seed = np.array([finals[lb] for lb in labels])  # variants x seeds
        r = np.apply_along_axis(lambda col: _rank(col), 0, per_seed)
        for i, lb in enumerate(labels):
            ranks[lb].append(float(np.mean(r[i])))
    print("mean rank over problems: " + ", ".join(f"{lb} {np.mean(ranks[lb]):.2f}" for lb in labels))


def _rank(col: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(col)


if __name__ == "__main__":
    main()
