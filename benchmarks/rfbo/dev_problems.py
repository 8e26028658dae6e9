"""Development problems for choosing rfbo's defaults, deliberately *not* the benchmark suite's problems.

Definitions follow the Virtual Library of Simulation Experiments (Surjanovic & Bingham, sfu.ca/~ssurjano)
for the continuous ones; ``hpo_mixed`` and ``cond_tree`` are synthetic HPO-like functions with integer,
log-scaled, ordinal and categorical parameters (and conditions) whose minimum is known by construction.
The defaults of rfbo were chosen on these, then checked on ``benchmarks/searchers/problems.py``.
"""
from __future__ import annotations

import math

import ConfigSpace as CS
import numpy as np

from benchmarks.searchers.problems import Problem

__all__ = ["DEV_PROBLEMS"]


def _box(d: int, lo: float, hi: float) -> CS.ConfigurationSpace:
    cs = CS.ConfigurationSpace()
    cs.add([CS.Float(f"x{i}", (lo, hi)) for i in range(d)])
    return cs


def _v(c: dict, d: int) -> np.ndarray:
    return np.array([c[f"x{i}"] for i in range(d)], dtype=float)


def six_hump_camel(c: dict) -> float:
    x, y = c["x0"], c["x1"]
    return (4 - 2.1 * x ** 2 + x ** 4 / 3) * x ** 2 + x * y + (-4 + 4 * y ** 2) * y ** 2


def _camel_space() -> CS.ConfigurationSpace:
    cs = CS.ConfigurationSpace()
    cs.add([CS.Float("x0", (-3.0, 3.0)), CS.Float("x1", (-2.0, 2.0))])
    return cs


_SHEKEL_C = np.array([1, 2, 2, 4, 4, 6, 3, 7, 5, 5]) / 10.0
_SHEKEL_A = np.array([[4, 4, 4, 4], [1, 1, 1, 1], [8, 8, 8, 8], [6, 6, 6, 6], [3, 7, 3, 7], [2, 9, 2, 9],
                      [5, 5, 3, 3], [8, 1, 8, 1], [6, 2, 6, 2], [7, 3.6, 7, 3.6]], dtype=float)


def shekel10(x: np.ndarray) -> float:
    return float(-np.sum(1.0 / (np.sum((x - _SHEKEL_A) ** 2, axis=1) + _SHEKEL_C)))


def rastrigin(x: np.ndarray) -> float:
    return float(10 * len(x) + np.sum(x ** 2 - 10 * np.cos(2 * math.pi * x)))


def griewank(x: np.ndarray) -> float:
    i = np.arange(1, len(x) + 1)
    return float(np.sum(x ** 2) / 4000 - np.prod(np.cos(x / np.sqrt(i))) + 1)


def michalewicz(x: np.ndarray, m: float = 10.0) -> float:
    i = np.arange(1, len(x) + 1)
    return float(-np.sum(np.sin(x) * np.sin(i * x ** 2 / math.pi) ** (2 * m)))


def dixon_price(x: np.ndarray) -> float:
    i = np.arange(2, len(x) + 1)
    return float((x[0] - 1) ** 2 + np.sum(i * (2 * x[1:] ** 2 - x[:-1]) ** 2))


def _hpo_mixed_space() -> CS.ConfigurationSpace:
    cs = CS.ConfigurationSpace()
    cs.add([CS.Float("lr", (1e-5, 1.0), log=True), CS.Integer("width", (8, 1024), log=True),
            CS.Integer("layers", (1, 8)), CS.Float("dropout", (0.0, 0.9)),
            CS.Categorical("act", ["relu", "tanh", "elu", "selu"]),
            CS.OrdinalHyperparameter("batch", [16, 32, 64, 128, 256]), CS.Float("wd", (1e-7, 1e-1), log=True)])
    return cs


def hpo_mixed(c: dict) -> float:
    """A smooth, interacting HPO-like response; minimum 0 at lr=3e-3, width=181 (log2 7.5), layers 3,
    dropout 0.2, act elu, batch 64 and wd 1e-4."""
    lr = math.log10(c["lr"]) + 2.5 + 0.15 * (math.log2(c["batch"]) - 6)  # lr optimum moves with batch
    w = math.log2(c["width"]) - 7.5
    v = lr ** 2 / 2 + w ** 2 / 8 + (c["layers"] - 3) ** 2 / 10 + (c["dropout"] - 0.2) ** 2 * 2
    v += {"relu": 0.05, "tanh": 0.3, "elu": 0.0, "selu": 0.1}[c["act"]]
    v += (math.log10(c["wd"]) + 4) ** 2 / 20 + 0.1 * abs(lr * w) + (math.log2(c["batch"]) - 6) ** 2 / 40
    return v


def _cond_tree_space() -> CS.ConfigurationSpace:
    cs = CS.ConfigurationSpace()
    model = CS.Categorical("model", ["linear", "tree", "net"])
    reg = CS.Float("l_reg", (1e-6, 1e2), log=True)
    depth = CS.Integer("t_depth", (1, 30))
    leaves = CS.Integer("t_min_leaf", (1, 100), log=True)
    opt = CS.Categorical("n_opt", ["sgd", "adam"])
    mom = CS.Float("n_momentum", (0.0, 0.99))
    lr = CS.Float("n_lr", (1e-5, 1.0), log=True)
    units = CS.Integer("n_units", (4, 512), log=True)
    seed_like = CS.Float("shared_frac", (0.1, 1.0))
    cs.add([model, reg, depth, leaves, opt, mom, lr, units, seed_like])
    cs.add([CS.EqualsCondition(reg, model, "linear"), CS.EqualsCondition(depth, model, "tree"),
            CS.EqualsCondition(leaves, model, "tree"), CS.EqualsCondition(opt, model, "net"),
            CS.EqualsCondition(lr, model, "net"), CS.EqualsCondition(units, model, "net"),
            CS.EqualsCondition(mom, opt, "sgd")])
    return cs


def cond_tree(c: dict) -> float:
    """Minimum 0: model net, sgd with momentum 0.9, lr 1e-2, 128 units, shared_frac 0.8.
    The linear model bottoms out at 0.12, the tree at 0.06, adam at 0.03."""
    v = 0.5 * (c["shared_frac"] - 0.8) ** 2
    if c["model"] == "linear":
        return v + 0.12 + (math.log10(c["l_reg"]) - 0.5) ** 2 / 30
    if c["model"] == "tree":
        return v + 0.06 + ((c["t_depth"] - 12) / 15) ** 2 + (math.log10(c["t_min_leaf"]) - 1) ** 2 / 8
    v += (math.log10(c["n_lr"]) + 2) ** 2 / 10 + (math.log2(c["n_units"]) - 7) ** 2 / 30
    if c["n_opt"] == "adam":
        return v + 0.03
    return v + (c["n_momentum"] - 0.9) ** 2


def _nd(name: str, f, d: int, lo: float, hi: float, opt: float) -> Problem:  # noqa: ANN001
    return Problem(name, _box(d, lo, hi), lambda c: f(_v(c, d)), opt)


DEV_PROBLEMS: dict[str, Problem] = {
    "camel": Problem("camel", _camel_space(), six_hump_camel, -1.031628453489877),
    "shekel10": _nd("shekel10", shekel10, 4, 0.0, 10.0, -10.536409816692046),
    "rastrigin5": _nd("rastrigin5", rastrigin, 5, -5.12, 5.12 * 1.3, 0.0),  # asymmetric box: optimum off-centre
    "griewank8": _nd("griewank8", griewank, 8, -300.0, 600.0, 0.0),
    "michalewicz5": _nd("michalewicz5", michalewicz, 5, 0.0, math.pi, -4.687658),
    "dixon_price8": _nd("dixon_price8", dixon_price, 8, -10.0, 10.0, 0.0),
    "hpo_mixed": Problem("hpo_mixed", _hpo_mixed_space(), hpo_mixed, 0.0, continuous=False),
    "cond_tree": Problem("cond_tree", _cond_tree_space(), cond_tree, 0.0, continuous=False),
}
