"""Shared pieces of the multi-fidelity benchmarks: cached evaluation, the budget ledger, trajectories and
a plain-JSON description of a search space (for peer workers that run under another ConfigSpace).

Budget is counted in **full-evaluation equivalents**: the epochs (MLP) or boosting iterations (GBM)
actually trained, divided by ``max_budget``.  The benchmarks evaluate at whole budgets (a budget is
rounded up, ``MFBenchmark.budget_index``), so a trial trained to budget ``b`` costs ``ceil(b)``; a
trial continued from ``a`` to ``b`` costs ``ceil(b) - ceil(a)`` (resumed training counted once, as the
simulator's cost model charges it).  Peers that re-evaluate the same configuration at a larger budget
(DEHB, HpBandSter, SMAC3's Hyperband) are charged the same way: as if they kept its checkpoint.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any, Hashable, Mapping

import ConfigSpace as CS
import numpy as np

__all__ = ["BENCHMARKS", "CHECK_BENCHMARKS", "Evaluator", "Ledger", "improvements", "best_at", "space_spec", "FULL_TOL"]

BENCHMARKS = ("mlp_digits", "gbm")  # the reported ones, the default of run.py and parallel.py
CHECK_BENCHMARKS = ("forest",)  # a third model family, run only when named (--benchmarks forest)
FULL_TOL = 1e-9  # a budget within this relative distance of max_budget is a full evaluation


class Evaluator:
    """``value(config, budget)`` of a benchmark (surrogate by default), with whole curves cached per
    configuration so that a trial reporting at every epoch costs one surrogate prediction."""

    def __init__(self, name: str, mode: str = "surrogate", cache_size: int = 4096, bench: Any = None,
                 **kwargs: Any):
        from benchmarks.mf.benchmarks import config_key, load

        self.bench = load(name, mode=mode, **kwargs) if bench is None else bench  # tests pass a fake
        self.name = name
        self.min_budget, self.max_budget = self.bench.min_budget, self.bench.max_budget
        self.optimum = self.bench.optimum
        self._key = config_key
        self._cache: OrderedDict[str, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._size = cache_size

    def key(self, config: Mapping[str, Any]) -> str:
        return self._key(config)

    def curves(self, config: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        k = self._key(config)
        hit = self._cache.get(k)
        if hit is None:
            hit = self.bench.curves(config)
            self._cache[k] = hit
            if len(self._cache) > self._size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(k)
        return hit

    def whole(self, budget: float) -> int:
        """The whole budget that ``budget`` trains (rounded up, checked against the range)."""
        return self.bench.budget_index(budget)

    def value(self, config: Mapping[str, Any], budget: float) -> float:
        values, _ = self.curves(config)
        return float(values[self.whole(budget) - self.min_budget])

    def value_and_cost(self, config: Mapping[str, Any], budget: float) -> tuple[float, float]:
        """``(value, cost_seconds from scratch)`` at ``budget``: the simulator's objective."""
        values, costs = self.curves(config)
        i = self.whole(budget) - self.min_budget
        return float(values[i]), float(costs[i])

    def budget_objective(self, config: Mapping[str, Any], budget: float) -> tuple[float, float]:
        """The simulator's objective with cost = whole budget trained, so that one worker's simulated
        time divided by ``max_budget`` is exactly the budget consumed in full-evaluation equivalents."""
        return self.value(config, budget), float(self.whole(budget))


class Ledger:
    """Charges every evaluation its budget increment and records the best full-budget value against the
    budget consumed so far (full-evaluation equivalents)."""

    def __init__(self, evaluator: Evaluator, limit: float):
        self.ev, self.limit = evaluator, float(limit)
        self.trained: dict[Hashable, int] = {}  # key -> whole budget trained so far
        self.used = 0.0  # full-evaluation equivalents
        self.n_evals = 0
        self.full_values: list[tuple[float, float]] = []  # (budget used after it, value), full budgets

    @property
    def exhausted(self) -> bool:
        return self.used >= self.limit - 1e-12

    def evaluate(self, config: Mapping[str, Any], budget: float, key: Hashable | None = None) -> float:
        """The value at ``budget``; charges ``ceil(budget)`` minus what ``key`` (default: the
        configuration itself) has trained already."""
        b = self.ev.whole(budget)
        k = self.ev.key(config) if key is None else key
        before = self.trained.get(k, 0)
        if b > before:
            self.trained[k] = b
            self.used += (b - before) / self.ev.max_budget
        self.n_evals += 1
        v = self.ev.value(config, budget)
        if float(budget) >= self.ev.max_budget * (1 - FULL_TOL):
            self.full_values.append((self.used, v))
        return v

    def improvements(self) -> list[list[float]]:
        return improvements(self.full_values)


def improvements(points: list[tuple[float, float]]) -> list[list[float]]:
    """``[[budget used, best value so far], ...]`` at each strict improvement (nan values skipped)."""
    out, best = [], math.inf
    for x, v in points:
        if math.isfinite(v) and v < best:
            best = v
            out.append([float(x), float(v)])
    return out


def best_at(imps: list[list[float]], x: float) -> float:
    """The best value reached by budget ``x`` (``inf`` before the first full evaluation)."""
    best = math.inf
    for xi, v in imps:
        if xi <= x + 1e-9:
            best = v
        else:
            break
    return best


# ---- a plain description of a ConfigSpace, rebuilt by the peer worker under its own ConfigSpace ------
def space_spec(cs: CS.ConfigurationSpace) -> dict:
    """Hyperparameters (float, int, categorical, ordinal) and equality conditions as plain JSON."""
    params = []
    for hp in cs.values():
        d: dict[str, Any] = {"name": hp.name}
        if isinstance(hp, CS.OrdinalHyperparameter):
            d.update(type="ordinal", sequence=[_plain(v) for v in hp.sequence])
        elif isinstance(hp, CS.CategoricalHyperparameter):
            d.update(type="categorical", choices=[_plain(v) for v in hp.choices])
        elif isinstance(hp, CS.UniformIntegerHyperparameter):
            d.update(type="int", lower=int(hp.lower), upper=int(hp.upper), log=bool(hp.log))
        elif isinstance(hp, CS.UniformFloatHyperparameter):
            d.update(type="float", lower=float(hp.lower), upper=float(hp.upper), log=bool(hp.log))
        else:
            raise TypeError(f"space_spec: unsupported hyperparameter {hp.name!r} ({type(hp).__name__})")
        d["default"] = _plain(hp.default_value)
        params.append(d)
    conds = []
    for c in cs.conditions:
        if not isinstance(c, CS.EqualsCondition):
            raise TypeError(f"space_spec: only EqualsCondition is supported, got {type(c).__name__}")
        conds.append({"child": c.child.name, "parent": c.parent.name, "value": _plain(c.value)})
    if list(cs.forbidden_clauses):
        raise TypeError("space_spec: forbidden clauses are not supported")
    return {"params": params, "conditions": conds}


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v
