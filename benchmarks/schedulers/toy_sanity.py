"""A quick sanity comparison of the scheduler cores in the simulator, on a toy learning-curve objective.

Not the multi-fidelity peer benchmark: a check that each scheduler behaves as the papers say it should
on a problem where early values rank configurations imperfectly (curves cross, noise shrinks with the
budget).  Every method gets the same simulated wall-clock time on the same number of workers.

    nice -n 10 python -m benchmarks.schedulers.toy_sanity --seeds 10 --out benchmarks/schedulers/toy_sanity_results.md

``--problem mlp_digits`` (or ``gbm``) runs the same comparison on the surrogate of the learning-curve
benchmarks in ``benchmarks/mf`` (another engineer's data; values are validation errors).
"""
from __future__ import annotations

import argparse
import hashlib
import math
import time
from pathlib import Path

import ConfigSpace as CS
import numpy as np

from tunestack.platform.simulator import simulate

DIM = 6
CENTER = np.array([0.31, 0.72, 0.45, 0.18, 0.63, 0.5])
WEIGHTS = np.array([1.0, 0.8, 0.6, 0.4, 0.3, 0.2])


def space() -> CS.ConfigurationSpace:
    cs = CS.ConfigurationSpace()
    cs.add([CS.Float(f"x{i}", (0.0, 1.0)) for i in range(DIM - 2)])
    cs.add([CS.Float("lr", (1e-4, 1.0), log=True), CS.Integer("width", (16, 512), log=True)])
    return cs


def _unit(config: dict) -> np.ndarray:
    lr = (math.log10(config["lr"]) + 4) / 4
    width = math.log(config["width"] / 16) / math.log(32)
    return np.array([config[f"x{i}"] for i in range(DIM - 2)] + [lr, width])


def _noise(config: dict, budget: float) -> float:
    key = repr(sorted(config.items())) + f"|{budget:.6g}"
    seed = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little")
    return float(np.random.default_rng(seed).normal())


def objective(config: dict, budget: float) -> tuple[float, float]:
    """Validation error at ``budget`` epochs (of 81) and the seconds to train that far from scratch."""
    u = _unit(config)
    final = 0.05 + float(WEIGHTS @ (u - CENTER) ** 2) + 0.03 * (1 - math.cos(6 * math.pi * (u[0] - CENTER[0])))
    # high learning rates learn fast but plateau higher (crossing curves); wide nets learn slower
    rate = 0.25 + 0.9 * u[4] - 0.3 * u[5]
    plateau = final + 0.15 * max(0.0, u[4] - 0.7)
    value = plateau + 0.6 * budget ** (-max(rate, 0.05)) + 0.02 * _noise(config, budget) / math.sqrt(budget)
    cost = budget * (2.0 + 8.0 * u[5])  # seconds per epoch grow with the width
    return value, cost


METHODS = {
    "random + fifo": dict(searcher="random", scheduler=None),
    "random + sh": dict(searcher="random", scheduler="sh"),
    "random + hyperband": dict(searcher="random", scheduler="hyperband"),
    "random + asha": dict(searcher="random", scheduler="asha"),
    "random + asha (stopping)": dict(searcher="random", scheduler="asha", promotion=False),
    "random + async_hyperband": dict(searcher="random", scheduler="async_hyperband"),
    "tpe + fifo": dict(searcher="tpe", scheduler=None),
    "bohb (hyperband + tpe)": dict(scheduler="bohb"),
    "async_bohb": dict(scheduler="async_bohb"),
}


def _problem(name: str) -> tuple:
    """(objective, space, min_budget, max_budget, mean cost of one full run, description)."""
    if name == "toy":
        return (objective, space(), 1, 81, 81 * 6.0,
                f"Toy learning-curve objective ({DIM}-d, curves cross, noise ~ 1/sqrt(budget)); the "
                "noise-free optimum is 0.0746")
    from benchmarks.mf.benchmarks import load
    bench = load(name, mode="surrogate", seed=0)
    probe = simulate(bench.objective, bench.space, max_budget=bench.max_budget, max_evaluations=40, seed=123)
    mean_cost = sum(h["cost"] for h in probe.history) / len(probe.history)
    return (bench.objective, bench.space, bench.min_budget, bench.max_budget, mean_cost,
            f"benchmarks.mf {name!r} surrogate (validation error; best in its table {bench.optimum})")


def run(seeds: int, workers: int, full_evals: float, methods: list[str], problem: str = "toy",
        ) -> tuple[str, dict]:
    obj, sp, min_budget, max_budget, mean_full_cost, about = _problem(problem)
    max_time = full_evals * mean_full_cost / workers
    lines = [f"{about}; budgets {min_budget}..{max_budget}, eta=3, {workers} workers, {max_time:.4g} simulated "
             f"s (~{full_evals:g} full runs of worker time), {seeds} seeds.  Best value at max budget "
             "(lower is better):",
             "",
             "| method | median best @25% time | @50% | @100% | mean @100% | trials | full-eval equiv. "
             "| CPU s/run |",
             "|---|---|---|---|---|---|---|---|"]
    raw = {}
    for name in methods:
        kw = dict(METHODS[name])
        bests, quarter, half, trials, used, cpu = [], [], [], [], [], []
        for seed in range(seeds):
            t0 = time.process_time()
            r = simulate(obj, sp, min_budget=min_budget, max_budget=max_budget, eta=3, workers=workers,
                         max_time=max_time, seed=seed, **kw)
            cpu.append(time.process_time() - t0)
            worst = math.inf
            bests.append(r.best_value if r.best_value is not None else worst)
            quarter.append(r.best_at(max_time / 4) or worst)
            half.append(r.best_at(max_time / 2) or worst)
            trials.append(len(r.scheduler.trials))
            used.append(r.budget_used)
        raw[name] = bests
        lines.append(f"| {name} | {np.median(quarter):.4f} | {np.median(half):.4f} | {np.median(bests):.4f} "
                     f"| {np.mean(bests):.4f} | {np.median(trials):.0f} | {np.median(used):.1f} "
                     f"| {np.median(cpu):.2f} |")
        print(lines[-1], flush=True)
    return "\n".join(lines) + "\n", raw


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--full-evals", type=float, default=40.0)
    ap.add_argument("--methods", nargs="*", default=list(METHODS))
    ap.add_argument("--problem", default="toy", choices=["toy", "mlp_digits", "gbm"])
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    text, _ = run(args.seeds, args.workers, args.full_evals, args.methods, args.problem)
    if args.out is not None:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
