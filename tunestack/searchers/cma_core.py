"""Pure (mu/mu_w, lambda)-CMA-ES numerics: strategy parameters, sampling, the update, restart tests.

Equation numbers refer to N. Hansen, "The CMA Evolution Strategy: A Tutorial", arXiv:1604.00772 (2016);
the restart tests follow Hansen, "Benchmarking a BI-population CMA-ES on the BBOB-2009 function testbed"
(GECCO 2009 workshop), as used by IPOP-CMA-ES (Auger & Hansen, CEC 2005).

Everything here is a plain function of a :class:`CMAState` and a :class:`CMAParams`; randomness comes
only from the ``numpy.random.Generator`` passed in.  The searcher glue (search space, bounds, integer
margin, ask/tell bookkeeping) lives in :mod:`tunestack.searchers.cmaes`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any, Mapping

import numpy as np

__all__ = ["CMAParams", "CMAState", "History", "Tolerances", "default_popsize", "make_params", "new_state",
           "sample_y", "update", "record", "restart_reason", "repair", "inject", "margin_scale",
           "FLAT_LIMIT"]

_EIG_FLOOR = 1e-20  # smallest eigenvalue of C kept after a decomposition (relative to the largest)
FLAT_LIMIT = 3  # consecutive flat-fitness generations before a restart


def default_popsize(n: int) -> int:
    """lambda = 4 + floor(3 ln n) (Hansen 2016, Eq. 48)."""
    return 4 + int(math.floor(3 * math.log(n)))


@dataclass(frozen=True)
class CMAParams:
    """Strategy parameters for dimension ``n`` and population ``lam`` (Hansen 2016, Table 1)."""

    n: int
    lam: int
    mu: int
    weights: np.ndarray  # all lambda recombination weights, negative ones included (Eq. 53)
    mu_eff: float
    c_sigma: float
    d_sigma: float
    c_c: float
    c_1: float
    c_mu: float
    chi_n: float  # E||N(0, I)||


def make_params(n: int, lam: int) -> CMAParams:
    if n < 1 or lam < 2:
        raise ValueError(f"CMA-ES needs n >= 1 and a population of at least 2, got n={n}, lambda={lam}")
    mu = lam // 2
    w = math.log((lam + 1) / 2) - np.log(np.arange(1, lam + 1))  # Eq. 49
    pos, neg = w[:mu], w[mu:]
    mu_eff = float(pos.sum() ** 2 / (pos ** 2).sum())  # Eq. 50 (left)
    alpha_cov = 2.0
    c_1 = alpha_cov / ((n + 1.3) ** 2 + mu_eff)  # Eq. 57
    c_mu = min(1 - c_1,  # Eq. 58
               alpha_cov * (mu_eff - 2 + 1 / mu_eff) / ((n + 2) ** 2 + alpha_cov * mu_eff / 2))
    weights = w / pos.sum()
    if lam - mu > 0 and np.any(neg < 0):
        mu_eff_neg = float(neg.sum() ** 2 / (neg ** 2).sum())  # Eq. 50 (right)
        alpha_neg = min(1 + c_1 / c_mu if c_mu > 0 else math.inf,  # Eq. 50
                        1 + 2 * mu_eff_neg / (mu_eff + 2),  # Eq. 51
                        (1 - c_1 - c_mu) / (n * c_mu) if c_mu > 0 else math.inf)  # Eq. 52
        weights = np.where(w >= 0, w / pos.sum(), alpha_neg * w / np.abs(neg[neg < 0]).sum())  # Eq. 53
    c_sigma = (mu_eff + 2) / (n + mu_eff + 5)  # Eq. 55
    d_sigma = 1 + 2 * max(0.0, math.sqrt((mu_eff - 1) / (n + 1)) - 1) + c_sigma  # Eq. 55
    c_c = (4 + mu_eff / n) / (n + 4 + 2 * mu_eff / n)  # Eq. 56
    chi_n = math.sqrt(n) * (1 - 1 / (4 * n) + 1 / (21 * n ** 2))  # p. 28
    return CMAParams(n, lam, mu, weights, mu_eff, c_sigma, d_sigma, c_c, c_1, c_mu, chi_n)


@dataclass
class CMAState:
    """The search distribution N(m, sigma^2 A C A) of one run and its evolution paths.

    ``A`` is the diagonal scaling of CMA-ES with Margin (Hamano et al., GECCO 2022); it is all ones for
    continuous problems.  ``B, D`` hold the eigendecomposition C = B diag(D^2) B^T.
    """

    mean: np.ndarray
    sigma: float
    C: np.ndarray
    p_sigma: np.ndarray
    p_c: np.ndarray
    B: np.ndarray
    D: np.ndarray
    A: np.ndarray
    g: int = 0  # generations since the start of this run

    @property
    def n(self) -> int:
        return len(self.mean)

    def point(self, y: np.ndarray) -> np.ndarray:
        """x = m + sigma * A y (Hansen 2016, Eq. 40, with the margin scaling A)."""
        return self.mean + self.sigma * self.A * y

    def to_json(self) -> dict[str, Any]:
        return {"mean": self.mean.tolist(), "sigma": self.sigma, "C": self.C.tolist(),
                "p_sigma": self.p_sigma.tolist(), "p_c": self.p_c.tolist(), "B": self.B.tolist(),
                "D": self.D.tolist(), "A": self.A.tolist(), "g": self.g}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "CMAState":
        arr = {k: np.asarray(d[k], dtype=float) for k in ("mean", "C", "p_sigma", "p_c", "B", "D", "A")}
        return cls(sigma=float(d["sigma"]), g=int(d["g"]), **arr)


def new_state(mean: np.ndarray, sigma: float) -> CMAState:
    n = len(mean)
    return CMAState(np.asarray(mean, dtype=float).copy(), float(sigma), np.eye(n), np.zeros(n), np.zeros(n),
                    np.eye(n), np.ones(n), np.ones(n))


def sample_y(state: CMAState, rng: np.random.Generator) -> np.ndarray:
    """y = B D z with z ~ N(0, I), so y ~ N(0, C) (Hansen 2016, Eqs. 38-39)."""
    z = rng.standard_normal(state.n)
    return state.B @ (state.D * z)


def update(state: CMAState, p: CMAParams, ys: np.ndarray) -> bool:
    """One generation's update from the ``lam`` steps ``ys`` (rows), ranked best first.

    Returns ``False`` when C lost positive definiteness or finiteness (the caller restarts).
    """
    B, D = state.B, state.D
    inv_sqrt_c = (B / D) @ B.T  # C^(-1/2) = B D^-1 B^T
    y_w = p.weights[:p.mu] @ ys[:p.mu]  # Eq. 41
    state.mean = state.mean + state.sigma * state.A * y_w  # Eq. 42 (c_m = 1, Eq. 54)
    state.p_sigma = ((1 - p.c_sigma) * state.p_sigma
                     + math.sqrt(p.c_sigma * (2 - p.c_sigma) * p.mu_eff) * (inv_sqrt_c @ y_w))  # Eq. 43
    norm_ps = float(np.linalg.norm(state.p_sigma))
    state.g += 1
    # h_sigma stalls the update of p_c when ||p_sigma|| is large (p. 28)
    h_sigma = norm_ps / math.sqrt(1 - (1 - p.c_sigma) ** (2 * state.g)) < (1.4 + 2 / (p.n + 1)) * p.chi_n
    state.p_c = (1 - p.c_c) * state.p_c + (
        h_sigma * math.sqrt(p.c_c * (2 - p.c_c) * p.mu_eff)) * y_w  # Eq. 45
    # negative weights are rescaled by n / ||C^(-1/2) y||^2 (Eq. 46)
    mahal = np.sum((ys @ inv_sqrt_c) ** 2, axis=1)
    w_o = np.where(p.weights >= 0, p.weights, p.weights * p.n / np.maximum(mahal, 1e-300))
    delta_h = (1 - h_sigma) * p.c_c * (2 - p.c_c)  # p. 28
    rank_mu = (ys * w_o[:, None]).T @ ys
    state.C = ((1 + p.c_1 * delta_h - p.c_1 - p.c_mu * float(p.weights.sum())) * state.C
               + p.c_1 * np.outer(state.p_c, state.p_c) + p.c_mu * rank_mu)  # Eq. 47
    # Eq. 44; the increase is capped at a factor e per generation (as pycma does) against blow-ups
    state.sigma *= math.exp(min(1.0, (p.c_sigma / p.d_sigma) * (norm_ps / p.chi_n - 1)))
    return _decompose(state)


def _decompose(state: CMAState) -> bool:
    """Eigendecomposition of C (Hansen 2016, Sec. 2.2); ``False`` if C is no longer usable."""
    C = (state.C + state.C.T) / 2
    if not np.all(np.isfinite(C)) or not math.isfinite(state.sigma) or state.sigma <= 0:
        return False
    d2, B = np.linalg.eigh(C)
    if d2[-1] <= 0:
        return False
    d2 = np.maximum(d2, d2[-1] * _EIG_FLOOR)
    state.C, state.B, state.D = C, B, np.sqrt(d2)
    return True


@dataclass
class History:
    """Per-generation records the restart tests read (best and median value of each generation)."""

    best: list[float] = field(default_factory=list)
    median: list[float] = field(default_factory=list)
    flat: int = 0  # consecutive generations with flat fitness

    def to_json(self) -> dict[str, Any]:
        fin = lambda xs: [x if math.isfinite(x) else None for x in xs]  # noqa: E731
        return {"best": fin(self.best), "median": fin(self.median), "flat": self.flat}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "History":
        inf = lambda xs: [math.inf if x is None else float(x) for x in xs]  # noqa: E731
        return cls(inf(d["best"]), inf(d["median"]), int(d["flat"]))


@dataclass(frozen=True)
class Tolerances:
    """Restart thresholds (pycma's defaults for tolx, tolfun and the condition number)."""

    tolx: float = 1e-11
    tolfun: float = 1e-11
    tolcondition: float = 1e14
    tolupsigma: float = 1e4
    max_history: int = 20000


def record(hist: History, f_ranked: np.ndarray, tol: Tolerances) -> bool:
    """Record one generation's ranked values (failures as +inf); return whether fitness was flat.

    Flat fitness: the best value equals the ceil(0.7 lambda)-th, as in the tutorial's source code
    (Hansen 2016, Appendix C); the caller then enlarges sigma by exp(0.2 + c_sigma / d_sigma).
    """
    lam = len(f_ranked)
    hist.best.append(float(f_ranked[0]))
    hist.median.append(float(f_ranked[lam // 2]))
    del hist.best[:-tol.max_history], hist.median[:-tol.max_history]
    flat = bool(f_ranked[0] == f_ranked[int(math.ceil(0.7 * lam)) - 1])
    hist.flat = hist.flat + 1 if flat else 0
    return flat


def restart_reason(state: CMAState, p: CMAParams, hist: History, f_ranked: np.ndarray,
                   continuous: np.ndarray, tol: Tolerances) -> str | None:
    """Why this run should stop (IPOP restart tests, Hansen 2009), or ``None`` to go on.

    ``continuous`` masks the coordinates whose spread may shrink to zero (integer coordinates keep a
    lower-bounded spread under the margin and are left out of the x-tolerance tests).
    """
    sd = state.sigma * state.A * np.sqrt(np.diag(state.C))
    if hist.flat >= FLAT_LIMIT:
        return "flat fitness"
    if (state.D[-1] / state.D[0]) ** 2 > tol.tolcondition:
        return "condition number of C"
    if np.max(sd) > tol.tolupsigma:
        return "tolupsigma"
    if continuous.any():
        c = continuous
        if np.all(sd[c] < tol.tolx) and np.all(state.sigma * np.abs(state.p_c[c]) < tol.tolx):
            return "tolx"
        if np.any(state.mean[c] == state.mean[c] + 0.2 * sd[c]):
            return "no effect coordinate"
        i = state.g % p.n  # one principal axis per generation
        if np.all(state.mean == state.mean + 0.1 * state.sigma * state.A * state.D[i] * state.B[:, i]):
            return "no effect axis"
    span = 10 + int(math.ceil(30 * p.n / p.lam))
    finite = f_ranked[np.isfinite(f_ranked)]
    recent = [b for b in hist.best[-span:] if math.isfinite(b)]
    if len(hist.best) >= span and len(recent) == span and finite.size == len(f_ranked):
        values = np.concatenate([recent, finite])
        if values.max() - values.min() < tol.tolfun:
            return "tolfun"
    if _stagnated(hist, p):
        return "stagnation"
    return None


def _stagnated(hist: History, p: CMAParams) -> bool:
    """The median of the most recent 30% of the best and the median values is not better than the
    median of the first 30%, over the last max(120 + 30 n / lambda, 20% of the generations)."""
    g = len(hist.best)
    window = max(120 + int(math.ceil(30 * p.n / p.lam)), int(0.2 * g))
    if g < window:
        return False
    k = max(1, int(0.3 * window))
    for series in (hist.best[-window:], hist.median[-window:]):
        if np.median(series[-k:]) < np.median(series[:k]):
            return False
    return True


# ---- box [0, 1]^n and integer coordinates -------------------------------------------------------------
def repair(state: CMAState, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the projection of x onto [0, 1]^n, the step y' that the update uses for it).

    Lamarckian repair: the evaluated point is the point CMA-ES learns from, y' = (P(x) - m) / (sigma A).
    Since m stays in the box (a convex combination of repaired points), |y'_i| <= |y_i|; a coordinate-wise
    shorter step can still be long in the metric of C, so y' is length-clipped to
    ||C^(-1/2) y'|| <= sqrt(n) + 2n / (n + 2), as for injected solutions (Hansen 2011, arXiv:1110.4181).
    """
    u = np.clip(x, 0.0, 1.0)
    y = (u - state.mean) / (state.sigma * state.A)
    if np.array_equal(u, x):
        return u, y
    return u, _clip_step(state, y)


def inject(state: CMAState, u: np.ndarray) -> np.ndarray:
    """The step y of an external point u (in the box) for the current distribution: y = (u - m) / (sigma
    A), length-clipped as an injected solution (Hansen 2011, arXiv:1110.4181).  Used for a
    candidate sampled from an earlier generation that is told after that generation was updated."""
    return _clip_step(state, (np.asarray(u, dtype=float) - state.mean) / (state.sigma * state.A))


def _clip_step(state: CMAState, y: np.ndarray) -> np.ndarray:
    """y shortened to ||C^(-1/2) y|| <= sqrt(n) + 2n / (n + 2) (Hansen 2011, arXiv:1110.4181)."""
    n = state.n
    norm = float(np.linalg.norm((state.B.T @ y) / state.D))
    limit = math.sqrt(n) + 2 * n / (n + 2)
    return y * (limit / norm) if norm > limit else y


def margin_scale(state: CMAState, cells: list[np.ndarray | None], alpha: float) -> None:
    """Set the margin scaling A of the integer coordinates (Hamano et al., GECCO 2022, Sec. 4).

    ``cells[i]`` holds the sorted thresholds in [0, 1] between the integer values of coordinate i
    (``None``: continuous).  The marginal N(m_i, (sigma A_i)^2 C_ii) is widened until the probability of
    leaving the mean's cell is at least alpha: alpha / 2 across each threshold of an interior cell, alpha
    across the single threshold of an edge cell (samples beyond the box are projected back into the edge
    cell).  The paper moves the mean for edge cells instead; widening keeps the mean where the update put
    it and gives the same lower bound.  A_i = 1 where the bound is not active.
    """
    sd = state.sigma * np.sqrt(np.diag(state.C))
    A = np.ones(state.n)
    for i, bounds in enumerate(cells):
        if bounds is None or bounds.size == 0 or sd[i] <= 0:
            continue
        m = float(state.mean[i])
        k = int(np.searchsorted(bounds, m, side="right"))
        gaps = [m - float(bounds[k - 1])] if k > 0 else []
        gaps += [float(bounds[k]) - m] if k < bounds.size else []
        z = _normal_quantile(1 - alpha / len(gaps))
        A[i] = max(1.0, max(gaps) / z / sd[i])
    state.A = A


def _normal_quantile(q: float) -> float:
    return NormalDist().inv_cdf(q)
