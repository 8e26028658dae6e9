"""Time of one ask after N tells in 10 dimensions: tunestack's TPE or Optuna's TPE.

    . .venv/bin/activate && python -m benchmarks.tpe.latency --impl tunestack
    PYTHONPATH=. .bench-venv-tpe/bin/python -m benchmarks.tpe.latency --impl optuna

The N tells are random configurations of a 10-dimensional box with the sphere function as value; then
21 rounds of ask (timed) and tell (not timed), medians reported in milliseconds of wall time and of
process CPU time (the machine is shared; CPU time is the steadier figure).
"""
from __future__ import annotations

import argparse
import time
from typing import Callable

import numpy as np

D = 10


def _sphere(x: np.ndarray) -> float:
    return float(np.sum((x - 2.5) ** 2))


def tunestack_asker(n: int, multivariate: bool) -> Callable[[], None]:
    import ConfigSpace as CS

    from tunestack.searchers import create

    cs = CS.ConfigurationSpace()
    cs.add([CS.Float(f"x{i}", (-5.0, 10.0)) for i in range(D)])
    s = create("tpe", cs, seed=0, multivariate=multivariate)
    rng = np.random.default_rng(0)
    for _ in range(n):
        x = rng.uniform(-5, 10, D)
        s.add_observation({f"x{i}": float(v) for i, v in enumerate(x)}, _sphere(x))

    def step() -> float:
        t = time.perf_counter(), time.process_time()
        sug = s.ask()
        dt = time.perf_counter() - t[0], time.process_time() - t[1]
        s.tell(sug.id, _sphere(np.array([sug.config[f"x{i}"] for i in range(D)])))
        return dt

    return step


def optuna_asker(n: int, multivariate: bool) -> Callable[[], None]:
    import optuna
    from optuna.distributions import FloatDistribution

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    dists = {f"x{i}": FloatDistribution(-5.0, 10.0) for i in range(D)}
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0, multivariate=multivariate))
    rng = np.random.default_rng(0)
    for _ in range(n):
        x = rng.uniform(-5, 10, D)
        study.add_trial(optuna.trial.create_trial(params={f"x{i}": float(v) for i, v in enumerate(x)},
                                                  distributions=dists, value=_sphere(x)))

    def step() -> float:
        t = time.perf_counter(), time.process_time()
        trial = study.ask(dists)
        dt = time.perf_counter() - t[0], time.process_time() - t[1]
        study.tell(trial, _sphere(np.array([trial.params[f"x{i}"] for i in range(D)])))
        return dt

    return step


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--impl", choices=["tunestack", "optuna"], default="tunestack")
    ap.add_argument("--n", type=int, nargs="*", default=[100, 1000, 5000])
    args = ap.parse_args()
    make = tunestack_asker if args.impl == "tunestack" else optuna_asker
    for multivariate in (True, False):
        for n in args.n:
            step = make(n, multivariate)
            times = np.array([step() for _ in range(21)])
            print(f"{args.impl} multivariate={multivariate} N={n}: ask median {1e3 * np.median(times[:, 0]):.2f} ms "
                  f"wall, {1e3 * np.median(times[:, 1]):.2f} ms CPU", flush=True)


if __name__ == "__main__":
    main()
