"""Latency of one rfbo ask after N tells in 10 dimensions (Ackley-10 values of random configurations).

    nice -n 10 python -m benchmarks.rfbo.latency --n 100 1000 5000 --asks 10

For each N: a fresh searcher gets N observations (``add_observation``), then ``--asks`` times one ask
is timed and the suggestion told; prints wall and CPU time of the process per ask (on a shared,
overloaded machine the CPU time is the better estimate of the time on a free core).  ``--smac`` times
SMAC3's HPO facade ask the same way; run that with the SMAC environment's python (see ``smac_runs.py``).
SMAC3 retrains its model only every 8th ask (its config selector's ``retrain_after``) and serves the
challengers found then in between, so compare its mean over >= 16 asks (the amortized cost) and its max
(an ask with a retrain), not its median.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def _problem():  # noqa: ANN202
    from benchmarks.searchers.problems import continuous_problems

    return continuous_problems()["ackley10"]


def time_rfbo(n: int, asks: int, seed: int = 0) -> tuple[list[float], list[float]]:
    from tunestack.searchers import create

    p = _problem()
    s = create("rfbo", p.space, seed=seed)
    rng = np.random.default_rng(seed)
    for c in s.space.sample(rng, n):
        s.add_observation(c, p.fn(c))
    out, cpu = [], []
    for _ in range(asks):
        t, c = time.perf_counter(), time.process_time()
        sug = s.ask()
        out.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
        s.tell(sug.id, p.fn(sug.config))
    return out, cpu


def time_smac(n: int, asks: int, seed: int = 0) -> tuple[list[float], list[float]]:
    import tempfile
    from pathlib import Path

    from smac import HyperparameterOptimizationFacade, Scenario
    from smac.runhistory.dataclasses import TrialInfo, TrialValue

    p = _problem()
    with tempfile.TemporaryDirectory() as tmp:
        sc = Scenario(p.space, deterministic=True, n_trials=n + asks + 10, seed=seed,
                      output_directory=Path(tmp) / "smac")
        smac = HyperparameterOptimizationFacade(
            sc, lambda config, seed=0: 0.0, overwrite=True, logging_level=40,
            initial_design=HyperparameterOptimizationFacade.get_initial_design(sc, n_configs=0))
        p.space.seed(seed)
        for c in p.space.sample_configuration(n):
            smac.tell(TrialInfo(c, seed=0), TrialValue(cost=p.fn(dict(c))))
        out, cpu = [], []
        for _ in range(asks):
            t, c = time.perf_counter(), time.process_time()
            info = smac.ask()
            out.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
            smac.tell(info, TrialValue(cost=p.fn(dict(info.config))))
    return out, cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, nargs="+", default=[100, 1000, 5000])
    ap.add_argument("--asks", type=int, default=10)
    ap.add_argument("--smac", action="store_true")
    a = ap.parse_args()
    fn = time_smac if a.smac else time_rfbo
    for n in a.n:
        ts, cpu = fn(n, a.asks)
        print(f"{'smac' if a.smac else 'rfbo'} N={n}: wall median {1e3 * statistics.median(ts):.1f} ms "
              f"(min {1e3 * min(ts):.1f}, mean {1e3 * statistics.mean(ts):.1f}, max {1e3 * max(ts):.1f}), "
              f"CPU time median {1e3 * statistics.median(cpu):.1f} ms (mean {1e3 * statistics.mean(cpu):.1f}, "
              f"max {1e3 * max(cpu):.1f}) over {len(ts)} asks", flush=True)


if __name__ == "__main__":
    main()
