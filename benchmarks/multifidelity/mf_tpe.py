"""An experimental multi-fidelity TPE for BOHB (``"mf_tpe"``, registered by ``dev.py`` only, not part of
the package): the TPE searcher plus what BOHB's model does on top, and
the lower budgets' observations pooled into the model.

BOHB (Falkner, Klein & Hutter, ICML 2018, sec. 3.2 and Algorithm 2):

* ``random_fraction`` (rho): once a model is fit, that fraction of the asks are uniform random draws
  (BOHB's default 1/3), which keeps the search from locking on a misleading model;
* ``sample_bandwidth`` (b_w): candidates are drawn from ``l`` with every bandwidth multiplied by b_w
  (categorical smoothing too), then ranked by the *unwidened* ``l(x) / g(x)`` (BOHB's default 3).

Pooling budgets (``pool``): BOHB fits its model on the largest budget with enough observations (the
*reference* budget) and ignores the many more observations at lower budgets.  Like MFES-HB (Li et al.,
"MFES-HB: Efficient Hyperband with multi-fidelity quality measurements", AAAI 2021), which weighs one
surrogate per fidelity by how well it ranks the high-fidelity observations, and like meta-learned TPE
(Watanabe et al., IJCAI 2023), which mixes the TPE densities of related tasks by their similarity,
``pool="mixture"`` fits one TPE model per budget up to the reference (each split into good and bad by
its own values, so values are never compared across budgets) and uses

    l(x) = sum_b w_b l_b(x),   g(x) = sum_b w_b g_b(x)

with ``w_ref = 1`` and, for a lower budget, ``w_b`` = the rank agreement (Kendall's tau, clipped at 0)
between its values and the reference budget's on the configurations observed at both, shrunk towards 0
when they share few configurations (``n / (n + pool_shrink)``).  A lower budget whose ranking does not
carry over to the reference budget gets no say.

Everything else (split, kernels, pending asks as constant liars, the tree-structured walk of conditional
spaces) is :class:`~tunestack.searchers.tpe.TPESearcher`'s.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from tunestack.searchers.base import FINAL, SearcherError
from tunestack.searchers.tpe import TPESearcher
from tunestack.searchers.tpe_model import TPEModel

__all__ = ["MultiFidelityTPE", "rank_agreement"]

POOLS = ("none", "mixture", "equal", "product")


class MultiFidelityTPE(TPESearcher):
    """TPE with BOHB's random fraction and widened sampling, and budgets pooled by rank agreement;
    other options as ``"tpe"``."""

    name = "mf_tpe"

    def __init__(self, space: Any, mode: str = "min", seed: int | None = None, *,
                 random_fraction: float = 0.0, sample_bandwidth: float = 1.0, pool: str = "none",
                 pool_shrink: float = 5.0, pool_power: float = 1.0, **tpe_options: Any):
        super().__init__(space, mode=mode, seed=seed, **tpe_options)
        if not 0.0 <= random_fraction < 1.0:
            raise SearcherError(f"mf_tpe: random_fraction must lie in [0, 1), got {random_fraction!r}")
        if not sample_bandwidth >= 1.0:
            raise SearcherError(f"mf_tpe: sample_bandwidth must be >= 1, got {sample_bandwidth!r}")
        if pool not in POOLS:
            raise SearcherError(f"mf_tpe: pool must be one of {POOLS}, got {pool!r}")
        if not pool_shrink >= 0.0 or not pool_power > 0.0:
            raise SearcherError(f"mf_tpe: need pool_shrink >= 0 and pool_power > 0, got {pool_shrink!r}, "
                                f"{pool_power!r}")
        self.random_fraction = float(random_fraction)
        self.sample_bandwidth = float(sample_bandwidth)
        self.pool, self.pool_shrink, self.pool_power = pool, float(pool_shrink), float(pool_power)
        self.last_weights: dict = {}  # budget -> weight of the last pooled fit (for inspection)

    # ---- the ask ------------------------------------------------------------------------------------
    def _propose(self) -> np.ndarray:
        # BOHB, Algorithm 2 line 1: with probability rho a random configuration (once a model exists)
        if self.random_fraction > 0 and len(self.trials) >= self.n_startup and self._fit() is not None:
            if self.rng.random() < self.random_fraction:
                return self.space.sample_vectors(self.rng, 1)[0]
        return super()._propose()

    # ---- the model ----------------------------------------------------------------------------------
    def _fit_budget(self, budget: float | None) -> list[Any]:
        if self.pool == "none":
            return self._widen(budget, super()._fit_budget(budget))
        weights = self._pool_weights(budget)
        self.last_weights = weights
        per_budget = [(w, self._widen(b, super(MultiFidelityTPE, self)._fit_budget(b)))
                      for b, w in weights.items() if w > 0]
        if len(per_budget) == 1:
            return per_budget[0][1]
        return [_Pooled([(w, ms[g]) for w, ms in per_budget], self.pool == "product")
                for g in range(len(per_budget[0][1]))]

    def _pool_weights(self, ref: float | None) -> dict:
        """Budget -> weight: 1 for the reference budget, the shrunk rank agreement for lower ones with
        at least ``min_points`` finite observations."""
        counts = self.budgets()
        key = (lambda b: math.inf if b is FINAL else b)
        weights = {ref: 1.0}
        for b, n in counts.items():
            if key(b) >= key(ref) or n < self.min_points:
                continue
            pairs = [(r.results[b], r.results[ref]) for r in self.trials.values()
                     if r.results.get(b) is not None and r.results.get(ref) is not None]
            if len(pairs) < 3:
                continue
            lo, hi = np.array(pairs, dtype=float).T
            tau = rank_agreement(lo, hi) if self.pool != "equal" else 1.0
            shrink = len(pairs) / (len(pairs) + self.pool_shrink)
            weights[b] = max(0.0, tau) ** self.pool_power * shrink
        return weights

    def _widen(self, budget: float | None, models: list[Any]) -> list[Any]:
        if self.sample_bandwidth == 1.0:
            return models
        X, y = self._table.data(budget)
        out = []
        for cols, m in zip(self.dims.groups, models):
            rows = ~np.isnan(X[:, cols[0]])  # as TPESearcher._fit_budget: where the group is active
            Xg, yg = X[rows][:, cols], y[rows]
            good = Xg[np.argsort(yg, kind="stable")[:m.n_good(len(yg))]]
            out.append(_Widened(m, good, self.sample_bandwidth))
        return out


def rank_agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Kendall's tau-a of two value lists: (concordant - discordant pairs) / all pairs (ties count 0)."""
    da = np.sign(a[:, None] - a[None, :])
    db = np.sign(b[:, None] - b[None, :])
    n = len(a)
    return float(np.sum(np.triu(da * db, 1)) / max(1, n * (n - 1) // 2))


class _Widened:
    """A fitted :class:`TPEModel` whose candidates come from ``l`` with widened kernels (BOHB sec. 3.2:
    candidates are sampled from ``l'``, ``l`` with all bandwidths multiplied by b_w); ``l`` / ``g`` and
    the ranking are the model's own."""

    def __init__(self, model: TPEModel, good: np.ndarray, factor: float):
        self.model = model
        self.l, self.g, self.liar_bw = model.l, model.g, model.liar_bw
        sigma, lam = model.good_bw
        c = np.maximum(model.n_choices, 1)
        self.sampler = model._estimator(model.kernels(good, np.minimum(sigma * factor, 1.0),
                                                      np.minimum(lam * factor, (c - 1) / c)))

    def kernels(self, *args: Any) -> Any:
        return self.model.kernels(*args)

    def propose(self, rng: np.random.Generator, n_candidates: int, pending: np.ndarray, snap: Any,
                allowed: Any = None, *args: Any, **kwargs: Any) -> np.ndarray | None:
        g = self.g
        if len(pending):  # the model's constant liars and (k + 1) x the candidates (as TPEModel.propose)
            g = g.extended(self.model.kernels(pending, *self.liar_bw))
            n_candidates *= 1 + len(pending)
        return _best(snap(self.sampler.sample(rng, n_candidates)), self.l.log_pdf, g.log_pdf, allowed)


class _Mixture:
    """``sum_k w_k p_k(x)`` of densities with ``log_pdf`` and ``sample``."""

    def __init__(self, parts: list[tuple[float, Any]]):
        total = sum(w for w, _ in parts)
        self.parts = [(w / total, p) for w, p in parts]

    def log_pdf(self, x: np.ndarray) -> np.ndarray:
        terms = np.stack([math.log(w) + p.log_pdf(x) for w, p in self.parts])
        m = np.max(terms, axis=0)
        return m + np.log(np.sum(np.exp(terms - m), axis=0))

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        counts = rng.multinomial(n, [w for w, _ in self.parts])
        draws = [p.sample(rng, int(k)) for (_, p), k in zip(self.parts, counts) if k > 0]
        return np.concatenate(draws)


class _Product:
    """``prod_k p_k(x)^w_k`` (unnormalized; only ratios of two such products are used), a product of
    experts: each budget's evidence multiplies in with its weight."""

    def __init__(self, parts: list[tuple[float, Any]]):
        self.parts = parts

    def log_pdf(self, x: np.ndarray) -> np.ndarray:
        return sum(w * p.log_pdf(x) for w, p in self.parts)


class _Pooled:
    """One group's model pooled over budgets: ``l = sum_b w_b l_b`` and ``g = sum_b w_b g_b`` (candidates
    from each budget's sampler in proportion to its weight), pending asks as liars in every ``g_b``.
    ``product``: ``log l / g = sum_b w_b log l_b / g_b`` instead (candidates still from the mixture)."""

    def __init__(self, parts: list[tuple[float, Any]], product: bool = False):
        self.parts, self.comb = parts, (_Product if product else _Mixture)
        self.l = self.comb([(w, m.l) for w, m in parts])
        self.g = self.comb([(w, m.g) for w, m in parts])
        self.sampler = _Mixture([(w, getattr(m, "sampler", m.l)) for w, m in parts])

    def propose(self, rng: np.random.Generator, n_candidates: int, pending: np.ndarray, snap: Any,
                allowed: Any = None, *args: Any, **kwargs: Any) -> np.ndarray | None:
        g = self.g
        if len(pending):
            g = self.comb([(w, m.g.extended(m.kernels(pending, *m.liar_bw))) for w, m in self.parts])
            n_candidates *= 1 + len(pending)
        return _best(snap(self.sampler.sample(rng, n_candidates)), self.l.log_pdf, g.log_pdf, allowed)


def _best(cand: np.ndarray, log_l: Any, log_g: Any, allowed: Any) -> np.ndarray | None:
    """The candidate maximizing ``log l - log g`` (Bergstra et al. 2011, eq. 4), allowed ones only."""
    score = log_l(cand) - log_g(cand)
    if allowed is not None:
        score[~allowed(cand)] = -np.inf
    if not np.isfinite(score).any():
        return None
    return cand[int(np.argmax(score))]
