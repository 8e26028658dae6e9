"""The posterior predictive of a learning curve's final value: Bayesian model averaging over families.

Domhan et al. (2015) sample the posterior of a weighted combination of curve families with MCMC.  This
module computes a cheaper posterior of the same kind *without sampling*, exactly up to a quadrature:

* Within a family, ``y_i = c + a * phi(t_i; eta) + eps_i`` is a linear regression given the shape
  ``eta``.  With the reference prior ``p(c, sigma^2) ~ 1/sigma^2`` and Zellner's g-prior on the
  amplitude, ``a | sigma^2 ~ N(0, g sigma^2 / S_phiphi)`` with ``g = n`` (unit information; Kass &
  Wasserman 1995), the marginal likelihood is closed form (Liang et al. 2008, JASA, eq. 5):
  ``p(y | eta) ~ (1 + g)^((n-2)/2) * (1 + g (1 - R^2))^(-(n-1)/2)``,
  and the predictive of a new value at ``t*`` is Student-t with ``n - 1`` degrees of freedom,
  mean ``ybar + g/(1+g) * a_hat * (phi* - phibar)`` and squared scale
  ``s^2 (1 + 1/n + g/(1+g) (phi* - phibar)^2 / S_phiphi)``, ``s^2 = S_yy (1 - g/(1+g) R^2) / (n-1)``.
* ``eta`` gets a uniform prior on a fixed grid and every family the same prior mass, so the posterior is
  a mixture of Student-t's weighted by marginal likelihood: exact Bayesian model averaging on the grid.
* Learning-curve noise is autocorrelated (a good epoch is followed by a good epoch), which makes an iid
  likelihood overconfident.  The lag-1 autocorrelation ``rho`` of the best component's residuals gives
  an effective sample size ``n_eff = n (1 - rho) / (1 + rho)`` (the AR(1) variance inflation), and the
  likelihood is tempered by ``n_eff / n`` (a power posterior: the sufficient statistics count ``n_eff``
  points).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special

from .curves import FAMILIES, Family, basis

__all__ = ["Prediction", "predict_final", "MIN_POINTS"]

MIN_POINTS = 4  # fewer points leave too few degrees of freedom for a noise estimate
_RHO_MAX = 0.9
_MIN_WEIGHT = 1e-7  # mixture components below this posterior weight are dropped


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
        x = float(np.clip(np.dot(self.weights, comp), lo, hi))
        tol = 1e-10 * max(hi - lo, float(np.min(self.scale)))
        for _ in range(100):
            err = self.cdf(x) - q
            if err < 0:
                lo = x
            else:
                hi = x
            if abs(err) < 1e-12 or hi - lo <= tol:
                break
            dens = self.pdf(x)
            step = x - err / dens if dens > 0 else math.nan
            x = step if lo < step < hi else 0.5 * (lo + hi)
        return x

    def interval(self, level: float) -> tuple[float, float]:
        lo, hi = self.quantile([(1 - level) / 2, (1 + level) / 2])
        return float(lo), float(hi)


def _t_logpdf(z: np.ndarray, dof: float) -> np.ndarray:
    """Log density of the standard Student-t."""
    c = special.gammaln((dof + 1) / 2) - special.gammaln(dof / 2) - 0.5 * math.log(dof * math.pi)
    return c - 0.5 * (dof + 1) * np.log1p(z * z / dof)


def predict_final(t: np.ndarray, y: np.ndarray, t_target: float = 1.0,
                  families: tuple[Family, ...] = FAMILIES, autocorrelation: bool = True) -> Prediction:
    """The posterior predictive of the curve's value at ``t_target`` from points ``(t_i, y_i)``.

    ``t`` are scaled times (budget / max_budget), ``y`` finite values; at least ``MIN_POINTS`` points.
    """
    t, y = np.asarray(t, dtype=float), np.asarray(y, dtype=float)
    if t.shape != y.shape or t.ndim != 1:
        raise ValueError(f"t and y must be 1-d arrays of one length, got shapes {t.shape} and {y.shape}")
    if len(t) < MIN_POINTS:
        raise ValueError(f"need at least {MIN_POINTS} points to extrapolate a curve, got {len(t)}")
    if not (np.all(np.isfinite(y)) and np.all(t > 0)):
        raise ValueError("curve values must be finite and times positive")
    center, spread = float(np.mean(y)), float(np.std(y))
    spread = spread if spread > 1e-12 * (1.0 + abs(center)) else 1.0
    z = (y - center) / spread
    phi, owner = basis(np.append(t, t_target), families)
    eta = np.column_stack([np.concatenate([f.e1 for f in families]), np.concatenate([f.e2 for f in families])])
    ok = np.all(np.isfinite(phi), axis=1)
    phi, owner, eta = phi[ok], owner[ok], eta[ok]
    st = _stats(phi[:, :-1], z)
    n = len(z)
    prior = _log_prior(owner, len(families))
    rho = _lag1(st, phi[:, :-1], z) if autocorrelation else 0.0
    n_eff = max(min(n * (1 - rho) / (1 + rho), n), 3.0)
    logm, loc, scale2 = _components(st, phi[:, -1], n_eff)
    logw = logm + prior
    w = np.exp(logw - logw.max())
    w /= w.sum()
    keep = w > _MIN_WEIGHT
    w = w[keep] / w[keep].sum()
    fam_w = np.bincount(owner[keep], weights=w, minlength=len(families))
    scale = np.sqrt(np.maximum(scale2[keep], 1e-24)) * spread
    return Prediction(w, center + spread * loc[keep], scale, n_eff - 1.0,
                      {f.name: float(fam_w[k]) for k, f in enumerate(families)}, float(n_eff),
                      owner[keep], eta[keep])


def _stats(phi: np.ndarray, z: np.ndarray) -> dict:
    """Centred sufficient statistics of the regression of ``z`` on each row of ``phi``."""
    pbar = phi.mean(axis=1)
    pc = phi - pbar[:, None]
    zc = z - z.mean()
    spp = np.einsum("gn,gn->g", pc, pc)
    spy = pc @ zc
    syy = float(zc @ zc)
    flat = spp <= 1e-12 * np.maximum(1.0, np.abs(pbar)) ** 2  # phi constant on the data: no slope
    spp = np.where(flat, 1.0, spp)
    slope = np.where(flat, 0.0, spy / spp)
    r2 = np.where(flat | (syy <= 0), 0.0, np.clip(spy * slope / max(syy, 1e-300), 0.0, 1.0))
    return {"pbar": pbar, "spp": spp, "slope": slope, "r2": r2, "syy": syy, "zbar": float(z.mean()),
            "flat": flat, "n": len(z)}


def _lag1(st: dict, phi: np.ndarray, z: np.ndarray) -> float:
    """Lag-1 autocorrelation of the residuals of the best-fitting grid component, clipped to [0, 0.9].

    On a nearly noise-free curve the grid's own misfit counts as correlated noise too, which widens the
    predictive (conservative); on real curves the noise is far above the grid's resolution.
    """
    best = int(np.argmax(st["r2"]))
    r = z - (st["zbar"] + st["slope"][best] * (phi[best] - st["pbar"][best]))
    denom = float(r @ r)
    if denom <= 1e-300:
        return 0.0
    return float(np.clip((r[1:] @ r[:-1]) / denom, 0.0, _RHO_MAX))


def _components(st: dict, phi_t: np.ndarray, n_eff: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log marginal likelihood, predictive location and squared scale of every grid component.

    Liang et al. (2008) eq. 5 and the g-prior predictive, with the data counted ``n_eff`` times
    (power posterior).  Locations and scales are in the standardised units of ``z``.
    """
    g = n_eff
    shrink = g / (1.0 + g)
    r2, slope = st["r2"], st["slope"]
    logm = -0.5 * (n_eff - 1.0) * np.log1p(g * (1.0 - r2))
    # a phi that is constant on the data is the null model (Bayes factor 1 against the dropped constant)
    logm = np.where(st["flat"], -0.5 * (n_eff - 2.0) * math.log1p(g), logm)
    d = phi_t - st["pbar"]
    loc = st["zbar"] + shrink * slope * d
    lam = n_eff / st["n"]
    s2 = lam * st["syy"] * (1.0 - shrink * r2) / max(n_eff - 1.0, 1e-9)
    scale2 = s2 * (1.0 + 1.0 / n_eff + shrink * d ** 2 / (lam * st["spp"]))
    return logm, loc, scale2


def _log_prior(owner: np.ndarray, n_families: int) -> np.ndarray:
    """Every family the same prior mass, spread uniformly over its grid."""
    counts = np.bincount(owner, minlength=n_families).astype(float)
    present = counts > 0
    return -np.log(counts[owner]) - math.log(int(present.sum()))
