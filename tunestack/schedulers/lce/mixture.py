"""The predictive distribution of a curve's final value: a weighted mixture of Student-t components.

Each component is one curve shape's conditional predictive (see :mod:`.posterior`); all share the degrees
of freedom.  A component fitted to the logarithm of the curve (``log``) is a log-Student-t: Student-t in
``log x``, no mass at ``x <= 0``.  Quantiles invert the mixture's cdf numerically (a mixture has no
closed-form quantile).

A known lower bound of the value (``lower``; 0 for a loss or an error rate) conditions the whole mixture
on ``x > lower``: every component is truncated there and reweighted by its mass above it, so a
component that puts most of its mass on impossible values loses most of its weight (Bayes' rule with
the bound as prior knowledge).  Log components have no mass at or below 0 anyway.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import special

__all__ = ["Prediction"]


@dataclass(frozen=True)
class Prediction:
    """A mixture of Student-t (and log-Student-t) distributions for the value at the target budget."""

    weights: np.ndarray
    loc: np.ndarray  # in the component's space: the value, or its logarithm for a log component
    scale: np.ndarray
    dof: float
    family_weights: dict
    n_eff: float
    family: np.ndarray  # index (into the families fitted) of each component
    eta: np.ndarray  # [components, 2]: the shape parameters of each component
    log: np.ndarray | None = None  # per component: fitted to log(y) (a log-Student-t)
    space_weights: dict = field(default_factory=dict)  # posterior mass of each value space
    space_log_evidence: dict = field(default_factory=dict)  # log (tempered) evidence of each space
    within: np.ndarray | None = None  # each component's weight given its space (sums to 1 per space)
    lower: float | None = None  # a known lower bound of the value: the mixture is conditioned on x > lower

    def __post_init__(self) -> None:
        if self.log is None:
            object.__setattr__(self, "log", np.zeros(len(self.weights), dtype=bool))
        if self.within is None:
            object.__setattr__(self, "within", self.weights)
        # each component's mass at or below the bound, and the mixture's mass above it
        below = np.zeros(len(self.weights)) if self.lower is None else self._raw_cdf(np.array([self.lower]))[:, 0]
        object.__setattr__(self, "below", below)
        above = 1.0 if self.lower is None else max(float(np.dot(self.weights, 1.0 - below)), 1e-300)
        object.__setattr__(self, "_above", above)

    def given_space(self, space: str) -> "Prediction":
        """The predictive given one value space (``"identity"`` or ``"log"``): its components alone."""
        m = self.log if space == "log" else ~self.log
        if not np.any(m) or not self.within[m].sum() > 0:
            raise ValueError(f"the value space {space!r} has no components in this prediction")
        w = self.within[m] / self.within[m].sum()
        fam = {k: 0.0 for k in self.family_weights}
        return Prediction(w, self.loc[m], self.scale[m], self.dof, fam, self.n_eff, self.family[m], self.eta[m],
                          self.log[m], {space: 1.0}, {space: self.space_log_evidence.get(space, 0.0)},
                          lower=self.lower)

    def shape_mean(self, family: int, log: bool = False) -> np.ndarray:
        """Posterior mean of the shape parameters of one family (given that family and value space)."""
        m = (self.family == family) & (self.log == log)
        if not np.any(m):
            raise ValueError(f"family {family} has no posterior mass")
        w = self.weights[m] / self.weights[m].sum()
        return w @ self.eta[m]

    def _z(self, x: np.ndarray) -> np.ndarray:
        """Standardised arguments ``[components, len(x)]`` (``-inf`` for a log component at ``x <= 0``)."""
        x = np.atleast_1d(np.asarray(x, dtype=float))[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            lx = np.where(x > 0, np.log(np.where(x > 0, x, 1.0)), -np.inf)
        u = np.where(self.log[:, None], lx, x)
        return (u - self.loc[:, None]) / self.scale[:, None]

    def _raw_cdf(self, xs: np.ndarray) -> np.ndarray:
        """Every component's cdf at each of ``xs``, before the bound: ``[components, len(xs)]``."""
        return special.stdtr(self.dof, self._z(xs))

    def _cdf_many(self, xs: np.ndarray) -> np.ndarray:
        """The mixture's cdf at each of ``xs`` (conditioned on ``x > lower`` when there is a bound)."""
        xs = np.atleast_1d(np.asarray(xs, dtype=float))
        if self.lower is None:
            return self.weights @ self._raw_cdf(xs)
        mass = self.weights @ np.maximum(self._raw_cdf(xs) - self.below[:, None], 0.0)
        return np.where(xs > self.lower, np.minimum(mass / self._above, 1.0), 0.0)

    def cdf(self, x: float) -> float:
        return float(self._cdf_many(np.array([x]))[0])

    def sf(self, x: float) -> float:
        return 1.0 - self.cdf(x)

    def _log_dens(self, x: float) -> np.ndarray:
        """Log density of every component at ``x`` (the log components with their Jacobian ``1/x``),
        before the bound's normalisation; ``-inf`` at or below the bound."""
        if self.lower is not None and not x > self.lower:
            return np.full(len(self.weights), -np.inf)
        z = self._z(x)[:, 0]
        jac = np.where(self.log, -math.log(x) if x > 0 else -np.inf, 0.0)
        with np.errstate(invalid="ignore"):
            lp = _t_logpdf(z, self.dof) - np.log(self.scale) + jac
        return np.where(np.isfinite(z), lp, -np.inf)

    def logpdf(self, x: float) -> float:
        return float(special.logsumexp(self._log_dens(x), b=self.weights)) - math.log(self._above)

    def mean(self) -> float:
        """The mixture's mean; infinite when a log-Student-t component has weight (its mean does not
        exist: the exponential of a heavy tail).  Below a bound, each Student-t is truncated: ``E[T | T >
        a] = nu / (nu - 1) (1 + a^2 / nu) f(a) / (1 - F(a))`` for the standard one."""
        if np.any(self.log & (self.weights > 0)):
            return math.inf
        if self.lower is None:
            return float(np.dot(self.weights, self.loc))
        nu = self.dof
        a = (self.lower - self.loc) / self.scale
        tail = np.exp(_t_logpdf(a, nu)) * nu / (nu - 1.0) * (1.0 + a * a / nu)
        mean_above = self.loc + self.scale * tail / np.maximum(1.0 - self.below, 1e-300)
        return float(np.dot(self.weights * (1.0 - self.below), mean_above) / self._above)

    def median(self) -> float:
        return float(self.quantile([0.5])[0])

    def pdf(self, x: float) -> float:
        return float(np.dot(self.weights, np.exp(self._log_dens(x)))) / self._above

    def quantile(self, qs: list[float] | np.ndarray) -> np.ndarray:
        """Quantiles of the mixture: safeguarded Newton steps on its cdf inside a shrinking bracket."""
        return np.array([self._quantile(float(q)) for q in np.atleast_1d(qs)])

    def _quantile(self, q: float) -> float:
        if not 0.0 < q < 1.0:
            raise ValueError(f"a quantile level must be in (0, 1), got {q}")
        # each (truncated) component's own q-quantile: the mixture's lies between the extremes
        level = np.clip(self.below + q * (1.0 - self.below), 1e-300, 1.0 - 1e-16)
        comp = self.loc + self.scale * special.stdtrit(self.dof, level)
        comp = np.where(self.log, np.exp(np.clip(comp, -_LOG_MAX, _LOG_MAX)), comp)
        if self.lower is not None:
            comp = np.maximum(comp, self.lower)
        lo, hi = float(np.min(comp)), float(np.max(comp))  # the mixture quantile lies between these
        lo, hi = self._bracket(q, lo, hi)
        x = _mid(lo, hi)
        for _ in range(200):
            err = self.cdf(x) - q
            if err < 0:
                lo = x
            else:
                hi = x
            if abs(err) < 1e-10 or hi - lo <= 1e-13 * (abs(lo) + abs(hi)):
                break
            dens = self.pdf(x)
            step = x - err / dens if dens > 0 else math.nan
            x = step if lo < step < hi else _mid(lo, hi)
        return x

    def _bracket(self, q: float, lo: float, hi: float, points: int = 17) -> tuple[float, float]:
        """A narrower bracket of the ``q``-quantile from the cdf at ``points`` points at once."""
        xs = np.geomspace(lo, hi, points) if lo > 0 and hi > 10 * lo else np.linspace(lo, hi, points)
        cdf = self._cdf_many(xs)
        i = int(np.searchsorted(cdf, q))  # cdf[i - 1] < q <= cdf[i]
        return float(xs[max(i - 1, 0)]), float(xs[min(i, points - 1)])

    def interval(self, level: float) -> tuple[float, float]:
        lo, hi = self.quantile([(1 - level) / 2, (1 + level) / 2])
        return float(lo), float(hi)


_LOG_MAX = 700.0  # exp() beyond this overflows (underflows)


def _mid(lo: float, hi: float) -> float:
    """Bisection point: geometric across decades (log components' long right tails), else arithmetic."""
    return math.sqrt(lo * hi) if lo > 0 and hi > 10 * lo else 0.5 * (lo + hi)


def _t_logpdf(z: np.ndarray, dof: float) -> np.ndarray:
    """Log density of the standard Student-t."""
    c = special.gammaln((dof + 1) / 2) - special.gammaln(dof / 2) - 0.5 * math.log(dof * math.pi)
    with np.errstate(over="ignore"):  # |z| > ~1e154: z * z = inf, the log density -inf, as it should be
        return c - 0.5 * (dof + 1) * np.log1p(z * z / dof)
