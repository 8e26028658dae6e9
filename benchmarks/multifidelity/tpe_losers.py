"""An experiment for ``dev.py`` (not part of tunestack): BOHB's TPE with lower-budget losers in ``g``.

BOHB fits ``l`` and ``g`` on the observations at the model budget only (Falkner et al. 2018, sec. 3.2).
Under Hyperband, those are the configurations promoted that far: already good at the lower budgets, so
``g`` knows nothing of the regions that lost early.  Optuna's TPE puts pruned trials in the bad set
(ranked after every complete trial); here a configuration whose largest budget is below the model
budget and whose value there is worse than the median of that budget's values joins ``g`` as a bad
observation.  The good set's size still counts the model budget's observations only.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from tunestack.searchers.base import FINAL
from tunestack.searchers.tpe import TPESearcher
from tunestack.searchers.tpe_model import TPEModel


class _Model(TPEModel):
    """A TPE model whose rows with value ``inf`` are forced into ``g`` without enlarging the good set."""

    def __init__(self, X: np.ndarray, y: np.ndarray, *args: Any, n_real: int, **kwargs: Any):
        self._n_real = n_real
        super().__init__(X, y, *args, **kwargs)

    def n_good(self, n: int) -> int:
        return super().n_good(min(n, self._n_real))


class LosersTPE(TPESearcher):
    name = "tpe_losers"

    def __init__(self, space: Any, mode: str = "min", seed: int | None = None, *, loser_quantile: float = 0.5,
                 **kwargs: Any):
        super().__init__(space, mode=mode, seed=seed, **kwargs)
        self.loser_quantile = float(loser_quantile)

    def _losers(self, budget: float | None) -> np.ndarray:
        """Rows whose largest observed budget is below ``budget`` and whose value there is worse than the
        ``loser_quantile`` quantile of that budget's values (a median split by default)."""
        t = self._table
        if budget is FINAL:
            return np.empty(0, dtype=int)
        numeric = sorted(b for b in t._values if b is not FINAL)
        reached_top: set[int] = set()
        for b in numeric:
            if b >= budget:
                reached_top.update(r for r, v in t._values[b].items())
        if FINAL in t._values:
            reached_top.update(t._values[FINAL])
        best_budget: dict[int, float] = {}
        for b in numeric:
            if b < budget:
                for r, v in t._values[b].items():
                    if v is not None and r not in reached_top:
                        best_budget[r] = b  # ascending order: ends at the row's largest budget
        losers = []
        for b in numeric:
            if b >= budget:
                break
            vals = np.array([v for v in t._values[b].values() if v is not None])
            if len(vals) < 3:
                continue
            cut = float(np.quantile(vals, 1.0 - self.loser_quantile))
            losers += [r for r, bb in best_budget.items() if bb == b and t._values[b][r] > cut]
        return np.array(sorted(losers), dtype=int)

    def _fit_budget(self, budget: float | None) -> list[TPEModel]:
        X, y = self._table.data(budget)
        rows_l = self._losers(budget)
        XL = self._table._vectors[rows_l].reshape(-1, self.space.dim)
        Xa = np.concatenate([X, XL])
        ya = np.concatenate([y, np.full(len(XL), np.inf)])
        d = self.dims
        models = []
        for cols in d.groups:
            act = ~np.isnan(Xa[:, cols[0]])
            n_real = int(np.sum(act[: len(y)]))
            prior = (d.prior_mu[cols], d.prior_sigma[cols]) if d.has_prior else None
            models.append(_Model(Xa[act][:, cols], ya[act], d.n_choices[cols],
                                 lambda mu, cols=cols: d.cell_width(mu, cols), self.config, prior, n_real=n_real))
        return models
