"""Synthetic noisy learning curves for developing and testing curve extrapolation.

The shapes are deliberately *not* the fitted families' own formulas only: besides power laws and
exponential saturation there are two-timescale sums, curves with an initial plateau, log-shaped curves
and curves that overfit (fall, then rise again).  Noise is white plus AR(1), at a level relative to the
curve's amplitude.  Values are losses (lower is better), the final value is at the last budget.
"""
from __future__ import annotations

import numpy as np

__all__ = ["SHAPES", "curve", "curves"]

SHAPES = ("power", "exp", "two_exp", "plateau", "log", "overfit")


def _shape(kind: str, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A noise-free curve on relative time ``x`` in (0, 1], falling from ~1 towards ~0."""
    if kind == "power":
        return (x * rng.uniform(5, 200)) ** -rng.uniform(0.2, 1.5)
    if kind == "exp":
        return np.exp(-rng.uniform(1, 20) * x)
    if kind == "two_exp":
        w = rng.uniform(0.3, 0.8)
        return w * np.exp(-rng.uniform(10, 60) * x) + (1 - w) * np.exp(-rng.uniform(0.5, 4) * x)
    if kind == "plateau":
        x0, k = rng.uniform(0.05, 0.3), rng.uniform(3, 10)
        return 1.0 / (1.0 + (x / x0) ** k) * 0.7 + 0.3 * np.exp(-rng.uniform(0.5, 3) * x)
    if kind == "log":
        return 1.0 - np.log1p(rng.uniform(5, 100) * x) / np.log1p(rng.uniform(100, 400))
    if kind == "overfit":
        base = np.exp(-rng.uniform(5, 20) * x)
        return base + rng.uniform(0.05, 0.3) * np.maximum(x - rng.uniform(0.3, 0.7), 0.0) ** 1.5
    raise ValueError(f"unknown shape {kind!r}; one of {SHAPES}")


def curve(rng: np.random.Generator, n: int = 50, kind: str | None = None,
          noise: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(budgets 1..n, noisy values, noise-free values)`` of one random curve."""
    kind = kind or str(rng.choice(SHAPES))
    budgets = np.arange(1, n + 1, dtype=float)
    clean = _shape(kind, budgets / n, rng)
    lo, amp = rng.uniform(0.05, 0.5), rng.uniform(0.2, 2.0)
    clean = lo + amp * clean
    sigma = amp * (noise if noise is not None else float(np.exp(rng.uniform(np.log(0.003), np.log(0.05)))))
    rho = rng.uniform(0.0, 0.7)
    ar = np.zeros(n)
    e = rng.standard_normal(n)
    for i in range(1, n):
        ar[i] = rho * ar[i - 1] + np.sqrt(1 - rho ** 2) * e[i]
    white = rng.standard_normal(n)
    return budgets, clean + sigma * (0.6 * ar + 0.8 * white), clean


def curves(seed: int, count: int, n: int = 50) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [curve(rng, n) for _ in range(count)]
