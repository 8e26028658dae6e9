"""Parzen estimators over encoded vectors: the density model of the TPE searcher.

A Parzen estimator is a weighted mixture of product kernels, one per observation (Bergstra et al.,
NeurIPS 2011, eq. 2-3; multivariate product kernels as in BOHB, Falkner et al., ICML 2018, sec. 3.2).
Vectors are tunestack encodings: numeric dimensions in ``[0, 1]``, categorical dimensions hold a
choice index, ``nan`` marks an inactive dimension.

* numeric dimension: a Gaussian truncated to ``[0, 1]`` (centre = observed value, bandwidth ``sigma``);
* categorical dimension: an Aitchison-Aitken kernel (Aitchison & Aitken, Biometrika 1976, eq. 2.2):
  the observed choice with probability ``1 - lam``, each other choice with ``lam / (c - 1)``;
* a dimension where the observation is inactive is *not imputed*: its kernel is the uniform density,
  so the observation says nothing about that dimension (tree-structured spaces, Bergstra et al. 2011
  sec. 4; Watanabe, arXiv:2304.11127, 2023, sec. 2.3);
* the prior is one more component (weight ``prior_weight``) that is uniform in every dimension, or a
  truncated normal where a parameter declares a normal prior (Watanabe 2023, sec. 3.3).

``log_pdf`` is one matrix product: the log of a product kernel is a sum over dimensions of terms that
are bilinear in features of the point and features of the component.  Dimensions of a point that are
``nan`` are marginalized out, so the density of a conditional configuration covers its active
dimensions only.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri

__all__ = ["Kernels", "ParzenEstimator", "scott_bandwidths", "neighbour_bandwidths", "aitchison_aitken_lambda"]

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


@dataclass(frozen=True)
class Kernels:
    """Product kernels of a set of observations (rows), before they are mixed.

    ``mu`` holds the centres (``nan`` = inactive), ``sigma`` the numeric bandwidths and ``lam`` the
    categorical smoothing per row and dimension (only numeric or categorical columns are read).
    """

    mu: np.ndarray
    sigma: np.ndarray
    lam: np.ndarray
    weight: np.ndarray

    @property
    def n(self) -> int:
        return int(self.mu.shape[0])


def scott_bandwidths(X: np.ndarray, n_dims: int) -> np.ndarray:
    """Scott's rule per column, ``s * n ** (-1 / (n_dims + 4))`` (Scott 1992, eq. 6.42), with the
    robust spread ``s = min(std, IQR / 1.349)`` (Silverman 1986, eq. 3.31) of the column's non-``nan``
    values; ``nan`` for a column with fewer than two values."""
    srt = np.sort(X, axis=0)  # nan sort last
    n = np.sum(~np.isnan(X), axis=0)
    out = np.full(X.shape[1], np.nan)
    ok = n >= 2
    if not ok.any():
        return out
    cols = np.flatnonzero(ok)
    nn = n[cols]
    vals = np.where(np.isnan(srt[:, cols]), 0.0, srt[:, cols])
    mean = vals.sum(axis=0) / nn
    resid = np.where(np.arange(X.shape[0])[:, None] < nn, vals - mean, 0.0)
    std = np.sqrt((resid ** 2).sum(axis=0) / (nn - 1))
    iqr = (_quantile_sorted(vals, nn, 0.75) - _quantile_sorted(vals, nn, 0.25)) / 1.349
    spread = np.where(iqr > 0, np.minimum(std, iqr), std)
    out[cols] = spread * nn ** (-1.0 / (n_dims + 4))
    return out


def neighbour_bandwidths(X: np.ndarray) -> np.ndarray:
    """Per observation and column, the larger gap to its sorted neighbours among the column's
    non-``nan`` values (the unit interval's ends count as neighbours only with fewer than two values),
    as in hyperopt and Optuna (Bergstra et al. 2011, sec. 4.1); ``nan`` where a value is ``nan``."""
    out = np.full(X.shape, np.nan)
    for j in range(X.shape[1]):
        rows = np.flatnonzero(~np.isnan(X[:, j]))
        if rows.size == 0:
            continue
        order = rows[np.argsort(X[rows, j], kind="stable")]
        ext = np.concatenate([[0.0], X[order, j], [1.0]])
        left, right = ext[1:-1] - ext[:-2], ext[2:] - ext[1:-1]
        if rows.size >= 2:  # interior neighbours only at the ends
            left[0], right[-1] = right[0], left[-1]
        out[order, j] = np.maximum(left, right)
    return out


def _quantile_sorted(srt: np.ndarray, n: np.ndarray, q: float) -> np.ndarray:
    """The ``q`` quantile (linear interpolation) of the first ``n[j]`` sorted values of each column."""
    pos = q * (n - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n - 1)
    cols = np.arange(srt.shape[1])
    return srt[lo, cols] + (pos - lo) * (srt[hi, cols] - srt[lo, cols])


def aitchison_aitken_lambda(n: int, n_choices: int, strength: float) -> float:
    """Probability mass a categorical kernel moves off its observed choice.

    Shrinks like ``strength / sqrt(1 + n)`` with the number of observations behind the estimate and is
    capped at ``(c - 1) / c`` (the uniform distribution), the upper end of Aitchison & Aitken's range."""
    if n_choices <= 1:
        return 0.0
    return float(min(1.0, strength / math.sqrt(1.0 + n)) * (n_choices - 1) / n_choices)


def _logsumexp(a: np.ndarray) -> np.ndarray:
    m = np.max(a, axis=1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    return np.log(np.sum(np.exp(a - m), axis=1)) + m[:, 0]


class _Block:
    """Precomputed per-component arrays of a :class:`Kernels` (features for ``log_pdf``)."""

    def __init__(self, k: Kernels, n_choices: np.ndarray, num: np.ndarray, cat: np.ndarray):
        self.k = k
        self.active = ~np.isnan(k.mu)
        self.mu_num = np.where(self.active[:, num], k.mu[:, num], 0.5)
        self.sig_num = np.asarray(k.sigma[:, num], dtype=float)
        # log normalizer of a Gaussian truncated to [0, 1]
        z = ndtr((1.0 - self.mu_num) / self.sig_num) - ndtr(-self.mu_num / self.sig_num)
        self.log_z = np.log(np.maximum(z, 1e-300))
        self.tables = [_cat_table(k, self.active, j, int(n_choices[j])) for j in cat]
        m = self.active[:, num]
        inv_var = np.where(m, 1.0 / self.sig_num ** 2, 0.0)
        const = np.where(m, 0.5 * self.mu_num ** 2 * inv_var + np.log(self.sig_num) + _LOG_SQRT_2PI
                         + self.log_z, 0.0)
        self.features = np.hstack([-0.5 * inv_var, inv_var * self.mu_num, -const] + self.tables)


def _cat_table(k: Kernels, active: np.ndarray, j: int, c: int) -> np.ndarray:
    """(n_components, c): log kernel of each choice of categorical dimension ``j``."""
    act = active[:, j]
    if c <= 1:
        return np.zeros((k.n, c))
    lam = np.clip(k.lam[:, j], 1e-12, (c - 1.0) / c)
    table = np.repeat(np.log(lam / (c - 1))[:, None], c, axis=1)
    rows = np.flatnonzero(act)
    table[rows, k.mu[rows, j].astype(int)] = np.log1p(-lam[rows])
    table[~act] = -math.log(c)
    return table


class ParzenEstimator:
    """A mixture of :class:`Kernels` plus a prior component, with ``log_pdf`` and ``sample``.

    ``n_choices[d]`` is the number of choices of a categorical dimension and 0 for a numeric one.
    ``prior_mu`` / ``prior_sigma`` give a normal prior for numeric dimensions (``nan`` = uniform).
    With ``multivariate=False`` the density is the product of per-dimension mixtures, each over the
    observations active in that dimension and the prior (the original, univariate TPE).
    """

    def __init__(self, kernels: Kernels, n_choices: np.ndarray, prior_weight: float = 1.0,
                 prior_mu: np.ndarray | None = None, prior_sigma: np.ndarray | None = None,
                 multivariate: bool = True):
        d = int(np.size(n_choices))
        self.n_choices = np.asarray(n_choices, dtype=int)
        self.num = np.flatnonzero(self.n_choices == 0)
        self.cat = np.flatnonzero(self.n_choices > 0)
        self.multivariate = multivariate
        prior = Kernels(
            mu=np.full((1, d), np.nan) if prior_mu is None else np.asarray(prior_mu, float).reshape(1, d),
            sigma=np.ones((1, d)) if prior_sigma is None else np.asarray(prior_sigma, float).reshape(1, d),
            lam=np.zeros((1, d)), weight=np.array([float(prior_weight)]))
        self._blocks = [self._block(prior), self._block(kernels)]
        self._assemble()

    def _block(self, k: Kernels) -> _Block:
        return _Block(k, self.n_choices, self.num, self.cat)

    def extended(self, kernels: Kernels) -> "ParzenEstimator":
        """This mixture with more components (only the new ones are precomputed)."""
        new = object.__new__(ParzenEstimator)
        new.n_choices, new.num, new.cat, new.multivariate = self.n_choices, self.num, self.cat, self.multivariate
        new._blocks = self._blocks + [self._block(kernels)]
        new._assemble()
        return new

    def _assemble(self) -> None:
        b = self._blocks
        self.weight = np.concatenate([x.k.weight for x in b])
        if not self.weight.sum() > 0:  # no observation and no prior weight: fall back to the prior
            self.weight = np.concatenate([[1.0], self.weight[1:]])
        self.n = self.weight.size
        self.mu = np.concatenate([x.k.mu for x in b])
        self.lam = np.concatenate([x.k.lam for x in b])
        self.active = np.concatenate([x.active for x in b])
        self.mu_num = np.concatenate([x.mu_num for x in b])
        self.sig_num = np.concatenate([x.sig_num for x in b])
        self.log_z = np.concatenate([x.log_z for x in b])
        self.features = np.concatenate([x.features for x in b])
        self.tables = [np.concatenate(t) for t in zip(*(x.tables for x in b))]
        with np.errstate(divide="ignore"):
            self.log_w = np.log(self.weight / self.weight.sum())
        # components that take part in a dimension's univariate mixture: those active there, the prior
        self.takes_part = self.active.copy()
        self.takes_part[0] = self.weight[0] > 0

    # ---- density ------------------------------------------------------------------------------------
    def log_pdf(self, x: np.ndarray) -> np.ndarray:
        """Log density of each row of ``x`` (``nan`` dimensions are marginalized out)."""
        x = np.atleast_2d(np.asarray(x, dtype=float))
        if self.multivariate:
            # einsum (no BLAS threads): single-threaded, exactly reproducible, fast at these sizes
            return _logsumexp(np.einsum("ik,jk->ij", self._point_features(x), self.features) + self.log_w)
        return self._log_pdf_univariate(x)

    def _point_features(self, x: np.ndarray) -> np.ndarray:
        act = ~np.isnan(x)
        xn = np.where(act[:, self.num], x[:, self.num], 0.0)
        parts = [xn ** 2, xn, act[:, self.num].astype(float)]
        for j in self.cat:
            onehot = np.zeros((x.shape[0], int(self.n_choices[j])))
            rows = np.flatnonzero(act[:, j])
            onehot[rows, x[rows, j].astype(int)] = 1.0
            parts.append(onehot)
        return np.hstack(parts)

    def _log_pdf_univariate(self, x: np.ndarray) -> np.ndarray:
        """Bergstra et al. 2011 eq. 2 per dimension; the density is the product over active dims."""
        out = np.zeros(x.shape[0])
        for col, j in enumerate(self.num):
            ok = ~np.isnan(x[:, j])
            z = (x[ok, j][:, None] - self.mu_num[:, col]) / self.sig_num[:, col]
            lk = -0.5 * z ** 2 - np.log(self.sig_num[:, col]) - _LOG_SQRT_2PI - self.log_z[:, col]
            out[ok] += _logsumexp(np.where(self.active[:, j], lk, 0.0) + self._dim_log_weights(j))
        for table, j in zip(self.tables, self.cat):
            ok = ~np.isnan(x[:, j])
            out[ok] += _logsumexp(table[:, x[ok, j].astype(int)].T + self._dim_log_weights(j))
        return out

    def _dim_weights(self, j: int) -> np.ndarray:
        w = np.where(self.takes_part[:, j], self.weight, 0.0)
        total = w.sum()
        return w / total if total > 0 else np.full(w.size, 1.0 / w.size)

    def _dim_log_weights(self, j: int) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return np.log(self._dim_weights(j))

    # ---- sampling -----------------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` draws, every dimension filled (the caller normalizes activity): pick a component by
        weight (per dimension when univariate), then draw each dimension from its kernel, or uniformly
        where the component is inactive."""
        d = self.n_choices.size
        if self.multivariate:
            comp = np.repeat(rng.choice(self.n, size=n, p=self.weight / self.weight.sum())[:, None], d, axis=1)
        else:
            comp = np.stack([rng.choice(self.n, size=n, p=self._dim_weights(j)) for j in range(d)], axis=1)
        u, v = rng.random((n, d)), rng.random((n, d))
        out = np.empty((n, d))
        for col, j in enumerate(self.num):  # truncated normal by inverse CDF
            ci = comp[:, j]
            mu, sig = self.mu_num[ci, col], self.sig_num[ci, col]
            lo, hi = ndtr(-mu / sig), ndtr((1.0 - mu) / sig)
            draw = mu + sig * ndtri(np.clip(lo + u[:, j] * (hi - lo), 1e-300, 1.0 - 1e-16))
            out[:, j] = np.clip(np.where(self.active[ci, j], draw, u[:, j]), 0.0, 1.0)
        for j in self.cat:
            c, ci = int(self.n_choices[j]), comp[:, j]
            act = self.active[ci, j]
            uniform = np.minimum(np.floor(u[:, j] * c), c - 1)
            if c > 1:
                centre = np.where(act, self.mu[ci, j], 0.0)
                other = np.minimum(np.floor(v[:, j] * (c - 1)), c - 2)
                other = other + (other >= centre)  # uniform among the c - 1 other choices
                kernel = np.where(u[:, j] < self.lam[ci, j], other, centre)
            else:
                kernel = np.zeros(n)
            out[:, j] = np.where(act, kernel, uniform)
        return out
