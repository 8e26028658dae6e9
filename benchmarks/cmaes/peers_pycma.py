"""pycma (the ``cma`` package) on the same problems, in the unit cube with sigma0 = 0.3 and bounds [0, 1].

    python3 -m venv .bench-venv-cma && .bench-venv-cma/bin/pip install cma numpy ConfigSpace
    nice -n 10 .bench-venv-cma/bin/python -m benchmarks.cmaes.peers_pycma --seeds 10

Two variants: ``pycma`` (one run, default stopping rules; if it stops early the remaining budget goes
to a fresh run at a new random x0 with the same population) and ``pycma-ipop`` (``cma.fmin2`` with
IPOP restarts: ``restarts=9, incpopsize=2``).  Initial means are uniform random in the cube, as in
tunestack's ``cmaes`` (``x0="random"``).  Writes ``benchmarks/cmaes/results/pycma.json``.
"""
from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from .common import CHECKPOINTS, best_so_far, problems, save

warnings.filterwarnings("ignore")
import cma  # noqa: E402  (imported after silencing its matplotlib warning)


class _Budget(Exception):
    pass


def _objective(problem, budget: int, regrets: list[float]):
    from .common import unit_to_config

    def f(u) -> float:
        if len(regrets) >= budget:
            raise _Budget
        value = problem.fn(unit_to_config(problem, np.asarray(u)))
        regrets.append(problem.regret(value))
        return value

    return f


def run_ipop(problem, seed: int, budget: int) -> list[float]:
    d = len(list(problem.space.values()))
    rng = np.random.default_rng(seed)
    regrets: list[float] = []
    opts = {"bounds": [0, 1], "seed": seed + 1, "verbose": -9}
    try:
        cma.fmin2(_objective(problem, budget, regrets), lambda: rng.random(d), 0.3, opts, restarts=9,
                  incpopsize=2)
    except _Budget:
        pass
    return regrets


def run_plain(problem, seed: int, budget: int) -> list[float]:
    d = len(list(problem.space.values()))
    rng = np.random.default_rng(seed)
    regrets: list[float] = []
    f = _objective(problem, budget, regrets)
    k = 0
    try:
        while len(regrets) < budget:
            es = cma.CMAEvolutionStrategy(rng.random(d), 0.3, {"bounds": [0, 1], "seed": seed + 1 + 1000 * k,
                                                               "verbose": -9})
            while not es.stop():
                X = es.ask()
                es.tell(X, [f(x) for x in X])
            k += 1
    except _Budget:
        pass
    return regrets


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--problems", nargs="*", default=None)
    args = ap.parse_args()
    budget = max(CHECKPOINTS)
    rows = []
    for pname, prob in problems(args.problems).items():
        for name, run in (("pycma", run_plain), ("pycma-ipop", run_ipop)):
            t0 = time.perf_counter()
            for seed in range(args.seeds):
                regrets = run(prob, seed, budget)
                assert len(regrets) == budget, f"{name} used {len(regrets)} of {budget} evaluations"
                rows.append({"problem": pname, "optimizer": name, "seed": seed,
                             "cma_version": cma.__version__, "best_regret": best_so_far(regrets)})
            print(f"{pname:18s} {name:10s} {time.perf_counter() - t0:6.1f}s", flush=True)
    print("wrote", save("pycma", rows))


if __name__ == "__main__":
    main()
