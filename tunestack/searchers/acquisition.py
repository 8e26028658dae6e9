"""Expected improvement (in log form), target transforms, and SMAC's local-search EI maximizer.

* Expected improvement (Jones, Schonlau & Welch 1998, eq. 15) of a Gaussian prediction N(mu, sigma^2)
  over the best value ``f*`` (minimization):  EI = sigma * h(u),  u = (f* - mu) / sigma,
  h(u) = phi(u) + u Phi(u).  We maximize ``log EI``, computed stably for very negative ``u`` (Ament et al.
  2023, "Unexpected improvements to expected improvement", eq. 9 / the erfcx form), so that candidates
  far from the incumbent still get distinct, comparable values instead of an exact zero.
* Targets are transformed before the forest sees them: ``log`` (SMAC's log-transformed objective,
  Hutter et al. 2011 Sec. 4.2 / Hutter 2009 Sec. 5.2, with a shift so any sign works), ``copula``
  (normal scores of the ranks, Salinas et al. 2020), or ``none`` (standardization only).
* The maximizer is SMAC's (Hutter et al. 2011, Sec. 4.3): random and Sobol candidates, then local search
  in the one-exchange neighbourhood from the best observed configurations and the best candidates.  Each
  local search moves to its best improving neighbour and halves its numeric step when none improves.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.special import erfcx, ndtr, ndtri
from scipy.stats import qmc, rankdata

from .neighbourhood import Neighbourhood

__all__ = ["log_expected_improvement", "transform_targets", "MaximizerConfig", "maximize_acquisition",
           "TRANSFORMS"]

TRANSFORMS = ("log", "copula", "none")
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_SQRT_HALF_PI = math.sqrt(0.5 * math.pi)


def _log_h(u: np.ndarray) -> np.ndarray:
    """log(phi(u) + u * Phi(u)), stable for all u (Ament et al. 2023, eq. 9)."""
    out = np.empty_like(u)
    big = u > -1.0
    ub = u[big]
    out[big] = np.log(np.exp(-0.5 * ub * ub - _LOG_SQRT_2PI) + ub * ndtr(ub))
    t = -np.maximum(u[~big], -1e7)  # t >= 1: h(u) = phi(u) * (1 - t * Phi(-t) / phi(t))
    ratio = t * _SQRT_HALF_PI * erfcx(t / math.sqrt(2.0))  # t * Phi(-t) / phi(t), in (0, 1)
    out[~big] = -0.5 * t * t - _LOG_SQRT_2PI + np.log1p(-np.minimum(ratio, 1.0 - 1e-16))
    return out


def log_expected_improvement(mean: np.ndarray, var: np.ndarray, best: float) -> np.ndarray:
    """``log EI`` of predictions N(mean, var) below ``best`` (minimization)."""
    sigma = np.sqrt(np.maximum(var, 1e-24))
    u = (best - mean) / sigma
    return np.log(sigma) + _log_h(u)


def transform_targets(y: np.ndarray, kind: str) -> np.ndarray:
    """Targets as the model sees them (monotone in ``y``, so the minimum stays the minimum)."""
    y = np.asarray(y, dtype=float)
    if kind == "copula":  # normal scores of the ranks
        return ndtri((rankdata(y) - 0.5) / len(y))
    if kind == "log":  # log of the shifted objective; the shift is a scale-free fraction of the spread
        y_min = float(np.min(y))
        spread = float(np.median(y)) - y_min
        shift = max(0.1 * spread, 1e-3 * (float(np.max(y)) - y_min), 1e-12 * max(1.0, abs(y_min)))
        y = np.log(y - y_min + shift)
    elif kind != "none":
        raise ValueError(f"unknown target transform {kind!r}; use one of {TRANSFORMS}")
    std = float(np.std(y))
    return (y - float(np.mean(y))) / (std if std > 0 else 1.0)


@dataclass(frozen=True)
class MaximizerConfig:
    """How hard the acquisition maximizer works per ask."""

    n_random: int = 500  # uniform random candidates
    n_sobol: int = 512  # scrambled Sobol candidates
    n_starts_best: int = 5  # local searches from the best observed configurations
    n_starts_acq: int = 5  # local searches from the best random / Sobol candidates
    n_neighbours: int = 20  # one-exchange neighbours per local-search step
    max_steps: int = 25
    scale: float = 0.2  # first numeric step (standard deviation, unit scale)
    min_scale: float = 0.005


Acquisition = Callable[[np.ndarray], np.ndarray]


def maximize_acquisition(acq: Acquisition, hood: Neighbourhood, best_observed: np.ndarray,
                         rng: np.random.Generator, cfg: MaximizerConfig) -> tuple[np.ndarray, np.ndarray]:
    """Every candidate evaluated, sorted by decreasing acquisition: (vectors, values)."""
    pool = _candidate_pool(hood, rng, cfg)
    pool_val = acq(pool) if len(pool) else np.empty(0)
    top = pool[np.argsort(-pool_val, kind="stable")[: cfg.n_starts_acq]]
    starts = np.concatenate([best_observed[: cfg.n_starts_best], top])
    ls_X, ls_val = _local_search(acq, hood, starts, rng, cfg)
    X = np.concatenate([pool, ls_X])
    val = np.concatenate([pool_val, ls_val])
    order = np.argsort(-val, kind="stable")
    return X[order], val[order]


def _candidate_pool(hood: Neighbourhood, rng: np.random.Generator, cfg: MaximizerConfig) -> np.ndarray:
    parts = [hood.from_unit(rng.random((cfg.n_random, hood.dim)))]
    if cfg.n_sobol > 0:
        sobol = qmc.Sobol(d=hood.dim, scramble=True, seed=np.random.default_rng(int(rng.integers(2**31))))
        parts.append(hood.from_unit(sobol.random(cfg.n_sobol)))
    return np.concatenate(parts)


def _local_search(acq: Acquisition, hood: Neighbourhood, starts: np.ndarray, rng: np.random.Generator,
                  cfg: MaximizerConfig) -> tuple[np.ndarray, np.ndarray]:
    """Batched best-improvement local searches; returns every point visited and its value."""
    cur = starts.copy()
    if len(cur) == 0:
        return np.empty((0, hood.dim)), np.empty(0)
    cur_val = acq(cur)
    scale = np.full(len(cur), cfg.scale)
    alive = np.ones(len(cur), dtype=bool)
    seen_X, seen_val = [cur.copy()], [cur_val.copy()]
    for _ in range(cfg.max_steps):
        idx = np.flatnonzero(alive)
        if idx.size == 0:
            break
        nb, parent = hood.neighbours(cur[idx], cfg.n_neighbours, scale[idx], rng)
        val = acq(nb) if len(nb) else np.empty(0)
        seen_X.append(nb)
        seen_val.append(val)
        for j, k in enumerate(idx):
            rows = np.flatnonzero(parent == j)
            if rows.size and val[rows].max() > cur_val[k] + 1e-12 * max(1.0, abs(cur_val[k])):
                r = rows[np.argmax(val[rows])]
                cur[k], cur_val[k] = nb[r], val[r]
            else:
                scale[k] *= 0.5
                alive[k] = scale[k] >= cfg.min_scale
    return np.concatenate(seen_X), np.concatenate(seen_val)
