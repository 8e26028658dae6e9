"""Parallel asks: TPE asking ``batch`` at a time (pending asks, then their tells) vs one at a time.

    . .venv/bin/activate
    nice -n 10 python -m benchmarks.tpe.parallel --seeds 10 --evals 100 --batch 8

Prints, per problem, the median final regret of sequential and batched runs (same number of
evaluations), their ratio, and the median over batches of the smallest distance between two asks of
a batch (unit cube), with and without the constant liar.
"""
from __future__ import annotations

import argparse
import json

import numpy as np

from benchmarks.tpe.problems import check_problems
from tunestack.searchers import create


def run(problem, seed: int, evals: int, batch: int, **kw) -> tuple[float, float]:
    s = create("tpe", problem.space, seed=seed, **kw)
    best, spreads = np.inf, []
    while len(s.trials) < evals:
        sugs = [s.ask() for _ in range(min(batch, evals - len(s.trials)))]
        if len(sugs) > 1 and len(s.trials) > s.n_startup + batch:
            v = np.nan_to_num(np.array([x.vector for x in sugs]), nan=-1.0)
            d = np.sqrt(((v[:, None] - v[None]) ** 2).sum(-1))
            spreads.append(d[np.triu_indices(len(v), 1)].min())
        for sug in sugs:
            val = problem.fn(sug.config)
            best = min(best, val)
            s.tell(sug.id, val)
    return best, float(np.median(spreads)) if spreads else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--evals", type=int, default=100)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--problems", nargs="*", default=["branin", "hartmann3", "hartmann6", "levy10", "conditional"])
    ap.add_argument("--kwargs", default="{}")
    args = ap.parse_args()
    kw = json.loads(args.kwargs)
    print("| problem | sequential | batch | ratio | batch min-dist | no-liar batch | no-liar min-dist |")
    print("|---|---|---|---|---|---|---|")
    for name, p in check_problems(args.problems).items():
        opt = p.optimum or 0.0
        seq = [run(p, s, args.evals, 1, **kw)[0] - opt for s in range(args.seeds)]
        par = [run(p, s, args.evals, args.batch, **kw) for s in range(args.seeds)]
        nol = [run(p, s, args.evals, args.batch, constant_liar=False, **kw) for s in range(args.seeds)]
        ms, mp, mn = np.median(seq), np.median([r[0] - opt for r in par]), np.median([r[0] - opt for r in nol])
        print(f"| {name} | {ms:.3g} | {mp:.3g} | {mp / ms:.2f} | {np.median([r[1] for r in par]):.3g} | "
              f"{mn:.3g} | {np.median([r[1] for r in nol]):.3g} |", flush=True)


if __name__ == "__main__":
    main()
