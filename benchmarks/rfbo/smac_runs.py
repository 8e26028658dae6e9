"""SMAC3's hyperparameter-optimization facade on the same problems, for the rfbo comparison.

Runs in its own environment (SMAC is never a tunestack dependency):

    python3.11 -m venv .bench-venv-rfbo && .bench-venv-rfbo/bin/pip install smac==2.4.1 ConfigSpace==1.2.2
    nice -n 10 .bench-venv-rfbo/bin/python -m benchmarks.rfbo.smac_runs --problems suite --seeds 10 \
        --evals 100 --out benchmarks/rfbo/results/smac_suite.json

SMAC setting: ``HyperparameterOptimizationFacade`` with its defaults (random forest on log-scaled costs,
log-EI, local + sorted random search, Sobol initial design of min(10 * dim, 25% of the trials),
random-design probability 0.2), ``Scenario(deterministic=True, n_trials=evals, seed=s)`` so that it
does not spend evaluations re-running configurations of these deterministic functions.  The stored
trajectories have the same format as ``benchmarks/rfbo/quality.py``'s, under the label ``smac``.
"""
from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import numpy as np


def run_smac(problem, seed: int, evals: int) -> list[float]:  # noqa: ANN001
    from smac import HyperparameterOptimizationFacade, Scenario

    values: list[float] = []

    def target(config, seed: int = 0) -> float:  # noqa: ANN001
        v = float(problem.fn(dict(config)))
        values.append(v if math.isfinite(v) else math.inf)
        return v

    with tempfile.TemporaryDirectory() as tmp:
        scenario = Scenario(problem.space, deterministic=True, n_trials=evals, seed=seed,
                            output_directory=Path(tmp) / "smac")
        smac = HyperparameterOptimizationFacade(scenario, target, overwrite=True, logging_level=40)
        smac.optimize()
    values = values[:evals] + [values[-1]] * max(0, evals - len(values))
    return np.minimum.accumulate(values).tolist()


def main() -> None:
    from benchmarks.rfbo.quality import _problems

    ap = argparse.ArgumentParser()
    ap.add_argument("--problems", default="suite")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--evals", type=int, default=100)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    out = Path(a.out)
    store = json.loads(out.read_text()) if out.exists() else {}
    for pname, p in _problems(a.problems).items():
        for s in range(a.seeds):
            key = f"smac|smac|{{}}|{pname}|{s}|{a.evals}"
            if key in store:
                continue
            t0 = time.perf_counter()
            p.space.seed(s)
            traj = run_smac(p, s, a.evals)
            store[key] = {"traj": traj, "seconds": time.perf_counter() - t0}
            print(pname, s, f"{traj[-1]:.5g}", f"{store[key]['seconds']:.0f}s", flush=True)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(store))


if __name__ == "__main__":
    main()
