"""Parallel asks: rfbo asked ``--batch`` at a time (that many pending asks, then as many tells) vs one at a
time, at the same number of evaluations.

    nice -n 10 python -m benchmarks.rfbo.parallel --problems branin,hartmann6,levy10 --seeds 5 --batch 8

Prints, per problem, the median final regret of batch mode, of sequential mode (``tunestack.minimize``,
the same runs as ``quality.py``, read from its JSON with ``--sequential-from``), their ratio, and the
median over batches of the smallest pairwise distance between the asks of one batch (unit-cube
vectors), to show that pending asks spread out.
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np


def run_batched(problem, seed: int, evals: int, batch: int, kwargs: dict | None = None,  # noqa: ANN001
                ) -> tuple[float, float]:
    from tunestack.searchers import create

    s = create("rfbo", problem.space, seed=seed, **(kwargs or {}))
    best, spreads = math.inf, []
    while len(s.trials) < evals:
        sugs = [s.ask() for _ in range(min(batch, evals - len(s.trials)))]
        V = np.array([sg.vector for sg in sugs], dtype=float)
        if len(V) > 1:
            d = np.sqrt(((V[:, None, :] - V[None, :, :]) ** 2).sum(-1))
            spreads.append(float(d[np.triu_indices(len(V), 1)].min()))
        for sg in sugs:
            v = problem.fn(sg.config)
            best = min(best, v)
            s.tell(sg.id, v)
    return problem.regret(best), float(np.median(spreads))


def run_sequential(problem, seed: int, evals: int) -> float:  # noqa: ANN001
    import tunestack

    res = tunestack.minimize(problem.fn, problem.space, searcher="rfbo", n_trials=evals, seed=seed)
    return problem.regret(min(res.values()))


def main() -> None:
    from benchmarks.searchers.problems import PROBLEMS

    ap = argparse.ArgumentParser()
    ap.add_argument("--problems", default="branin,hartmann6,levy10")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--evals", type=int, default=100)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--sequential-from", default=None,
                    help="quality.py JSON whose 'rfbo' runs (same seeds and evals) give the sequential numbers")
    ap.add_argument("--kw", default="{}", help="JSON keyword arguments of the batched rfbo searcher")
    a = ap.parse_args()
    stored = json.loads(Path(a.sequential_from).read_text()) if a.sequential_from else {}
    print(f"{'problem':18s}{'batch':>12s}{'sequential':>12s}{'ratio':>8s}{'min dist':>10s}")
    for name in a.problems.split(","):
        p = PROBLEMS[name]
        par = [run_batched(p, s, a.evals, a.batch, json.loads(a.kw)) for s in range(a.seeds)]
        seq = [p.regret(stored[k]["traj"][-1]) if (k := f"rfbo|rfbo|{{}}|{name}|{s}|{a.evals}") in stored
               else run_sequential(p, s, a.evals) for s in range(a.seeds)]
        mb, ms = float(np.median([r for r, _ in par])), float(np.median(seq))
        print(f"{name:18s}{mb:12.4g}{ms:12.4g}{mb / ms if ms > 0 else math.inf:8.2f}"
              f"{np.median([d for _, d in par]):10.3f}", flush=True)


if __name__ == "__main__":
    main()
