"""The posterior predictive of a learning curve's final value: Bayesian model averaging over families.

Domhan et al. (2015) sample the posterior of a weighted combination of curve families with MCMC.  This
module computes a cheaper posterior of the same kind *without sampling*, exactly up to quadratures:

* Within a family, ``y_i = c + a * phi(t_i; eta) + eps_i`` is a linear regression given the shape
  ``eta``.  With the reference prior ``p(c, sigma^2) ~ 1/sigma^2`` and Zellner's g-prior on the
  amplitude, ``a | sigma^2, g ~ N(0, g sigma^2 / S_phiphi)``, the Bayes factor against the flat curve is
  closed form (Liang et al. 2008, JASA, eq. 5, one regressor):
  ``BF(g) = (1 + g)^((n-2)/2) * (1 + g (1 - R^2))^(-(n-1)/2)``,
  and the predictive of a new value at ``t*`` is Student-t with ``n - 1`` degrees of freedom,
  mean ``ybar + g/(1+g) * a_hat * (phi* - phibar)`` and squared scale
  ``s^2 (1 + 1/n + g/(1+g) (phi* - phibar)^2 / S_phiphi)``, ``s^2 = S_yy (1 - g/(1+g) R^2) / (n-1)``.
* ``g`` gets the hyper-g/n prior ``p(g) = (a-2)/(2n) (1 + g/n)^(-a/2)``, ``a = 3`` (Liang et al. 2008,
  Sec. 3.2), integrated on a grid of ``log g``.  A fixed ``g = n`` (unit information) presumes a signal
  no larger than the noise; a learning curve's drop is often a hundred times its noise, and the fixed g
  then shrinks every extrapolated amplitude towards the curve's mean by ``1/(1+g)`` and inflates the
  noise by ``~var(y)/n`` (the first version's error).  The hyper prior lets the data set ``g``.  Given
  the shape, the mixture over ``g`` is collapsed to one Student-t by matching its mean and variance.
* ``eta`` gets a uniform prior on a fixed grid and every family the same prior mass.  No family set
  holds the true curve, and the marginal likelihood of a misspecified model concentrates on one wrong
  shape too fast: the shape weights use the *tempered* likelihood ``p(y | eta)^temper`` (a power
  posterior; Grünwald & van Ommen 2017, Bayesian Analysis; the learning rate is a calibration constant,
  Syring & Martin 2019, Biometrika).  ``temper = 1/4`` was set once on development curves (even
  configuration indices of the benchmark tables, and synthetic curves) by the coverage of the final
  value's predictive intervals; ``benchmarks/lce/README.md`` has the numbers.
* Learning-curve noise is autocorrelated (a good epoch is followed by a good epoch), which makes an iid
  likelihood overconfident.  The lag-1 autocorrelation ``rho`` of the best component's residuals gives
  an effective sample size ``n_eff = n (1 - rho) / (1 + rho)`` (the AR(1) variance inflation), and the
  likelihood is tempered by ``n_eff / n`` (the sufficient statistics count ``n_eff`` points).  One
  ``rho`` (the smaller of the two spaces' below) serves every component, so that evidence compares.
* Two value spaces.  A positive curve (a loss, an error rate) is also fitted as ``log y = c + a phi``
  (each component then a log-Student-t predictive): multiplicative noise becomes iid, and an
  extrapolation can approach zero but never cross it, where the identity space, extrapolating a steep
  early drop, puts mass on impossible negative losses.  The spaces compare through the marginal
  likelihood of the data in the units of ``y``: the log space in Box & Cox's (1964, JRSS B, Sec. 3)
  normalised form ``g log y`` (``g`` the geometric mean, unit Jacobian), the same reference prior in
  both.  Their prior masses (``space_prior``) are learnt by the scheduler from back-tests of its own
  trials (:func:`.calibration.space_weight`, Bayesian stacking), because the prefix fit alone rarely
  tells the spaces apart while their extrapolations differ.  A curve with any value ``<= 0`` is fitted
  in the identity space only.
"""
from __future__ import annotations

import math
from dataclasses import replace
from typing import Mapping

import numpy as np

from .curves import FAMILIES, Family, basis
from .mixture import Prediction

__all__ = ["Prediction", "predict_final", "MIN_POINTS", "TEMPER", "G_PRIORS", "SPACES"]

BURN_KEEP = 8  # a burn-in never leaves fewer points than this
MIN_POINTS = 4  # fewer points leave too few degrees of freedom for a noise estimate
TEMPER = 0.25  # learning rate of the shape posterior (see the module docstring)
G_PRIORS = ("hyper-g/n", "unit")  # "unit": g = n fixed (the first version; kept for ablations)
SPACES = ("identity", "log")  # value spaces the curve is fitted in (log only for positive curves)
_RHO_MAX = 0.9
_DROP_MASS = 1e-5  # the lightest components holding this much posterior mass in all are dropped
_GAP = 30.0  # tempered log-likelihood margin beyond which shapes are not evaluated (weight < e^-30)
_LOG_U = np.linspace(-2.0, 10.0, 13) * math.log(10.0)  # quadrature nodes of log(g / n), a decade apart
_A = 3.0  # hyper-g/n: p(u) = (a - 2)/2 (1 + u)^(-a/2), u = g / n; du = u dlog(u)
_LOG_PU = (math.log((_A - 2.0) / 2.0) - 0.5 * _A * np.log1p(np.exp(_LOG_U)) + _LOG_U + math.log(math.log(10.0)))


def predict_final(t: np.ndarray, y: np.ndarray, t_target: float = 1.0,
                  families: tuple[Family, ...] = FAMILIES, autocorrelation: bool = True,
                  g_prior: str = "hyper-g/n", temper: float = TEMPER, spaces: tuple[str, ...] = SPACES,
                  space_prior: Mapping[str, float] | None = None, burn_in: float = 0.0,
                  lower: float | None = None) -> Prediction:
    """The posterior predictive of the curve's value at ``t_target`` from points ``(t_i, y_i)``.

    ``t`` are scaled times (budget / max_budget), ``y`` finite values; at least ``MIN_POINTS`` points.
    ``spaces``: the value spaces averaged over, ``"identity"`` and ``"log"`` (used only when every value
    is positive; see the module docstring); ``space_prior``: their prior masses (default equal).
    ``g_prior`` and ``temper`` exist for ablations (see the module docstring).  ``burn_in``: the points
    before ``burn_in * t[-1]`` are left out of the fit (at least ``BURN_KEEP`` points stay).  ``lower``: a
    known lower bound of the value (0 for a loss or an error rate; every ``y`` must lie above it): the
    predictive is conditioned on ``final > lower`` (see :mod:`.mixture`).
    """
    t, y = _checked(t, y, g_prior, temper, spaces)
    if lower is not None and not bool(np.all(y > lower)):
        raise ValueError(f"lower={lower!r} is no lower bound of the curve: its least value is {float(np.min(y))!r}")
    if not 0.0 <= burn_in < 1.0:
        raise ValueError(f"burn_in must be in [0, 1), got {burn_in!r}")
    if burn_in > 0.0:
        drop = min(int(np.searchsorted(t, burn_in * t[-1], side="left")), max(len(t) - BURN_KEEP, 0))
        t, y = t[drop:], y[drop:]
    use = [sp for sp in SPACES if sp in spaces and (sp == "identity" or bool(np.all(y > 0)))] or ["identity"]
    phi0, owner0 = basis(np.append(t, t_target), families)
    eta0 = np.column_stack([np.concatenate([f.e1 for f in families]), np.concatenate([f.e2 for f in families])])
    names = [f.name for f in families]
    fits = [_Space(sp, y, phi0, owner0, eta0, len(names)) for sp in use]
    rhos = [f.rho() if autocorrelation else 0.0 for f in fits]
    rho = min(rhos)  # one noise model for all spaces (so that their evidence compares in any units)
    n = len(y)
    n_eff = max(min(n * (1 - rho) / (1 + rho), n), 3.0)
    prior = _space_prior(space_prior, [f.space for f in fits])
    cols: list[list[np.ndarray]] = [[] for _ in range(6)]
    evidence: dict[str, float] = {}
    for f in fits:
        lm, pr, loc, scale, owner, eta = f.components(n_eff, temper, g_prior)
        logw = temper * (lm + f.log_null(n_eff)) + pr
        top = float(logw.max())
        w = np.exp(logw - top)
        evidence[f.space] = top + math.log(float(w.sum()))  # log of the space's (tempered) evidence
        keep = _mass(w)
        for col, a in zip(cols, (w[keep] / w[keep].sum(), loc[keep], scale[keep], owner[keep], eta[keep],
                                 np.full(int(keep.sum()), f.space == "log"))):
            col.append(a)
    post = _space_posterior(evidence, prior)
    within = np.concatenate(cols[0])
    w = np.concatenate([post[f.space] * wi for f, wi in zip(fits, cols[0])])
    loc, scale, owner, eta, is_log = (np.concatenate(c) for c in cols[1:])
    fam_w = np.bincount(owner, weights=w, minlength=len(names))
    pred = Prediction(w, loc, scale, n_eff - 1.0, {name: float(fam_w[k]) for k, name in enumerate(names)},
                      float(n_eff), owner, eta, is_log, post, evidence, within,
                      None if lower is None else float(lower))
    return pred if lower is None else _bounded_spaces(pred, prior)


def _bounded_spaces(pred: Prediction, prior: Mapping[str, float]) -> Prediction:
    """The bound conditions the spaces as it conditions the components: each space's evidence gains the
    log of its predictive mass above the bound (the mixture itself is conditioned in :class:`Prediction`;
    this makes the reported space masses and evidence, which the stacking reads, say the same)."""
    evidence = dict(pred.space_log_evidence)
    for sp in evidence:
        m = pred.log == (sp == "log")
        above = float(np.dot(pred.within[m], 1.0 - pred.below[m]))
        evidence[sp] += math.log(max(above, 1e-300))
    return replace(pred, space_weights=_space_posterior(evidence, prior), space_log_evidence=evidence)


def _space_prior(space_prior: Mapping[str, float] | None, spaces: list[str]) -> dict[str, float]:
    """The prior mass of each space in use (uniform by default), renormalised over those in use."""
    raw = {sp: (1.0 if space_prior is None else float(space_prior.get(sp, 0.0))) for sp in spaces}
    total = sum(raw.values())
    if not total > 0:
        raw, total = {sp: 1.0 for sp in spaces}, float(len(spaces))
    return {sp: v / total for sp, v in raw.items()}


def _space_posterior(evidence: Mapping[str, float], prior: Mapping[str, float]) -> dict[str, float]:
    """``P(space | y)`` from the spaces' log evidence and prior mass."""
    lw = {sp: evidence[sp] + math.log(prior[sp]) for sp in evidence if prior[sp] > 0}
    top = max(lw.values())
    w = {sp: math.exp(v - top) for sp, v in lw.items()}
    total = sum(w.values())
    return {sp: w.get(sp, 0.0) / total for sp in evidence}


class _Space:
    """The regressions of one value space (``y`` or ``log y``) on every basis, in standardised units.

    ``log_null`` puts the spaces on one footing: the marginal likelihood of the data *in the units of
    y* of the flat curve under the reference prior, ``p(y | null) ~ S^(-(n-1)/2)``, with the log space
    in Box & Cox's (1964) normalised form ``g * log y`` (``g`` the geometric mean of ``y``: unit
    Jacobian), so the Bayes factors of all components compare across spaces.
    """

    def __init__(self, space: str, y: np.ndarray, phi: np.ndarray, owner: np.ndarray, eta: np.ndarray,
                 n_families: int):
        self.space = space
        v = np.log(y) if space == "log" else y
        ok = np.all(np.isfinite(phi), axis=1)
        self.phi, self.owner, self.eta = phi[ok], owner[ok], eta[ok]
        self.prior = _log_prior(self.owner, n_families)
        center, spread = float(np.mean(v)), float(np.std(v))
        self.center = center
        self.spread = spread if spread > 1e-12 * (1.0 + abs(center)) else 1.0
        self.unit = float(np.exp(np.mean(v))) if space == "log" else 1.0  # Box-Cox: y ~ g * log y locally
        self.z = (v - center) / self.spread
        self.st = _stats(self.phi[:, :-1], self.z)

    def rho(self) -> float:
        return _lag1(self.st, self.phi[:, :-1], self.z)

    def log_null(self, n_eff: float) -> float:
        """``log p(y | flat curve)`` up to the constant every space shares (``S_yy`` = n spread^2)."""
        return -(n_eff - 1.0) * math.log(self.spread * self.unit)

    def components(self, n_eff: float, temper: float, g_prior: str) -> tuple[np.ndarray, ...]:
        """``(log BF, log prior, loc, scale, owner, eta)`` of the plausible components, loc and scale in
        the space's own units (values, or log values)."""
        sub = _plausible(self.st, n_eff, temper)
        st = {k: (v[sub] if isinstance(v, np.ndarray) else v) for k, v in self.st.items()}
        components = _components_hyper if g_prior == "hyper-g/n" else _components_unit
        logm, loc, scale2 = components(st, self.phi[sub, -1], n_eff)
        scale = np.sqrt(np.maximum(scale2, 1e-24)) * self.spread
        return logm, self.prior[sub], self.center + self.spread * loc, scale, self.owner[sub], self.eta[sub]


def _mass(w: np.ndarray) -> np.ndarray:
    """Mask of the components that remain when the lightest ones, ``_DROP_MASS`` in all, are dropped
    (every probability changes by less than that; the cost of a cdf falls with the count)."""
    order = np.argsort(w)
    light = np.cumsum(w[order]) <= _DROP_MASS
    keep = np.ones(len(w), dtype=bool)
    keep[order[light]] = False
    return keep


def _checked(t: np.ndarray, y: np.ndarray, g_prior: str, temper: float,
             spaces: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    t, y = np.asarray(t, dtype=float), np.asarray(y, dtype=float)
    if t.shape != y.shape or t.ndim != 1:
        raise ValueError(f"t and y must be 1-d arrays of one length, got shapes {t.shape} and {y.shape}")
    if len(t) < MIN_POINTS:
        raise ValueError(f"need at least {MIN_POINTS} points to extrapolate a curve, got {len(t)}")
    if not (np.all(np.isfinite(y)) and np.all(t > 0)):
        raise ValueError("curve values must be finite and times positive")
    if g_prior not in G_PRIORS:
        raise ValueError(f"g_prior must be one of {G_PRIORS}, got {g_prior!r}")
    if not 0.0 < temper <= 1.0:
        raise ValueError(f"temper must be in (0, 1], got {temper!r}")
    if not spaces or any(sp not in SPACES for sp in spaces):
        raise ValueError(f"spaces must be a non-empty subset of {SPACES}, got {spaces!r}")
    return t, y


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


def _plausible(st: dict, n_eff: float, temper: float) -> np.ndarray:
    """Shapes whose (tempered) marginal likelihood can matter; skipping the rest only saves time.

    Under any g the Bayes factor grows like ``(1 - R^2)^(-(n-2)/2)``, so shapes whose ``R^2`` is far
    below the best one's carry no weight (the margin ``_GAP`` covers the prior and the g terms).
    """
    r2 = np.minimum(st["r2"], 1.0 - 1e-15)
    gap = 0.5 * (n_eff - 2.0) * temper * (np.log1p(-r2) - math.log1p(-float(r2.max())))
    return (gap < _GAP) | st["flat"]


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


def _given_g(st: dict, d: np.ndarray, n_eff: float, g: np.ndarray | float
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log Bayes factor, predictive location and squared scale given ``g`` (Liang et al. 2008, eq. 5
    and the g-prior predictive), with the data counted ``n_eff`` times; in standardised units of ``z``."""
    shrink = g / (1.0 + g)
    logbf = 0.5 * (n_eff - 2.0) * np.log1p(g) - 0.5 * (n_eff - 1.0) * np.log1p(g * (1.0 - st["r2"]))
    logbf = np.where(st["flat"], 0.0, logbf)  # a phi constant on the data is the flat curve: BF = 1
    loc = st["zbar"] + shrink * st["slope"] * d
    lam = n_eff / st["n"]
    s2 = lam * st["syy"] * (1.0 - shrink * st["r2"]) / max(n_eff - 1.0, 1e-9)
    scale2 = s2 * (1.0 + 1.0 / n_eff + shrink * d ** 2 / (lam * st["spp"]))
    return logbf, loc, scale2


def _components_unit(st: dict, phi_t: np.ndarray, n_eff: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every shape's log marginal likelihood, predictive location and squared scale with ``g = n_eff``."""
    return _given_g(st, phi_t - st["pbar"], n_eff, n_eff)


def _components_hyper(st: dict, phi_t: np.ndarray, n_eff: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """As :func:`_components_unit`, with ``g`` integrated over the hyper-g/n prior on a log grid; the
    mixture over ``g`` of each shape is collapsed to its mean and variance."""
    col = {k: (v[:, None] if isinstance(v, np.ndarray) else v) for k, v in st.items()}
    g = n_eff * np.exp(_LOG_U)[None, :]
    logbf, loc_g, scale2_g = _given_g(col, (phi_t - st["pbar"])[:, None], n_eff, g)
    logbf = logbf + _LOG_PU[None, :]
    top = logbf.max(axis=1, keepdims=True)
    w = np.exp(logbf - top)
    total = w.sum(axis=1)
    logm = top[:, 0] + np.log(total)
    w /= total[:, None]
    loc = np.einsum("gk,gk->g", w, loc_g)
    scale2 = np.einsum("gk,gk->g", w, scale2_g + loc_g ** 2) - loc ** 2
    return logm, loc, np.maximum(scale2, 0.0)


def _log_prior(owner: np.ndarray, n_families: int) -> np.ndarray:
    """Every family the same prior mass, spread uniformly over its grid."""
    counts = np.bincount(owner, minlength=n_families).astype(float)
    present = counts > 0
    return -np.log(counts[owner]) - math.log(int(present.sum()))
