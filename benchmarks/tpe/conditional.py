"""A synthetic tree-structured problem with a known optimum, for checking the TPE searcher.

A top-level categorical ``family`` picks one of three branches, each a differently shifted function of
its own conditional parameters (floats, a log float, an integer, a categorical); two shared parameters
(a log float and an integer) add a common term.  The global minimum 0 lies in branch ``quad`` at
``q1 = 1.2, q2 = -0.7, lr = 10 ** -2.5, depth = 6``; the other branches bottom out at 0.3 and 0.5.
"""
from __future__ import annotations

import math

import ConfigSpace as CS

from benchmarks.searchers.problems import Problem

__all__ = ["conditional_space", "conditional_fn", "conditional_problem"]


def conditional_space() -> CS.ConfigurationSpace:
    cs = CS.ConfigurationSpace()
    family = CS.Categorical("family", ["quad", "rastr", "intlog"])
    branch = {
        "quad": [CS.Float("q1", (-5.0, 5.0)), CS.Float("q2", (-5.0, 5.0))],
        "rastr": [CS.Float("r1", (0.0, 1.0)), CS.Categorical("r2", ["a", "b", "c", "d"])],
        "intlog": [CS.Integer("s1", (1, 50)), CS.Float("s2", (1e-3, 10.0), log=True)],
    }
    cs.add([family, CS.Float("lr", (1e-5, 1.0), log=True), CS.Integer("depth", (1, 12)),
            *(hp for hps in branch.values() for hp in hps)])
    cs.add([CS.EqualsCondition(hp, family, name) for name, hps in branch.items() for hp in hps])
    return cs


def conditional_fn(c: dict) -> float:
    shared = (math.log10(c["lr"]) + 2.5) ** 2 / 6.0 + abs(c["depth"] - 6) / 12.0
    if c["family"] == "quad":
        return shared + ((c["q1"] - 1.2) ** 2 + (c["q2"] + 0.7) ** 2) / 10.0
    if c["family"] == "rastr":
        x = c["r1"] - 0.37
        return shared + 0.3 + 10 * x ** 2 + 0.2 * (1 - math.cos(6 * math.pi * x)) + (0 if c["r2"] == "c" else 0.2)
    return shared + 0.5 + abs(c["s1"] - 17) / 50.0 + math.log10(c["s2"] / 0.3) ** 2 / 4.0


def conditional_problem() -> Problem:
    return Problem("conditional", conditional_space(), conditional_fn, 0.0, continuous=False)
