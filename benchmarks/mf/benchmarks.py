"""Multi-fidelity benchmarks from real training runs: tabular replay or a surrogate of the whole space.

```python
from benchmarks.mf.benchmarks import load
bench = load("mlp_digits", mode="surrogate", seed=0)     # or "gbm"; mode="tabular" for exact replays
value, cost = bench.objective(config, budget=12)          # val error at epoch 12, seconds from scratch
regret = value - bench.optimum
```

``objective(config, budget) -> (value, cost_seconds)`` follows the simulator's convention
(``tunestack.platform.simulator``): the value observed at ``budget`` (rounded up to a whole epoch or
boosting iteration) and the cost of training from scratch to it, the sum of the per-step seconds up to
that budget.  Values are minimized (validation error).  ``cost="cpu_seconds"`` (default) counts the CPU
time of the one training thread, ``cost="seconds"`` the measured wall time, which the shared machine's
load inflated ~2-5.5x at random (see README.md).

* ``mode="tabular"``: only configurations of the table can be evaluated (``sample_configs`` draws them,
  ``configs`` lists them); the values and costs are the measured ones, exactly.
* ``mode="surrogate"``: any configuration of ``space`` is evaluated by forests fit on the table at load
  time (see ``surrogate.py``; held-out quality in ``README.md``).  ``noise=True`` draws each
  configuration's curve from one tree of the forest, chosen by ``(seed, config)``; ``objective(...,
  seed=k)`` gives the k-th noisy replicate.  ``noise_scale`` in (0, 1] shrinks it towards the mean
  curve (``mean + scale * (tree - mean)``): the spread between trees is ~2-3x the measured seed-to-seed
  spread (README.md), so ``noise_scale=0.35`` roughly matches a rerun with another seed.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Mapping

import ConfigSpace as CS
import numpy as np

from tunestack.space import SearchSpace

from . import generate_forest, generate_gbm, generate_mlp_digits
from .surrogate import CurveSurrogate, SurrogateSettings
from .table import DATA_DIR, Table, load_table

__all__ = ["MFBenchmark", "BenchmarkError", "load", "NAMES", "config_key"]


class BenchmarkError(ValueError):
    """A configuration, budget or option the benchmark cannot evaluate; the message says which."""


@dataclass(frozen=True)
class _Spec:
    space: Callable[[], CS.ConfigurationSpace]
    metrics: tuple[str, ...]
    default_metric: str


_SPECS: dict[str, _Spec] = {
    "mlp_digits": _Spec(generate_mlp_digits.config_space, ("val_error", "val_loss", "train_loss"),
                        "val_error"),
    "gbm": _Spec(generate_gbm.config_space, ("val_error", "val_logloss"), "val_error"),
    # a third family, made as a check (2026-12-06); not one of the reported one-worker benchmarks
    "forest": _Spec(generate_forest.config_space, ("val_error", "val_logloss"), "val_error"),
}
NAMES = tuple(_SPECS)
MODES = ("tabular", "surrogate")
COSTS = ("seconds", "cpu_seconds")


def config_key(config: Mapping[str, Any]) -> str:
    """A canonical string of a flat configuration (floats to 10 significant digits) for lookups."""
    def norm(v: Any) -> Any:
        if isinstance(v, float):
            return float(f"{v:.10g}")
        if isinstance(v, np.generic):
            return norm(v.item())
        return v
    return json.dumps({k: norm(config[k]) for k in sorted(config)}, sort_keys=True)


@lru_cache(maxsize=None)
def _table(name: str) -> Table:
    return load_table(DATA_DIR / f"{name}.json.gz")


@lru_cache(maxsize=16)
def _fit_surrogate(name: str, metric: str, cost: str, seed: int, settings: SurrogateSettings
                   ) -> CurveSurrogate:
    """One fit per (table, metric, cost, seed, settings) and process; the fit is deterministic."""
    table = _table(name)
    space = SearchSpace.from_configspace(_SPECS[name].space())
    return CurveSurrogate(settings, seed=seed).fit(space.encode_many(table.configs), table.metrics[metric],
                                                   table.metrics[cost])


class MFBenchmark:
    """One learning-curve benchmark (see the module docstring)."""

    def __init__(self, name: str, mode: str = "surrogate", metric: str | None = None,
                 cost: str = "cpu_seconds", seed: int = 0, noise: bool = False, noise_scale: float = 1.0,
                 settings: SurrogateSettings | None = None, surrogate: str = "et"):
        if name not in _SPECS:
            raise BenchmarkError(f"unknown benchmark {name!r}; choose one of {list(NAMES)}")
        spec = _SPECS[name]
        metric = metric or spec.default_metric
        _check_choice("mode", mode, MODES)
        _check_choice("metric", metric, spec.metrics)
        _check_choice("cost", cost, COSTS)
        if noise and mode != "surrogate":
            raise BenchmarkError("noise=True needs mode='surrogate' (the table holds one run per config)")
        self.name, self.mode, self.metric, self.cost_metric = name, mode, metric, cost
        if not 0.0 < noise_scale <= 1.0:
            raise BenchmarkError(f"noise_scale must be in (0, 1], got {noise_scale!r}")
        self.seed, self.noise, self.noise_scale = int(seed), bool(noise), float(noise_scale)
        self.table = _table(name)
        self.space: CS.ConfigurationSpace = spec.space()
        self.search_space = SearchSpace.from_configspace(self.space)
        self.min_budget = int(self.table.budgets[0])
        self.max_budget = int(self.table.budgets[-1])
        self.values: np.ndarray = self.table.metrics[metric]         # n_configs x n_budgets
        self.step_costs: np.ndarray = self.table.metrics[cost]       # seconds of each budget step
        self._row = {config_key(c): i for i, c in enumerate(self.table.configs)}
        self.surrogate: CurveSurrogate | None = None
        if mode == "surrogate":
            # ``surrogate``: the model kind when no settings are given (``"et"``, reported; ``"gp"``, a
            # check); logit scale for an error rate, log scale for a loss
            settings = settings or SurrogateSettings(kind=surrogate,
                                                     target="logit" if metric == "val_error" else "log")
            self.surrogate = _fit_surrogate(name, metric, cost, self.seed, settings)

    # ---- the table -----------------------------------------------------------------------------
    @property
    def configs(self) -> list[dict[str, Any]]:
        """All configurations of the table, in index order (copies)."""
        return [dict(c) for c in self.table.configs]

    def table_vectors(self) -> np.ndarray:
        return self.search_space.encode_many(self.table.configs)

    @property
    def optimum(self) -> float:
        """The best final (max-budget) value over the table: regret = value - optimum >= 0."""
        return float(np.nanmin(self.values[:, -1]))

    def sample_configs(self, n: int, seed: int | None = None) -> list[dict[str, Any]]:
        """``n`` configurations: distinct table rows (tabular) or draws from the space (surrogate)."""
        rng = np.random.default_rng(self.seed if seed is None else seed)
        if self.mode == "tabular":
            if n > self.table.n_configs:
                raise BenchmarkError(f"asked for {n} configurations; the {self.name} table has "
                                     f"{self.table.n_configs}")
            return [dict(self.table.configs[i]) for i in rng.permutation(self.table.n_configs)[:n]]
        return [self.search_space.decode(v) for v in self.search_space.sample_vectors(rng, n)]

    # ---- evaluation ----------------------------------------------------------------------------
    def budget_index(self, budget: float) -> int:
        """The whole budget a (possibly fractional) budget rounds up to, checked against the range."""
        try:
            b = float(budget)
        except (TypeError, ValueError):
            raise BenchmarkError(f"budget must be a number, got {budget!r}") from None
        if not math.isfinite(b) or b <= 0 or b > self.max_budget + 1e-9:
            raise BenchmarkError(f"budget {budget!r} is outside (0, {self.max_budget}] of {self.name}")
        return max(self.min_budget, min(self.max_budget, math.ceil(b - 1e-9)))

    def curves(self, config: Mapping[str, Any], seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(values, cumulative costs) of a configuration at budgets ``min_budget .. max_budget``."""
        flat = self._validate(config)
        if self.mode == "tabular":
            row = self._row.get(config_key(flat))
            if row is None:
                raise BenchmarkError(f"configuration {flat} is not in the {self.name} table; tabular mode "
                                     "evaluates table configurations only (use sample_configs or "
                                     "mode='surrogate')")
            return self.values[row].copy(), np.cumsum(self.step_costs[row])
        assert self.surrogate is not None
        vec = self.search_space.encode(flat)[0]
        curve, secs = self.surrogate.predict_one(vec)
        if self.noise:  # a convex combination of two curves in the observed range stays in it
            tree_curve = self.surrogate.predict_one(vec, self._tree(flat, seed))[0]
            curve = curve + self.noise_scale * (tree_curve - curve)
        return curve.copy(), np.cumsum(secs)

    def objective(self, config: Mapping[str, Any], budget: float, seed: int | None = None
                  ) -> tuple[float, float]:
        """(value at ``budget``, seconds to train from scratch to it)."""
        b = self.budget_index(budget)
        values, costs = self.curves(config, seed)
        return float(values[b - self.min_budget]), float(costs[b - self.min_budget])

    __call__ = objective

    # ---- helpers -------------------------------------------------------------------------------
    def _validate(self, config: Mapping[str, Any]) -> dict[str, Any]:
        try:
            return self.search_space.validate(config, flat=True)
        except ValueError as e:
            raise BenchmarkError(f"{self.name}: {e}") from None

    def _tree(self, flat: Mapping[str, Any], seed: int | None) -> int:
        assert self.surrogate is not None
        h = hashlib.sha256(f"{self.seed}|{seed}|{config_key(flat)}".encode()).digest()
        return int.from_bytes(h[:8], "little") % self.surrogate.n_trees

    def __repr__(self) -> str:
        return (f"MFBenchmark({self.name!r}, mode={self.mode!r}, configs={self.table.n_configs}, "
                f"budgets={self.min_budget}..{self.max_budget})")


def load(name: str, mode: str = "surrogate", **kwargs: Any) -> MFBenchmark:
    """A benchmark by name (``"mlp_digits"`` or ``"gbm"``); kwargs go to :class:`MFBenchmark`."""
    return MFBenchmark(name, mode=mode, **kwargs)


def _check_choice(what: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise BenchmarkError(f"unknown {what} {value!r}; choose one of {list(allowed)}")
