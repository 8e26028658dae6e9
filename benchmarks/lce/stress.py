"""Harder synthetic curves for checking the stopping rule's robustness (development only).

Unlike :mod:`benchmarks.lce.synthetic`, the set is built so that early rank is a poor guide to the final
rank: *slow* curves (low learning rate) start badly and keep improving to the lowest finals, *fast* ones
saturate early at a higher level, and *step* curves drop suddenly at half the budget (a step
learning-rate schedule) -- a shape no extrapolation family can foresee from the first half.  Noise is
additive or multiplicative, white plus AR(1).  Values are positive losses; the final is the last value.
"""
from __future__ import annotations

import numpy as np

__all__ = ["KINDS", "curve", "curves"]

KINDS = ("fast", "slow", "step")


def _clean(kind: str, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if kind == "fast":
        floor = rng.uniform(0.08, 0.5)
        return floor + (1 - floor) * np.exp(-rng.uniform(10, 60) * x)
    if kind == "slow":
        floor = rng.uniform(0.02, 0.4)
        return floor + (1 - floor) * (1 + rng.uniform(2, 30) * x) ** -rng.uniform(0.5, 2.0)
    if kind == "step":
        floor = rng.uniform(0.05, 0.4)
        base = floor + (1 - floor) * np.exp(-rng.uniform(5, 30) * x)
        return base * np.where(x > 0.5, rng.uniform(0.5, 0.9), 1.0)
    raise ValueError(f"unknown kind {kind!r}; one of {KINDS}")


def curve(rng: np.random.Generator, n: int = 50, kind: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(budgets 1..n, noisy values, noise-free values)`` of one curve."""
    kind = kind or str(rng.choice(KINDS, p=[0.4, 0.4, 0.2]))
    budgets = np.arange(1, n + 1, dtype=float)
    clean = rng.uniform(0.5, 2.0) * _clean(kind, budgets / n, rng)
    rho, level = rng.uniform(0.0, 0.8), float(np.exp(rng.uniform(np.log(0.003), np.log(0.04))))
    e, ar = rng.standard_normal(n), np.zeros(n)
    for i in range(1, n):
        ar[i] = rho * ar[i - 1] + np.sqrt(1 - rho ** 2) * e[i]
    noise = level * (0.6 * ar + 0.8 * rng.standard_normal(n))
    noisy = clean * np.exp(noise) if rng.uniform() < 0.5 else clean + noise * float(clean[0])
    return budgets, np.maximum(noisy, 1e-4), clean


def curves(seed: int, count: int, n: int = 50) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [curve(rng, n) for _ in range(count)]
