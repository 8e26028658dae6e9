"""An experiment for ``dev.py`` (not part of tunestack): BOHB's TPE with improvement-weighted ``l``.

TPE splits the observations at a quantile ``y*`` and ranks candidates by ``l(x) / g(x)``; with every
good observation weighted alike, that ratio is monotone in the *probability* of improving on ``y*``
(Bergstra et al. 2011, eq. 4; Watanabe, arXiv:2304.11127, 2023, appendix A): the size of each good
result is thrown away, only its rank is kept.  Weighting each good kernel by its improvement ``y* - y_i``
makes ``l(x) p_good`` proportional to ``E[(y* - y)^+ | x] p(x)`` for the kernel density, so the ratio
ranks by expected improvement, using the values as a regression model does (the random-forest BO of
``rf_hyperband`` does, with log-EI).  ``ei_mix`` blends the weights: ``(1 - m) + m * w / mean(w)``
(``m = 0`` is tunestack's TPE exactly; ``m = 1`` pure improvement weights).  The weights have mean 1, so
the prior's share of ``l`` is unchanged; candidates are drawn from the weighted ``l``.

Adopted: ``ei_mix = 1`` is tpe's option ``good_weights="improvement"`` (``tpe_model.improvement_weights``),
used by the ``bohb`` preset since 248c828 and checked to reproduce this module's runs exactly; the module
stays as the code its development runs (``results/dev_tpe_eiw.txt``) were made with.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from tunestack.searchers.tpe import TPESearcher
from tunestack.searchers.tpe_model import TPEModel


def improvement_weights(y: np.ndarray, k: int, mix: float) -> np.ndarray | None:
    """Weights of the ``k`` best of ``y`` (ascending order): ``(1 - mix) + mix * w / mean(w)`` with
    ``w = y* - y_i`` and ``y*`` the best value outside the good set; ``None`` where they are undefined
    (no bad observation, or no spread)."""
    order = np.argsort(y, kind="stable")
    if not 0 < k < len(y):
        return None
    w = y[order[k]] - y[order[:k]]
    if not (np.all(np.isfinite(w)) and w.sum() > 0):
        return None
    return (1.0 - mix) + mix * w / w.mean()


class _Model(TPEModel):
    def __init__(self, X: np.ndarray, y: np.ndarray, *args: Any, ei_mix: float, **kwargs: Any):
        super().__init__(X, y, *args, **kwargs)
        k = self.n_good(len(y))
        w = improvement_weights(y, k, ei_mix)
        if w is None or ei_mix == 0.0:
            return
        good = np.argsort(y, kind="stable")[:k]
        kern = self.kernels(X[good], *self.good_bw)
        self.l = self._estimator(replace(kern, weight=w))
        if self.cfg.sample_bandwidth_factor == 1.0:  # (widened draws, unused here, stay unweighted)
            self.l_sample = self.l


class EIWeightTPE(TPESearcher):
    name = "tpe_eiw"

    def __init__(self, space: Any, mode: str = "min", seed: int | None = None, *, ei_mix: float = 1.0,
                 **kwargs: Any):
        super().__init__(space, mode=mode, seed=seed, **kwargs)
        if not 0.0 <= ei_mix <= 1.0:
            raise ValueError(f"ei_mix must be in [0, 1], got {ei_mix!r}")
        self.ei_mix = float(ei_mix)

    def _fit_budget(self, budget: float | None) -> list[TPEModel]:
        # TPESearcher._fit_budget with this module's model (the searcher builds TPEModel directly)
        X, y = self._table.data(budget)
        d = self.dims
        models = []
        for cols in d.groups:
            rows = ~np.isnan(X[:, cols[0]])
            prior = (d.prior_mu[cols], d.prior_sigma[cols]) if d.has_prior else None
            models.append(_Model(X[rows][:, cols], y[rows], d.n_choices[cols],
                                 lambda mu, cols=cols: d.cell_width(mu, cols), self.config, prior,
                                 ei_mix=self.ei_mix))
        return models
