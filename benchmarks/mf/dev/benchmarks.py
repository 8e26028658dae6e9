"""The development benchmarks by name: ``synth0`` .. ``synth5`` (:mod:`.synthetic`) and ``sgd_dev``
(:mod:`.sgd`, a learning-curve table with the surrogate of ``benchmarks/mf/surrogate.py``).

Each has the interface ``benchmarks.multifidelity.common.Evaluator`` needs (``space``, ``search_space``,
``min_budget``, ``max_budget``, ``optimum``, ``curves(config)``, ``budget_index(budget)``), so the
harness runs them exactly as the reported benchmarks: ``Evaluator(name, bench=load(name))``.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Mapping

import numpy as np

from tunestack.space import SearchSpace

from ..surrogate import CurveSurrogate, SurrogateSettings
from ..table import DATA_DIR, load_table
from . import sgd
from .synthetic import INSTANCES, SyntheticMF

__all__ = ["NAMES", "load", "TableBench"]

NAMES = tuple(f"synth{i}" for i in INSTANCES) + ("sgd_dev",)


class TableBench:
    """A table of curves evaluated anywhere in its space by a forest surrogate (mean curves)."""

    def __init__(self, name: str, space_fn: Any, seed: int = 0):
        self.name = name
        self.table = load_table(DATA_DIR / "dev" / f"{name}.json.gz")
        self.space = space_fn()
        self.search_space = SearchSpace.from_configspace(self.space)
        self.min_budget, self.max_budget = int(self.table.budgets[0]), int(self.table.budgets[-1])
        values = self.table.metrics["val_error"]
        self.optimum = float(np.nanmin(values[:, -1]))
        X = self.search_space.encode_many(self.table.configs)
        self.surrogate = CurveSurrogate(SurrogateSettings(target="logit"), seed=seed).fit(
            X, values, self.table.metrics["cpu_seconds"])

    def curves(self, config: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        flat = self.search_space.validate(config, flat=True)
        curve, secs = self.surrogate.predict_one(self.search_space.encode(flat)[0])
        return curve.copy(), np.cumsum(secs)

    def budget_index(self, budget: float) -> int:
        b = float(budget)
        if not (0 < b <= self.max_budget + 1e-9):
            raise ValueError(f"budget {budget!r} outside (0, {self.max_budget}]")
        return max(self.min_budget, min(self.max_budget, int(np.ceil(b - 1e-9))))


@lru_cache(maxsize=None)
def load(name: str) -> Any:
    if name.startswith("synth") and name[5:].isdigit():
        return SyntheticMF(int(name[5:]))
    if name == "sgd_dev":
        return TableBench("sgd_dev", sgd.config_space)
    raise ValueError(f"unknown dev benchmark {name!r}; one of {list(NAMES)}")
