"""A family of synthetic multi-fidelity problems with learning curves, for developing the schedulers.

Not one of the reported benchmarks: the BOHB settings are chosen on these and on :mod:`.sgd`.  Each
``instance`` (an integer) draws its own optimum locations, weights, curve speeds, overfitting and noise,
and its own ``max_budget`` (40, 81 or 100 epochs: different rung ladders for eta = 3), so that a choice
made on them is not a choice for one rung ladder or one landscape.

The space mimics a neural-network tuning problem (9 parameters, one conditional, mixed types).  A
configuration ``x`` has

* an asymptotic error ``f(x)``: quadratic penalties around instance-specific optima in the unit-cube
  coordinates, with interactions (the best learning rate depends on the batch size and the optimizer,
  the best weight decay on the capacity), a few Gaussian bumps (several local optima) and two nuisance
  parameters that hardly matter;
* a convergence time ``tau(x)``: a high (effective) learning rate converges fast, capacity and dropout
  slow it down, so low budgets favour fast configurations that are not the best in the end;
* overfitting: large capacity with little regularisation gets worse after a point of the budget;
* noise: a per-configuration offset (run-to-run variation) and AR(1) noise along the curve, both a
  pure function of ``(instance, configuration)``, so re-evaluating a configuration gives the same curve.

``v(x, b) = f(x) + (0.9 - f(x)) * (1 + b / tau(x)) ** -p + overfit(x, b) + noise(x, b)``, clipped to
[0.005, 0.95].  ``optimum`` is the best final value over a 2**14-point Sobol sample of the space (the
analogue of a table's best), so a regret can be slightly negative.
"""
from __future__ import annotations

import hashlib
import json
from functools import cached_property
from typing import Any, Mapping

import ConfigSpace as CS
import numpy as np

from tunestack.space import SearchSpace

__all__ = ["SyntheticMF", "config_space", "INSTANCES"]

INSTANCES = (0, 1, 2, 3, 4, 5)
_MAX_BUDGETS = (40, 81, 100)


def config_space() -> CS.ConfigurationSpace:
    cs = CS.ConfigurationSpace(name="synthetic_mf")
    opt = CS.Categorical("optimizer", ["sgd", "adam", "rmsprop"], default="adam")
    momentum = CS.Float("momentum", (0.0, 0.99), default=0.9)
    cs.add([
        CS.Float("lr", (1e-5, 1.0), log=True, default=1e-3),
        opt, momentum,
        CS.OrdinalHyperparameter("batch_size", [16, 32, 64, 128, 256], default_value=64),
        CS.Integer("width", (8, 1024), log=True, default=64),
        CS.Integer("depth", (1, 5), default=2),
        CS.Float("weight_decay", (1e-7, 1e-1), log=True, default=1e-4),
        CS.Float("dropout", (0.0, 0.8), default=0.1),
        CS.Categorical("activation", ["relu", "tanh", "gelu"], default="relu"),
        CS.Float("warmup", (0.0, 1.0), default=0.1),  # a nuisance parameter
    ])
    cs.add([CS.EqualsCondition(momentum, opt, "sgd")])
    return cs


class SyntheticMF:
    """One instance of the family; the benchmark interface of ``benchmarks.multifidelity.common``."""

    def __init__(self, instance: int = 0):
        self.instance = int(instance)
        self.name = f"synth{self.instance}"
        self.space = config_space()
        self.search_space = SearchSpace.from_configspace(self.space)
        rng = np.random.default_rng([20261203, self.instance])
        self.min_budget, self.max_budget = 1, int(_MAX_BUDGETS[self.instance % len(_MAX_BUDGETS)])
        p = {}
        p["c_lr"] = rng.uniform(0.45, 0.75)  # optimal effective lr in unit coordinates
        p["w_lr"] = rng.uniform(4, 10)
        p["opt_shift"] = rng.uniform(-0.12, 0.12, 3) + np.array([0.1, -0.12, -0.08])  # per optimizer
        p["opt_off"] = rng.uniform(0.0, 0.25, 3)
        p["batch_lr"] = rng.uniform(0.05, 0.2)
        p["c_cap"] = rng.uniform(0.45, 0.8)
        p["w_cap"] = rng.uniform(2, 5)
        p["c_wd"] = rng.uniform(0.3, 0.7)
        p["w_wd"] = rng.uniform(1.5, 4)
        p["wd_cap"] = rng.uniform(0.2, 0.5)
        p["c_drop"] = rng.uniform(0.1, 0.4)
        p["w_drop"] = rng.uniform(0.5, 2.0)
        p["c_mom"] = rng.uniform(0.75, 0.95)
        p["w_mom"] = rng.uniform(2, 6)
        p["act_off"] = rng.uniform(0.0, 0.2, 3)
        p["bumps"] = rng.uniform(0.1, 0.9, (4, 3))  # centres in (lr, width, weight_decay)
        p["bump_depth"] = rng.uniform(0.1, 0.35, 4)
        p["bump_width"] = rng.uniform(0.06, 0.15, 4)
        p["floor"] = rng.uniform(0.02, 0.08)
        p["scale"] = rng.uniform(0.12, 0.3)
        p["tau0"] = rng.uniform(0.02, 0.08)  # convergence time as a fraction of max_budget
        p["k_lr"] = rng.uniform(3, 6)
        p["pow"] = rng.uniform(0.7, 1.6)
        p["overfit"] = rng.uniform(0.05, 0.3)
        p["noise"] = rng.uniform(0.002, 0.012)
        p["offset_noise"] = rng.uniform(0.002, 0.01)
        self.p = p

    # ---- the model of a curve ---------------------------------------------------------------------
    def _unit(self, config: Mapping[str, Any]) -> dict[str, float]:
        """Unit-cube coordinates of the parameters (log scales as in the space)."""
        lo_hi = {"lr": (1e-5, 1.0), "width": (8, 1024), "weight_decay": (1e-7, 1e-1)}
        u = {k: (np.log(float(config[k])) - np.log(a)) / (np.log(b) - np.log(a)) for k, (a, b) in lo_hi.items()}
        u["batch"] = [16, 32, 64, 128, 256].index(int(config["batch_size"])) / 4
        u["depth"] = (int(config["depth"]) - 1) / 4
        u["dropout"] = float(config["dropout"]) / 0.8
        u["warmup"] = float(config["warmup"])
        u["momentum"] = float(config.get("momentum", 0.0)) / 0.99
        return u

    def _terms(self, config: Mapping[str, Any]) -> tuple[float, float, float]:
        """(asymptotic error, convergence time in budget units, overfitting amplitude)."""
        p, u = self.p, self._unit(config)
        oi = ["sgd", "adam", "rmsprop"].index(config["optimizer"])
        ai = ["relu", "tanh", "gelu"].index(config["activation"])
        lr_eff = u["lr"] - p["opt_shift"][oi] - p["batch_lr"] * (u["batch"] - 0.5)
        if oi == 0:  # momentum multiplies the effective step of SGD
            lr_eff += 0.25 * u["momentum"] - 0.2
        cap = 0.6 * u["width"] + 0.4 * u["depth"]
        pen = p["w_lr"] * (lr_eff - p["c_lr"]) ** 2 + p["opt_off"][oi] + p["act_off"][ai]
        pen += p["w_cap"] * max(0.0, p["c_cap"] - cap) ** 2  # too little capacity underfits
        pen += p["w_wd"] * (u["weight_decay"] - p["c_wd"] - p["wd_cap"] * (cap - 0.5)) ** 2
        pen += p["w_drop"] * (u["dropout"] - p["c_drop"]) ** 2 + 0.02 * (u["warmup"] - 0.3) ** 2
        if oi == 0:
            pen += p["w_mom"] * (u["momentum"] - p["c_mom"]) ** 2
        z = np.array([lr_eff, u["width"], u["weight_decay"]])
        bump = np.sum(p["bump_depth"] * np.exp(-np.sum((p["bumps"] - z) ** 2, axis=1) / (2 * p["bump_width"] ** 2)))
        f = p["floor"] + (0.85 - p["floor"]) * (1.0 - np.exp(-p["scale"] * pen)) * (1.0 - 0.5 * min(bump, 1.0))
        # high effective lr converges fast; capacity, dropout and small batches (noisy steps) slow it down
        tau = self.max_budget * p["tau0"] * np.exp(p["k_lr"] * (p["c_lr"] - lr_eff) + 1.2 * cap
                                                   + 1.0 * u["dropout"] - 0.5 * u["batch"])
        # large capacity with little regularisation overfits late in training
        reg = 0.6 * u["weight_decay"] + 0.8 * u["dropout"]
        over = p["overfit"] * max(0.0, cap - 0.4) * max(0.0, 0.7 - reg)
        return float(f), float(tau), float(over)

    def _noise(self, config: Mapping[str, Any], n: int) -> np.ndarray:
        key = json.dumps({k: (round(float(v), 10) if isinstance(v, (int, float, np.number)) and not
                              isinstance(v, bool) else v) for k, v in sorted(config.items())})
        h = hashlib.sha256(f"{self.instance}|{key}".encode()).digest()
        rng = np.random.default_rng(int.from_bytes(h[:8], "little"))
        e = rng.standard_normal(n)
        ar = np.empty(n)
        ar[0] = e[0]
        for i in range(1, n):
            ar[i] = 0.7 * ar[i - 1] + np.sqrt(1 - 0.49) * e[i]
        return self.p["offset_noise"] * rng.standard_normal() + self.p["noise"] * ar

    def curves(self, config: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """(values at budgets min..max, cumulative cost = the budget itself)."""
        config = self.search_space.validate(config, flat=True)
        f, tau, over = self._terms(config)
        b = np.arange(self.min_budget, self.max_budget + 1, dtype=float)
        v = f + (0.9 - f) * (1.0 + b / tau) ** (-self.p["pow"])
        v += over * np.maximum(0.0, b / self.max_budget - 0.35) ** 1.5
        v += self._noise(config, len(b))
        return np.clip(v, 0.005, 0.95), b.copy()

    def budget_index(self, budget: float) -> int:
        b = float(budget)
        if not (0 < b <= self.max_budget + 1e-9):
            raise ValueError(f"budget {budget!r} outside (0, {self.max_budget}]")
        return max(self.min_budget, min(self.max_budget, int(np.ceil(b - 1e-9))))

    @cached_property
    def optimum(self) -> float:
        from tunestack.searchers.initial_design import sobol_design

        vecs = sobol_design(self.search_space, 2 ** 14, 12345 + self.instance)
        return float(min(self.curves(self.search_space.decode_flat(v))[0][-1] for v in vecs))
