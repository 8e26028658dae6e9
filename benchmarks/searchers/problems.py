"""Benchmark problems for the searchers.

Each problem is a ``Problem(name, space, fn, optimum, continuous)``; ``fn(config) -> float`` is
minimized and ``regret = fn(x) - optimum``.  ``continuous`` marks box-constrained real spaces (the only
ones CMA-ES runs on); ``argmin``, where known, is a configuration attaining ``optimum`` (to the printed
precision).  ``optimum`` is ``None`` where it is unknown (the CASH problems of :mod:`.cash`): the
harness then measures regret against the best value seen in its run.

* the continuous suite: test functions of the Virtual Library of Simulation Experiments
  (Surjanovic & Bingham, sfu.ca/~ssurjano);
* ``cond_synth``: a synthetic conditional function with a known optimum (see :func:`cond_synth`);
* ``cash_digits`` / ``cash_breast_cancer``: algorithm selection + hyperparameters on scikit-learn data
  (:mod:`.cash`), loaded lazily by :func:`all_problems`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import ConfigSpace as CS
import numpy as np

__all__ = ["Problem", "PROBLEMS", "continuous_problems", "conditional_problems", "all_problems"]


@dataclass(frozen=True)
class Problem:
    name: str
    space: CS.ConfigurationSpace
    fn: Callable[[dict], float]
    optimum: float | None
    continuous: bool = True
    argmin: dict | None = None

    def regret(self, value: float) -> float:
        if self.optimum is None:
            raise ValueError(f"problem {self.name!r} has no known optimum; measure regret against a reference")
        return value - self.optimum


def _box(names_bounds: list[tuple[str, float, float]]) -> CS.ConfigurationSpace:
    cs = CS.ConfigurationSpace()
    cs.add([CS.Float(n, (lo, hi)) for n, lo, hi in names_bounds])
    return cs


def _vec(config: dict, d: int) -> np.ndarray:
    return np.array([config[f"x{i}"] for i in range(d)], dtype=float)


def branin(c: dict) -> float:
    x1, x2 = c["x0"], c["x1"]
    b, cc, t = 5.1 / (4 * math.pi ** 2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1 ** 2 + cc * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


_H3_A = np.array([[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]])
_H3_P = 1e-4 * np.array([[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547], [381, 5743, 8828]])
_H6_A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8],
                  [17, 8, 0.05, 10, 0.1, 14]])
_H6_P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                         [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])
_H_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def _hartmann(x: np.ndarray, A: np.ndarray, P: np.ndarray) -> float:
    return float(-np.sum(_H_ALPHA * np.exp(-np.sum(A * (x - P) ** 2, axis=1))))


def rosenbrock(x: np.ndarray) -> float:
    return float(np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))


def ackley(x: np.ndarray) -> float:
    d = len(x)
    return float(-20 * math.exp(-0.2 * math.sqrt(np.sum(x ** 2) / d))
                 - math.exp(np.sum(np.cos(2 * math.pi * x)) / d) + 20 + math.e)


def levy(x: np.ndarray) -> float:
    w = 1 + (x - 1) / 4
    return float(math.sin(math.pi * w[0]) ** 2
                 + np.sum((w[:-1] - 1) ** 2 * (1 + 10 * np.sin(math.pi * w[:-1] + 1) ** 2))
                 + (w[-1] - 1) ** 2 * (1 + math.sin(2 * math.pi * w[-1]) ** 2))


def styblinski_tang(x: np.ndarray) -> float:
    return float(0.5 * np.sum(x ** 4 - 16 * x ** 2 + 5 * x))


def _nd(name: str, f: Callable[[np.ndarray], float], d: int, lo: float, hi: float, opt: float,
        x_star: float) -> Problem:
    return Problem(name, _box([(f"x{i}", lo, hi) for i in range(d)]), lambda c: f(_vec(c, d)), opt,
                   argmin={f"x{i}": x_star for i in range(d)})


def _named(xs: list[float]) -> dict:
    return {f"x{i}": x for i, x in enumerate(xs)}


# Hartmann-3's minimum with the 4-digit P above, found by L-BFGS-B from the published argmin; the
# often quoted -3.86278214782076 lies 2.4e-6 below what these coefficients can reach.
_H3_MIN, _H3_ARGMIN = -3.8627797873326597, [0.11458885404820057, 0.5556488915814946, 0.8525469799915564]
_H6_ARGMIN = [0.20168950968761765, 0.15001069413863433, 0.47687396963094986, 0.27533242916768874,
              0.31165161370991157, 0.6573005333899428]


def continuous_problems() -> dict[str, Problem]:
    return {
        "branin": Problem("branin", _box([("x0", -5, 10), ("x1", 0, 15)]), branin, 0.397887357729739,
                          argmin=_named([-math.pi, 12.275])),
        "hartmann3": Problem("hartmann3", _box([(f"x{i}", 0, 1) for i in range(3)]),
                             lambda c: _hartmann(_vec(c, 3), _H3_A, _H3_P), _H3_MIN, argmin=_named(_H3_ARGMIN)),
        "hartmann6": Problem("hartmann6", _box([(f"x{i}", 0, 1) for i in range(6)]),
                             lambda c: _hartmann(_vec(c, 6), _H6_A, _H6_P), -3.32236801141551,
                             argmin=_named(_H6_ARGMIN)),
        "rosenbrock10": _nd("rosenbrock10", rosenbrock, 10, -5, 10, 0.0, 1.0),
        "ackley10": _nd("ackley10", ackley, 10, -32.768, 32.768, 0.0, 0.0),
        "levy10": _nd("levy10", levy, 10, -10, 10, 0.0, 1.0),
        "styblinski_tang10": _nd("styblinski_tang10", styblinski_tang, 10, -5, 5, -39.16616570377142 * 10,
                                 -2.903534027771178),
    }


def _cond_synth_space() -> CS.ConfigurationSpace:
    cs = CS.ConfigurationSpace()
    branch = CS.Categorical("branch", ["hart", "quad", "branin"])
    h_mode = CS.Categorical("h_mode", ["plain", "scaled"])
    h_scale = CS.Float("h_scale", (1e-3, 10.0), log=True)
    hart = [CS.Float(f"h_x{i}", (0.0, 1.0)) for i in range(3)] + [h_mode]
    quad = [CS.Float("q_x", (-5.0, 5.0)), CS.Float("q_lr", (1e-4, 1.0), log=True),
            CS.Integer("q_n", (1, 64), log=True)]
    bran = [CS.Float("b_x0", (-5.0, 10.0)), CS.Float("b_x1", (0.0, 15.0)),
            CS.Categorical("b_act", ["relu", "tanh", "sigmoid"])]
    shared = [CS.Float("s_float", (0.0, 1.0)), CS.Integer("s_int", (0, 20)), CS.Categorical("s_cat", ["x", "y", "z"])]
    cs.add([branch, h_scale, *hart, *quad, *bran, *shared])
    cs.add([CS.EqualsCondition(h, branch, "hart") for h in hart]
           + [CS.EqualsCondition(q, branch, "quad") for q in quad]
           + [CS.EqualsCondition(b, branch, "branin") for b in bran]
           + [CS.EqualsCondition(h_scale, h_mode, "scaled")])
    return cs


_S_CAT = {"x": 0.05, "y": 0.0, "z": 0.1}
_B_ACT = {"relu": 0.0, "tanh": 0.05, "sigmoid": 0.1}


def cond_synth_fn(c: dict) -> float:
    """Shared part + the chosen branch's part.  Minimum 0: branch "hart" at Hartmann-3's argmin with
    h_mode "scaled", h_scale 0.3, and s_float 0.7, s_int 13, s_cat "y".  The easy "quad" branch bottoms
    out at 0.03 and "branin" at 0.06: traps for searchers that settle on the first good branch.  No
    optimum sits at a ConfigSpace default (the centre), which some peers evaluate first."""
    v = (c["s_float"] - 0.7) ** 2 + ((c["s_int"] - 13) / 20) ** 2 + _S_CAT[c["s_cat"]]
    if c["branch"] == "hart":
        x = np.array([c["h_x0"], c["h_x1"], c["h_x2"]])
        mode = 0.1 if c["h_mode"] == "plain" else 0.25 * math.log10(c["h_scale"] / 0.3) ** 2
        return v + (_hartmann(x, _H3_A, _H3_P) - _H3_MIN) / 3.8627797873326597 + mode
    if c["branch"] == "quad":
        return (v + 0.03 + ((c["q_x"] - 1.3) / 5) ** 2 + (math.log10(c["q_lr"]) + 2.5) ** 2 / 16
                + math.log2(c["q_n"] / 5) ** 2 / 36)
    return v + 0.06 + (branin({"x0": c["b_x0"], "x1": c["b_x1"]}) - 0.397887357729739) / 50 + _B_ACT[c["b_act"]]


def conditional_problems() -> dict[str, Problem]:
    argmin = {"branch": "hart", **{f"h_x{i}": x for i, x in enumerate(_H3_ARGMIN)}, "h_mode": "scaled",
              "h_scale": 0.3, "s_float": 0.7, "s_int": 13, "s_cat": "y"}
    return {"cond_synth": Problem("cond_synth", _cond_synth_space(), cond_synth_fn, 0.0, continuous=False,
                                  argmin=argmin)}


def all_problems(cash: bool = True) -> dict[str, Problem]:
    """Every problem: the continuous suite, ``cond_synth`` and (when ``cash``) the two CASH problems."""
    out = {**continuous_problems(), **conditional_problems()}
    if cash:
        from .cash import cash_problems
        out.update(cash_problems())
    return out


PROBLEMS: dict[str, Problem] = {**continuous_problems(), **conditional_problems()}
"""Every problem with a known optimum (the CASH problems need :func:`all_problems`)."""
