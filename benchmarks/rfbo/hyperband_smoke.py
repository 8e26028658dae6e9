"""Smoke check of rfbo as Hyperband's searcher (SMAC's multi-fidelity mode, BOHB-style composition).

    nice python -m benchmarks.rfbo.hyperband_smoke

Hartmann-6 with a budget-dependent distortion (amplitude 0.5 / budget) as the fidelity; the simulator
(`tunestack.platform.simulator.simulate`) runs Hyperband (max_budget 27, eta 3) with 4 simulated workers
for 300 reports; prints the regret of the best value reported (at any budget) per seed.
"""
from __future__ import annotations

import math

from benchmarks.searchers.problems import PROBLEMS
from tunestack.platform.simulator import simulate


def main() -> None:
    p = PROBLEMS["hartmann6"]

    def objective(config: dict, budget: float) -> tuple[float, float]:
        return p.fn(config) + 0.5 / budget * math.sin(13 * sum(config.values())), budget

    for searcher in ("rfbo", "random"):
        regrets = [simulate(objective, p.space, searcher=searcher, scheduler="hyperband", max_budget=27,
                            workers=4, max_evaluations=300, seed=s).best_value - p.optimum for s in range(3)]
        print(searcher, [round(r, 4) for r in regrets])


if __name__ == "__main__":
    main()
