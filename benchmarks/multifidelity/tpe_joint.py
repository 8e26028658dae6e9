"""An experiment for ``dev.py`` (not part of tunestack): BOHB's TPE with HpBandSter's joint model of a
conditional space.

tunestack's TPE fits one model per group of dimensions that are active together and walks the groups in
tree order (as Optuna's ``group=True``): a child group's model never sees its parents' values, so the
joint structure between, say, a learning rate and a conditional depth is lost.  BOHB's implementation
(HpBandSter, ``impute_conditional_data``) instead fills every inactive value of an observation with the
value of a random observation where that dimension is active (a uniform draw when there is none), fits
one product-kernel KDE over all dimensions, scores candidates drawn from ``l`` by ``l / g`` on the full
vector and deactivates the dimensions the chosen candidate's parents switch off.  This searcher does
that on top of tunestack's TPE (same bandwidths, floor, prior, liars).
"""
from __future__ import annotations

import numpy as np

from tunestack.searchers.tpe import TPESearcher
from tunestack.searchers.tpe_model import TPEModel


class JointTPE(TPESearcher):
    name = "tpe_joint"

    def _impute(self, X: np.ndarray) -> np.ndarray:
        """Inactive (nan) entries filled from another observation's active value in that column."""
        X = np.array(X, dtype=float, copy=True)
        rng = np.random.default_rng([int(self.seed or 0), self._version, len(X)])
        for j in range(X.shape[1]):
            miss = np.isnan(X[:, j])
            if not miss.any():
                continue
            active = X[~miss, j]
            if len(active):
                X[miss, j] = rng.choice(active, size=int(miss.sum()))
            elif self.dims.n_choices[j] > 0:
                X[miss, j] = rng.integers(self.dims.n_choices[j], size=int(miss.sum()))
            else:
                X[miss, j] = rng.random(int(miss.sum()))
        return X

    def _deactivate(self, cand: np.ndarray) -> np.ndarray:
        return np.array([self.space.normalize(c) for c in np.atleast_2d(cand)])

    def _fit_budget(self, budget: float | None) -> list[TPEModel]:
        if not self.space.is_conditional:
            return super()._fit_budget(budget)
        X, y = self._table.data(budget)
        d = self.dims
        prior = (d.prior_mu, d.prior_sigma) if d.has_prior else None
        return [TPEModel(self._impute(X), y, d.n_choices, lambda mu: d.cell_width(mu), self.config, prior)]

    def _walk(self, models: list[TPEModel], pending: np.ndarray) -> np.ndarray:
        """The conditional space's proposal from the one joint model (instead of the group-by-group walk);
        the base class's ``_propose`` normalizes it (deactivates the children its parents switch off)."""
        pending = self._impute(pending) if len(pending) else pending
        vec = models[0].propose(self.rng, self.n_candidates, pending, self.dims.snap,
                                lambda c: self._allowed(self._deactivate(c)))
        return vec if vec is not None else self.space.sample_vectors(self.rng, 1)[0]
