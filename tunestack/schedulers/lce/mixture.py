"""The predictive distribution of a curve's final value: a weighted mixture of Student-t components.

Each component is one curve shape's conditional predictive (see :mod:`.posterior`); all share the degrees
of freedom.  Quantiles invert the mixture's cdf numerically (a mixture has no closed-form quantile).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special

__all__ = ["Prediction"]


@dataclass(frozen=True)
class Prediction:
    """A mixture of Student-t distributions for the value at the target budget (the user's units)."""

    weights: np.ndarray
    loc: np.ndarray
    scale: np.ndarray
    dof: float
    family_weights: dict
    n_eff: float
    family: np.ndarray  # index (into the families fitted) of each component
    eta: np.ndarray  # [components, 2]: the shape parameters of each component

    def shape_mean(self, family: int) -> np.ndarray:
        """Posterior mean of the shape parameters of one family (given that family)."""
        m = self.family == family
        if not np.any(m):
            raise ValueError(f"family {family} has no posterior mass")
        w = self.weights[m] / self.weights[m].sum()
        return w @ self.eta[m]

    def cdf(self, x: float) -> float:
        return float(np.dot(self.weights, special.stdtr(self.dof, (x - self.loc) / self.scale)))

    def sf(self, x: float) -> float:
        return 1.0 - self.cdf(x)

    def logpdf(self, x: float) -> float:
        lp = _t_logpdf((x - self.loc) / self.scale, self.dof) - np.log(self.scale)
        return float(special.logsumexp(lp, b=self.weights))

    def mean(self) -> float:
        return float(np.dot(self.weights, self.loc))

    def median(self) -> float:
        return float(self.quantile([0.5])[0])

    def pdf(self, x: float) -> float:
        z = (x - self.loc) / self.scale
        return float(np.dot(self.weights, np.exp(_t_logpdf(z, self.dof)) / self.scale))

    def quantile(self, qs: list[float] | np.ndarray) -> np.ndarray:
        """Quantiles of the mixture: safeguarded Newton steps on its cdf inside a shrinking bracket."""
        return np.array([self._quantile(float(q)) for q in np.atleast_1d(qs)])

    def _quantile(self, q: float) -> float:
        if not 0.0 < q < 1.0:
            raise ValueError(f"a quantile level must be in (0, 1), got {q}")
        comp = self.loc + self.scale * float(special.stdtrit(self.dof, q))
        lo, hi = float(np.min(comp)), float(np.max(comp))  # the mixture quantile lies between these
        lo, hi = self._bracket(q, lo, hi)
        x = 0.5 * (lo + hi)
        tol = 1e-9 * max(hi - lo, float(np.min(self.scale)))
        for _ in range(100):
            err = self.cdf(x) - q
            if err < 0:
                lo = x
            else:
                hi = x
            if abs(err) < 1e-9 or hi - lo <= tol:
                break
            dens = self.pdf(x)
            step = x - err / dens if dens > 0 else math.nan
            x = step if lo < step < hi else 0.5 * (lo + hi)
        return x

    def _bracket(self, q: float, lo: float, hi: float, points: int = 17) -> tuple[float, float]:
        """A narrower bracket of the ``q``-quantile from the cdf at ``points`` points at once."""
        xs = np.linspace(lo, hi, points)
        cdf = self.weights @ special.stdtr(self.dof, (xs[None, :] - self.loc[:, None]) / self.scale[:, None])
        i = int(np.searchsorted(cdf, q))  # cdf[i - 1] < q <= cdf[i]
        return float(xs[max(i - 1, 0)]), float(xs[min(i, points - 1)])

    def interval(self, level: float) -> tuple[float, float]:
        lo, hi = self.quantile([(1 - level) / 2, (1 + level) / 2])
        return float(lo), float(hi)


def _t_logpdf(z: np.ndarray, dof: float) -> np.ndarray:
    """Log density of the standard Student-t."""
    c = special.gammaln((dof + 1) / 2) - special.gammaln(dof / 2) - 0.5 * math.log(dof * math.pi)
    return c - 0.5 * (dof + 1) * np.log1p(z * z / dof)
