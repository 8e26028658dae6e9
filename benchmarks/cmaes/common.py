"""Shared bits of the CMA-ES quality benchmark: problems, checkpoints, the result file format.

Runs on numpy + ConfigSpace only, so both the project's ``.venv`` (tunestack's searchers) and the
peer venv ``.bench-venv-cma`` (pycma) import it.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from benchmarks.searchers.problems import Problem, continuous_problems

CHECKPOINTS = (50, 100, 200, 500)
RESULTS = Path(__file__).parent / "results"


def problems(names: list[str] | None = None) -> dict[str, Problem]:
    probs = continuous_problems()
    return {k: v for k, v in probs.items() if names is None or k in names}


def unit_to_config(problem: Problem, u: np.ndarray) -> dict:
    """A point of [0, 1]^d as a configuration of the problem's (uniform, linear) box."""
    hps = list(problem.space.values())
    return {hp.name: float(hp.lower + min(1.0, max(0.0, float(x))) * (hp.upper - hp.lower))
            for hp, x in zip(hps, u)}


def best_so_far(regrets: list[float], checkpoints: tuple[int, ...] = CHECKPOINTS) -> dict[str, float]:
    """Best regret after each checkpoint's number of evaluations (failures count as +inf)."""
    out, best = {}, math.inf
    for i, r in enumerate(regrets, start=1):
        best = min(best, r)
        if i in checkpoints:
            out[str(i)] = best
    return out


def save(name: str, rows: list[dict]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(rows, indent=1))
    return path
