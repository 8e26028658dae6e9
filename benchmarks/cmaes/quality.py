"""tunestack's ``cmaes`` and ``random`` on the continuous problems: best regret at 50/100/200/500 evals.

    nice -n 10 python -m benchmarks.cmaes.quality --seeds 10      # in the project's .venv

Writes ``benchmarks/cmaes/results/tunestack.json``; ``python -m benchmarks.cmaes.summarize`` compares it
with pycma (``benchmarks/cmaes/peers_pycma.py``).
"""
from __future__ import annotations

import argparse
import time

from tunestack.searchers import create

from .common import CHECKPOINTS, best_so_far, problems, save


def run_one(searcher: str, problem, seed: int, budget: int) -> list[float]:
    s = create(searcher, problem.space, seed=seed)
    regrets = []
    for _ in range(budget):
        sug = s.ask()
        value = problem.fn(sug.config)
        s.tell(sug.id, value)
        regrets.append(problem.regret(value))
    return regrets


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--searchers", nargs="+", default=["cmaes", "random"])
    ap.add_argument("--problems", nargs="*", default=None)
    args = ap.parse_args()
    budget = max(CHECKPOINTS)
    rows = []
    for pname, prob in problems(args.problems).items():
        for searcher in args.searchers:
            t0 = time.perf_counter()
            for seed in range(args.seeds):
                rows.append({"problem": pname, "optimizer": searcher, "seed": seed,
                             "best_regret": best_so_far(run_one(searcher, prob, seed, budget))})
            print(f"{pname:18s} {searcher:8s} {time.perf_counter() - t0:6.1f}s", flush=True)
    print("wrote", save("tunestack", rows))


if __name__ == "__main__":
    main()
