"""Benchmark problems for the searchers: continuous test functions with known optima.

Each problem is a ``Problem(name, space, fn, optimum)``; ``fn(config) -> float`` is minimized and
``regret = fn(x) - optimum``.  Definitions follow the Virtual Library of Simulation Experiments
(Surjanovic & Bingham, sfu.ca/~ssurjano).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import ConfigSpace as CS
import numpy as np

__all__ = ["Problem", "PROBLEMS", "continuous_problems"]


@dataclass(frozen=True)
class Problem:
    name: str
    space: CS.ConfigurationSpace
    fn: Callable[[dict], float]
    optimum: float
    continuous: bool = True

    def regret(self, value: float) -> float:
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


def _nd(name: str, f: Callable[[np.ndarray], float], d: int, lo: float, hi: float, opt: float) -> Problem:
    return Problem(name, _box([(f"x{i}", lo, hi) for i in range(d)]), lambda c: f(_vec(c, d)), opt)


def continuous_problems() -> dict[str, Problem]:
    return {
        "branin": Problem("branin", _box([("x0", -5, 10), ("x1", 0, 15)]), branin, 0.397887357729739),
        "hartmann3": Problem("hartmann3", _box([(f"x{i}", 0, 1) for i in range(3)]),
                             lambda c: _hartmann(_vec(c, 3), _H3_A, _H3_P), -3.86278214782076),
        "hartmann6": Problem("hartmann6", _box([(f"x{i}", 0, 1) for i in range(6)]),
                             lambda c: _hartmann(_vec(c, 6), _H6_A, _H6_P), -3.32236801141551),
        "rosenbrock10": _nd("rosenbrock10", rosenbrock, 10, -5, 10, 0.0),
        "ackley10": _nd("ackley10", ackley, 10, -32.768, 32.768, 0.0),
        "levy10": _nd("levy10", levy, 10, -10, 10, 0.0),
        "styblinski_tang10": _nd("styblinski_tang10", styblinski_tang, 10, -5, 5, -39.16616570377142 * 10),
    }


PROBLEMS: dict[str, Problem] = continuous_problems()
