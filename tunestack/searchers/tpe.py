"""TPE: the tree-structured Parzen estimator searcher (``"tpe"``).

Bergstra, Bardenet, Bengio & Kegl, "Algorithms for hyper-parameter optimization", NeurIPS 2011, with
the components later work found to matter (Falkner et al., BOHB, ICML 2018; Watanabe, "Tree-structured
Parzen estimator: understanding its algorithm components", arXiv:2304.11127, 2023):

1. the observations at the model budget are split by value: the best ``n_good(n)`` form the good set,
   the rest (and failures, told as the worst value) the bad set (Bergstra et al. 2011, eq. 2);
2. ``l(x)`` is a Parzen estimator over the good set, ``g(x)`` over the bad set
   (:mod:`tunestack.searchers.parzen`: multivariate product kernels by default, a prior component,
   Scott bandwidths, Aitchison-Aitken categorical smoothing, inactive dimensions not imputed);
3. candidates are drawn from ``l`` and the one maximizing ``l(x) / g(x)`` is proposed, which maximizes
   expected improvement under the TPE model (Bergstra et al. 2011, eq. 3-4).

Pending asks are constant liars: each is a kernel of ``g`` with the bandwidths of ``l``, so that
parallel asks repel each other at the resolution the good set is modelled with.  With tells at several
budgets, the model uses the largest budget with enough observations (BOHB, Falkner et al. 2018,
sec. 3.2).  The first ``n_startup`` asks come from a scrambled Sobol design.  The model is refit from
the trial history, so the base class's JSON state is all the state there is; fits are cached between
asks until the next tell.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from .base import Searcher, SearcherError
from .initial_design import sobol_design
from .parzen import Kernels, ParzenEstimator, aitchison_aitken_lambda, scott_bandwidths
from .tpe_dims import Dims
from .trial_table import TrialTable

__all__ = ["TPESearcher"]

_Model = tuple[ParzenEstimator, ParzenEstimator, tuple[np.ndarray, np.ndarray]]


class TPESearcher(Searcher):
    """Tree-structured Parzen estimator; see the module docstring.

    Options: ``multivariate`` (joint product kernels; ``False`` = one mixture per dimension),
    ``n_startup`` (Sobol points before the model; default ``max(10, min(2 * dim, 20))``),
    ``n_candidates`` (draws from ``l`` per ask), ``gamma`` and ``max_good`` (good-set size
    ``min(ceil(gamma * n), max_good)``, at least 2), ``prior_weight`` (weight of the prior component,
    in observations), ``bandwidth_factor`` (scales Scott's rule), ``min_bandwidth`` / ``max_bandwidth``
    (clip numeric bandwidths, unit scale), ``cat_smoothing`` (strength of Aitchison-Aitken smoothing),
    ``min_points`` (observations a budget needs to be modelled; default ``dim + 1``), ``constant_liar``.
    """

    name = "tpe"

    def __init__(self, space: Any, mode: str = "min", seed: int | None = None, *,
                 multivariate: bool = True, n_startup: int | None = None, n_candidates: int = 24,
                 gamma: float = 0.15, max_good: int = 25, prior_weight: float = 1.0,
                 bandwidth_factor: float = 1.0, min_bandwidth: float = 1e-3, max_bandwidth: float = 0.5,
                 cat_smoothing: float = 1.0, magic_clip: float = 1.0, min_points: int | None = None, constant_liar: bool = True):
        super().__init__(space, mode=mode, seed=seed)
        _check_options(n_startup=n_startup, n_candidates=n_candidates, gamma=gamma, max_good=max_good,
                       prior_weight=prior_weight, bandwidth_factor=bandwidth_factor,
                       min_bandwidth=min_bandwidth, max_bandwidth=max_bandwidth,
                       cat_smoothing=cat_smoothing, min_points=min_points)
        d = self.space.dim
        self.multivariate = bool(multivariate)
        self.n_startup = int(n_startup) if n_startup is not None else max(10, min(2 * d, 20))
        self.n_candidates = int(n_candidates)
        self.gamma, self.max_good = float(gamma), int(max_good)
        self.prior_weight = float(prior_weight)
        self.bandwidth_factor = float(bandwidth_factor)
        self.min_bandwidth, self.max_bandwidth = float(min_bandwidth), float(max_bandwidth)
        self.cat_smoothing = float(cat_smoothing)
        self.magic_clip = float(magic_clip)
        self.min_points = int(min_points) if min_points is not None else max(2, min(d + 1, self.n_startup))
        self.constant_liar = bool(constant_liar)
        self.dims = Dims(self.space)
        self._design: np.ndarray | None = None
        self._table = TrialTable(d)  # the trial history as arrays, kept up to date by the hooks
        self._version = 0  # bumped by every tell: the fit is cached per version
        self._cache: tuple[int, _Model | None] | None = None

    # ---- the ask ------------------------------------------------------------------------------------
    def _propose(self) -> np.ndarray:
        if len(self.trials) < self.n_startup:
            return self._startup_point()
        model = self._fit()
        if model is None:
            return self.space.sample_vectors(self.rng, 1)[0]
        l_est, g_est, good_bw = model
        pending = self._table.pending()
        if self.constant_liar and len(pending):  # constant liars: pending asks join g, good bandwidths
            g_est = g_est.extended(self._kernels(pending, *good_bw))
        cand = self.dims.snap(l_est.sample(self.rng, self.n_candidates))
        score = l_est.log_pdf(cand) - g_est.log_pdf(cand)  # log l(x) / g(x), Bergstra et al. 2011 eq. 4
        score[~self._allowed(cand)] = -np.inf
        if not np.isfinite(score).any():
            return self.space.sample_vectors(self.rng, 1)[0]
        return cand[int(np.argmax(score))]

    def _allowed(self, cand: np.ndarray) -> np.ndarray:
        """Candidates that are neither an earlier trial's vector nor forbidden."""
        keys = np.round(np.nan_to_num(cand, nan=-1.0), 12).tolist()  # the rounding of base._key
        ok = np.array([tuple(k) not in self._seen for k in keys])
        if self.space.has_forbidden:
            ok &= np.array([not self.space.is_forbidden(self.space.decode_flat(c)) for c in cand])
        return ok

    def _startup_point(self) -> np.ndarray:
        if self._design is None:
            self._design = sobol_design(self.space, self.n_startup, self.seed)
        k = sum(1 for r in self.trials.values() if r.asked)
        if k < len(self._design):
            return self._design[k]
        return self.space.sample_vectors(self.rng, 1)[0]

    # ---- the model ----------------------------------------------------------------------------------
    def n_good(self, n: int) -> int:
        """Size of the good set among ``n`` observations: ``min(ceil(gamma n), max_good)``, at least 1
        and leaving at least one bad observation (a linear split as in Optuna's default; Watanabe 2023,
        sec. 3.1 finds linear splits with gamma around 0.1-0.15 robust with multivariate kernels)."""
        return int(max(1, min(math.ceil(self.gamma * n), self.max_good, n - 1)))

    def _fit(self) -> _Model | None:
        """``(l, g, good bandwidths)`` at the model budget, cached until the next tell; ``None`` when no
        budget has ``min_points`` finite observations."""
        if self._cache is None or self._cache[0] != self._version:
            self._cache = (self._version, self._fit_budget(self._table.model_budget(self.min_points)))
        return self._cache[1]

    def _fit_budget(self, budget: Any) -> _Model | None:
        if budget is False:
            return None
        X, y = self._table.data(budget)  # as self.data(budget): failures get the worst value, so bad
        order = np.argsort(y, kind="stable")
        k = self.n_good(len(y))
        X_good, X_bad = X[order[:k]], X[order[k:]]
        good_bw = self._bandwidths(X_good)
        return (self._estimator(self._kernels(X_good, *good_bw)),
                self._estimator(self._kernels(X_bad, *self._bandwidths(X_bad))), good_bw)

    def _estimator(self, kernels: Kernels) -> ParzenEstimator:
        d = self.dims
        return ParzenEstimator(kernels, d.n_choices, self.prior_weight, d.prior_mu if d.has_prior else None,
                               d.prior_sigma if d.has_prior else None, multivariate=self.multivariate)

    def _bandwidths(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-dimension numeric bandwidths and categorical smoothing of a set of observations.

        Scott's rule (the univariate form when not multivariate) on the values active in each
        dimension, times ``bandwidth_factor``, clipped to ``[floor, max_bandwidth]`` where the floor is
        ``min_bandwidth`` or hyperopt's "magic clip" ``magic_clip / min(100, n + 1)`` (Bergstra et al.,
        hyperopt; Watanabe 2023, sec. 3.4), whichever is larger; Aitchison-Aitken smoothing shrinks
        with the number of active values."""
        n_active = np.sum(~np.isnan(X), axis=0)
        n_dims = max(self.dims.n_numeric, 1) if self.multivariate else 1
        h = self.bandwidth_factor * scott_bandwidths(X, n_dims)
        floor = np.maximum(self.min_bandwidth, self.magic_clip / np.minimum(100.0, n_active + 1.0))
        sigma = np.clip(np.nan_to_num(h, nan=self.max_bandwidth), floor, self.max_bandwidth)
        sigma = np.where(self.dims.n_choices > 0, 1.0, np.minimum(sigma, self.max_bandwidth))
        lam = np.array([aitchison_aitken_lambda(int(n), int(c), self.cat_smoothing)
                        for n, c in zip(n_active, self.dims.n_choices)])
        return sigma, lam

    def _kernels(self, X: np.ndarray, sigma: np.ndarray, lam: np.ndarray) -> Kernels:
        """One product kernel per row of ``X``; numeric bandwidths never below a discrete cell."""
        n, d = X.shape
        sig = np.maximum(np.broadcast_to(sigma, (n, d)), self.dims.cell_width(X))
        return Kernels(X.copy(), sig, np.broadcast_to(lam, (n, d)).copy(), np.ones(n))

    # ---- hooks --------------------------------------------------------------------------------------
    def _on_ask(self, trial_id: str) -> None:
        self._table.update(self.trials[trial_id])

    def _on_tell(self, trial_id: str) -> None:
        self._table.update(self.trials[trial_id])
        self._version += 1

    def _set_state(self, state: Mapping[str, Any]) -> None:
        self._table = TrialTable.from_records(self.space.dim, self.trials.values())
        self._version += 1
        self._cache = None


def _check_options(**opts: Any) -> None:
    ints = {"n_startup": 1, "n_candidates": 1, "max_good": 1, "min_points": 2}
    for name, low in ints.items():
        v = opts[name]
        if v is not None and (not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < low):
            raise SearcherError(f"tpe: {name} must be an integer >= {low}, got {v!r}")
    if not 0.0 < opts["gamma"] < 1.0:
        raise SearcherError(f"tpe: gamma must lie in (0, 1), got {opts['gamma']!r}")
    for name in ("prior_weight", "cat_smoothing"):
        if not opts[name] >= 0.0:
            raise SearcherError(f"tpe: {name} must be >= 0, got {opts[name]!r}")
    for name in ("bandwidth_factor", "min_bandwidth", "max_bandwidth"):
        if not opts[name] > 0.0:
            raise SearcherError(f"tpe: {name} must be > 0, got {opts[name]!r}")
    if opts["min_bandwidth"] > opts["max_bandwidth"]:
        raise SearcherError(f"tpe: min_bandwidth {opts['min_bandwidth']} exceeds max_bandwidth "
                            f"{opts['max_bandwidth']}")
