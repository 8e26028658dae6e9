"""The TPE model of one group of dimensions: split, fit ``l`` and ``g``, propose by ``l / g``.

Bergstra et al., NeurIPS 2011, eq. 2-4: observations are split at the ``gamma`` quantile of their
values; ``l(x)`` is a Parzen estimator over the good ones, ``g(x)`` over the bad ones; the candidate
drawn from ``l`` with the largest ``l(x) / g(x)`` maximizes expected improvement under this model.
A searcher fits one model per group of dimensions that are active together (one group for a space
without conditions), on the observations where that group is active.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .parzen import Kernels, ParzenEstimator, aitchison_aitken_lambda, neighbour_bandwidths, scott_bandwidths

__all__ = ["TPEConfig", "TPEModel", "improvement_weights"]


@dataclass(frozen=True)
class TPEConfig:
    """Options of the TPE model (see :class:`tunestack.searchers.tpe.TPESearcher`)."""

    multivariate: bool = True
    gamma: float = 0.15
    max_good: int = 25
    prior_weight: float = 1.0
    bandwidth_factor: float = 1.0
    min_bandwidth: float = 1e-3
    max_bandwidth: float = 0.5
    magic_clip: float = 1.0
    cat_smoothing: float = 1.0
    bandwidth: str = "neighbour"
    liar_bandwidth: float = 0.5
    grow_candidates: bool = True
    sample_bandwidth_factor: float = 1.0
    min_good: int = 1
    good_weights: str = "uniform"


def improvement_weights(y_good: np.ndarray, y_split: float) -> np.ndarray | None:
    """Weights of the good kernels under ``good_weights="improvement"``: kernel ``i`` weighs its
    improvement ``y_split - y_i`` on the split point (the best value outside the good set), scaled to
    mean 1; ``None`` where that is undefined (no spread, or a non-finite value).

    With equal weights ``l / g`` is monotone in the probability that ``x`` improves on the split point:
    a good result counts by its rank only (Bergstra et al. 2011, eq. 4; Watanabe 2023, appendix A).
    Weighted so, ``l(x)`` is the kernel estimate of ``E[(y_split - y)^+ | x] p(x)`` up to a constant,
    and the ratio ranks candidates by expected improvement, as a regression model with EI would (the
    random-forest BO of ``rfbo`` does); the draws from ``l`` concentrate near the results that improved
    most.  A mean of 1 keeps the prior's share of ``l``.
    """
    w = float(y_split) - np.asarray(y_good, dtype=float)
    if not (w.size and np.all(np.isfinite(w)) and w.sum() > 0):
        return None
    return w / w.mean()


class TPEModel:
    """``l`` and ``g`` over observations ``X`` (``nan`` = inactive) with values ``y`` (minimized).

    ``n_choices`` describes the columns (0 = numeric); ``cell_width(mu)`` gives the cell of discrete
    numeric values (a kernel is never narrower); ``prior`` is an optional ``(mu, sigma)`` per column.
    """

    def __init__(self, X: np.ndarray, y: np.ndarray, n_choices: np.ndarray,
                 cell_width: Callable[[np.ndarray], np.ndarray], cfg: TPEConfig,
                 prior: tuple[np.ndarray, np.ndarray] | None = None):
        self.n_choices, self.cell_width, self.cfg, self.prior = n_choices, cell_width, cfg, prior
        self.n_numeric = int(np.sum(n_choices == 0))
        order = np.argsort(y, kind="stable")
        k = self.n_good(len(y))
        X_good, X_bad = X[order[:k]], X[order[k:]]
        self.good_bw = self.bandwidths(X_good)
        self.bad_bw = self.bandwidths(X_bad)
        w = None
        if cfg.good_weights == "improvement" and 0 < k < len(y):
            w = improvement_weights(y[order[:k]], y[order[k]])
        self.good_weight = 1.0 if w is None else w
        self.l = self._estimator(self.kernels(X_good, *self.good_bw, weight=self.good_weight))
        # BOHB draws its candidates from l with every bandwidth widened by a factor (Falkner et al.,
        # ICML 2018, Algorithm 2, b_w = 3) and scores them by l / g unwidened: more diverse candidates,
        # the same acquisition.  Categorical smoothing widens alike, up to the uniform distribution.
        f = cfg.sample_bandwidth_factor
        if f == 1.0:
            self.l_sample = self.l
        else:
            cap = (np.maximum(n_choices, 1) - 1) / np.maximum(n_choices, 1)
            self.l_sample = self._estimator(self.kernels(
                X_good, np.minimum(f * self.good_bw[0], 1.0), np.minimum(f * self.good_bw[1], cap),
                weight=self.good_weight))
        self.g = self._estimator(self.kernels(X_bad, *self.bad_bw))
        # Constant liar: a pending ask is one more bad observation (the worst value), with
        # ``liar_bandwidth`` x the bad set's typical bandwidth, so parallel asks avoid each other's
        # immediate neighbourhoods without reshaping l / g elsewhere.  Wider liars push the rest of a
        # batch away from the incumbent: the bad set's full typical bandwidth cost 1.65x the sequential
        # regret on the continuous suite, half of it 1.34x (1.43x -> 1.29x on 14 other problems; 20
        # seeds, benchmarks/searchers/results/parallel*.md); l's bandwidth or more weight over-explored.
        ref = self.bad_bw if len(X_bad) else self.good_bw
        typical = np.median(ref[0], axis=0) if len(ref[0]) else np.full(X.shape[1], cfg.max_bandwidth)
        self.liar_bw = (cfg.liar_bandwidth * typical, ref[1])

    def n_good(self, n: int) -> int:
        """Size of the good set among ``n`` observations: ``min(ceil(gamma n), max_good)`` (a linear
        split, as Optuna's default; Watanabe, arXiv:2304.11127, 2023, sec. 3.1), at least ``min_good``
        (BOHB keeps d + 1 points in each density, Falkner et al. 2018, sec. 3.2) and leaving one bad
        observation."""
        if n <= 1:
            return n
        k = max(min(math.ceil(self.cfg.gamma * n), self.cfg.max_good), self.cfg.min_good)
        return int(max(1, min(k, n - 1)))

    def bandwidths(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Numeric bandwidths per observation and column, and categorical smoothing per column.

        ``bandwidth="neighbour"`` (default): each value's larger gap to its sorted neighbours in that
        column (Bergstra et al. 2011, sec. 4.1; Optuna): narrow kernels where good points cluster,
        wide ones for outliers.  ``"scott"``: Scott's rule per column (the univariate form when not
        multivariate).  Either is scaled by ``bandwidth_factor`` and clipped to ``[floor,
        max_bandwidth]``, the floor being the larger of ``min_bandwidth`` and hyperopt's "magic clip"
        ``magic_clip / min(100, n + 1)`` (Watanabe 2023, sec. 3.4).  Aitchison-Aitken smoothing shrinks
        with the number of active values."""
        cfg = self.cfg
        n_active = np.sum(~np.isnan(X), axis=0)
        n_dims = max(self.n_numeric, 1) if cfg.multivariate else 1
        if cfg.bandwidth == "neighbour":
            h = cfg.bandwidth_factor * neighbour_bandwidths(X)
        else:
            h = cfg.bandwidth_factor * np.broadcast_to(scott_bandwidths(X, n_dims), X.shape)
        floor = np.maximum(cfg.min_bandwidth, cfg.magic_clip / np.minimum(100.0, n_active + 1.0))
        sigma = np.clip(np.nan_to_num(h, nan=cfg.max_bandwidth), np.minimum(floor, cfg.max_bandwidth),
                        cfg.max_bandwidth)
        sigma = np.where(self.n_choices > 0, 1.0, np.broadcast_to(sigma, X.shape))
        lam = np.array([aitchison_aitken_lambda(int(n), int(c), cfg.cat_smoothing)
                        for n, c in zip(n_active, self.n_choices)])
        return sigma, lam

    def kernels(self, X: np.ndarray, sigma: np.ndarray, lam: np.ndarray,
                weight: float | np.ndarray = 1.0) -> Kernels:
        """One product kernel per row of ``X`` (``weight``: one for all, or one per row); numeric
        bandwidths never below a discrete cell."""
        n, d = X.shape
        sig = np.maximum(np.broadcast_to(sigma, (n, d)), self.cell_width(X))
        w = np.broadcast_to(np.asarray(weight, dtype=float), (n,)).copy()
        return Kernels(X.copy(), sig, np.broadcast_to(lam, (n, d)).copy(), w)

    def _estimator(self, kernels: Kernels) -> ParzenEstimator:
        mu, sigma = self.prior if self.prior is not None else (None, None)
        return ParzenEstimator(kernels, self.n_choices, self.cfg.prior_weight, mu, sigma,
                               multivariate=self.cfg.multivariate)

    def propose(self, rng: np.random.Generator, n_candidates: int, pending: np.ndarray,
                snap: Callable[[np.ndarray], np.ndarray],
                allowed: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray | None:
        """The candidate (of ``n_candidates`` drawn from ``l``, then snapped) maximizing
        ``l(x) / g(x)``, with ``pending`` rows as constant liars in ``g``; ``None`` if none is allowed.

        With ``k`` pending rows, ``(k + 1) * n_candidates`` are drawn: each ask of a batch picks the
        best of as many candidates as the whole batch has drawn so far, with the asks before it
        penalized by their liars -- greedy batch construction as in local penalization (Gonzalez et
        al., AISTATS 2016, sec. 3), over a pool that grows with the batch.  Without it the later asks
        of a batch, kept out of the best region by the liars, settle for the best of few candidates
        elsewhere and the batch exploits the model less than as many sequential asks
        (``benchmarks/searchers/results/parallel.md``).  ``cfg.grow_candidates=False`` keeps
        ``n_candidates`` for asynchronous workers, where ``k`` pending asks are a steady state rather
        than a batch under construction: there the growing pool makes every ask the model's argmax
        (with 64 simulated workers the growing pool kept async_bohb's median seed from reaching the target;
        ``BENCHMARKS.md``, parallel speedup)."""
        g = self.g
        if len(pending):
            g = g.extended(self.kernels(pending, *self.liar_bw))
            if self.cfg.grow_candidates:
                n_candidates *= 1 + len(pending)
        cand = snap(self.l_sample.sample(rng, n_candidates))
        score = self.l.log_pdf(cand) - g.log_pdf(cand)  # log l(x) / g(x), Bergstra et al. 2011 eq. 4
        if allowed is not None:
            score[~allowed(cand)] = -np.inf
        if not np.isfinite(score).any():
            return None
        return cand[int(np.argmax(score))]
