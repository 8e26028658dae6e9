"""Surrogate models of a learning-curve table: any configuration of the space -> a whole curve and costs.

As in YAHPO Gym (Pfisterer et al. 2022, "YAHPO Gym - an efficient multi-objective multi-fidelity
benchmark for hyperparameter optimization"), a regression model fit on the table replaces training.
Here it is a multi-output forest of regression trees -- extremely randomized trees (Geurts, Ernst,
Wehenkel 2006) on bootstrap samples by default, a random forest (Breiman 2001) as the alternative --
from the configuration's encoding (tunestack's ``SearchSpace`` unit-cube vector; an inactive
conditional dimension is set to -1) to the whole validation curve.  A leaf holds the mean of observed
curves, so a predicted curve is an average of observed curves and stays consistent across budgets (no
budget is predicted independently of the others); the forest averages in logit scale for error rates
(log scale for losses), which ranks the good configurations better than averaging raw errors.  A
separate forest predicts the log of the seconds
of each budget step; exponentiated and summed, it gives a cost that grows with the budget.  The
default settings were chosen by the 5-fold cross-validation of ``surrogate_quality.py --grid``: rf
and et, each with min_samples_leaf 1 or 3, max_features 1 or 0.5, raw or logit target, one changed at a
time (README.md).

``kind="gp"`` is a smooth alternative (not used by the reported benchmarks): a Gaussian process with an
ARD Matern-5/2 kernel plus white noise (hyperparameters by marginal likelihood on the final value, then
shared by all budgets), whose posterior mean, clipped to each budget's observed range, gives the curve
and the log seconds.  It exists to check whether an optimizer's lead depends on the surrogate being a
tree ensemble (``benchmarks/multifidelity/run.py --surrogate gp``).

Noisy mode: one tree of the forest (chosen from a seed) gives the curve instead of their mean, i.e. a
sample of the forest's bootstrap spread.  It mixes model uncertainty with run-to-run variation; it is
not a measured seed-to-seed noise (the tables hold one training run per configuration).
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from sklearn.ensemble import ExtraTreesRegressor, RandomForestRegressor
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

__all__ = ["SurrogateSettings", "CurveSurrogate", "features"]

INACTIVE = -1.0
_CACHE_SIZE = 4096


def features(vectors: np.ndarray) -> np.ndarray:
    """Model inputs from ``SearchSpace`` vectors: ``nan`` (inactive) becomes -1."""
    X = np.atleast_2d(np.asarray(vectors, dtype=float))
    return np.where(np.isnan(X), INACTIVE, X)


_EPS = 0.005  # offset of the log / logit transforms (an error of 0 stays finite)
TRANSFORMS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]] = {
    "none": (lambda y: y, lambda z: z),
    "log": (lambda y: np.log(np.maximum(y, 0.0) + _EPS), lambda z: np.exp(z) - _EPS),
    "logit": (lambda y: np.log((np.clip(y, 0.0, 1.0) + _EPS) / (1.0 + _EPS - np.clip(y, 0.0, 1.0))),
              lambda z: ((1.0 + _EPS) * np.exp(z) - _EPS) / (1.0 + np.exp(z))),
}


@dataclass(frozen=True)
class SurrogateSettings:
    """Forest settings; ``kind`` is ``"rf"`` (random forest), ``"et"`` (extremely randomized trees) or
    ``"gp"`` (a Gaussian process; the forest options do not apply).

    ``target``: the scale the curve forest averages in -- ``"logit"`` for error rates in [0, 1],
    ``"log"`` for positive losses, ``"none"``.  The transforms are monotone, so a prediction still lies
    between the smallest and the largest observed value at each budget.
    """

    kind: str = "et"
    n_trees: int = 64
    min_samples_leaf: int = 1
    max_features: float = 1.0
    target: str = "logit"

    def forest(self, seed: int) -> Any:
        if self.kind == "gp":
            return _GP(seed)
        cls = {"rf": RandomForestRegressor, "et": ExtraTreesRegressor}.get(self.kind)
        if cls is None:
            raise ValueError(f"unknown surrogate kind {self.kind!r}; use 'rf', 'et' or 'gp'")
        kw = {"bootstrap": True} if self.kind == "et" else {}
        return cls(n_estimators=self.n_trees, min_samples_leaf=self.min_samples_leaf,
                   max_features=self.max_features, random_state=seed, n_jobs=1, **kw)


class CurveSurrogate:
    """Two forests fit on a table: vectors -> curve, vectors -> log seconds per budget step."""

    def __init__(self, settings: SurrogateSettings | None = None, seed: int = 0):
        self.settings = settings or SurrogateSettings()
        self.seed = int(seed)
        if self.settings.target not in TRANSFORMS:
            raise ValueError(f"unknown target transform {self.settings.target!r}; "
                             f"use one of {list(TRANSFORMS)}")
        self._to, self._back = TRANSFORMS[self.settings.target]
        self._curve_model: Any = None
        self._cost_model: Any = None
        self._cache: OrderedDict[tuple, tuple[np.ndarray, np.ndarray]] = OrderedDict()

    def fit(self, vectors: np.ndarray, curves: np.ndarray, step_seconds: np.ndarray) -> "CurveSurrogate":
        X = features(vectors)
        y = np.asarray(curves, dtype=float)
        s = np.asarray(step_seconds, dtype=float)
        if not (len(X) == len(y) == len(s)):
            raise ValueError("vectors, curves and step_seconds need one row per configuration")
        y = _fill_nan(y)
        log_s = np.log(np.maximum(_fill_nan(s), 1e-6))
        self._curve_model = self.settings.forest(self.seed).fit(X, self._to(y))
        self._cost_model = self.settings.forest(self.seed + 1).fit(X, log_s)
        self._cache.clear()
        return self

    @property
    def n_trees(self) -> int:
        if not hasattr(self._curve_model, "estimators_"):
            raise ValueError(f"a {self.settings.kind!r} surrogate has no trees (noisy mode needs a forest)")
        return len(self._curve_model.estimators_)

    def predict(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(curves, step seconds), each ``n x budgets``: forest means."""
        X = features(vectors)
        return self._back(_forest_mean(self._curve_model, X)), np.exp(_forest_mean(self._cost_model, X))

    def predict_one(self, vector: np.ndarray, tree: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(curve, step seconds) of one vector; ``tree`` picks one tree's curve (noisy mode)."""
        key = (tuple(np.round(features(vector)[0], 12)), tree)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        X = features(vector)
        if tree is None:
            curve = _forest_mean(self._curve_model, X)[0]
        else:
            curve = _tree_values(self._curve_model.estimators_[tree], X)[0]
        out = (self._back(curve), np.exp(_forest_mean(self._cost_model, X))[0])
        self._cache[key] = out
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return out


def _tree_values(tree: Any, X: np.ndarray) -> np.ndarray:
    """One regression tree's multi-output prediction (its leaf means), ``n x outputs``."""
    leaves = tree.tree_.apply(np.ascontiguousarray(X, dtype=np.float32))
    return tree.tree_.value[leaves, :, 0]


class _GP:
    """ARD Matern-5/2 + white noise on the unit-cube features (inactive = -1), targets standardized.
    The kernel's hyperparameters (one length scale per column) maximize the marginal likelihood of the
    last output (the final value, or the last budget's cost); all outputs are then fit with that kernel.
    Predictions are clipped to each output's observed range, as a forest's are by construction: unclipped,
    the posterior mean of the MLP table extrapolated to error rates far below any measured one (0.002
    against the table's best 0.015), and optimizers found those holes rather than good configurations."""

    def __init__(self, seed: int):
        self.seed = seed
        self.model: GaussianProcessRegressor | None = None

    def fit(self, X: np.ndarray, y: np.ndarray) -> "_GP":
        kernel = (ConstantKernel(1.0, (1e-2, 1e3))
                  * Matern(length_scale=np.ones(X.shape[1]), length_scale_bounds=(1e-2, 1e2), nu=2.5)
                  + WhiteKernel(1e-2, (1e-6, 1.0)))
        y = np.asarray(y, dtype=float)
        last = y[:, -1] if y.ndim == 2 else y
        tuned = GaussianProcessRegressor(kernel=kernel, normalize_y=True, n_restarts_optimizer=1,
                                         random_state=self.seed).fit(X, last).kernel_
        self.model = GaussianProcessRegressor(kernel=tuned, normalize_y=True, optimizer=None).fit(X, y)
        self.lo, self.hi = y.min(axis=0), y.max(axis=0)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        assert self.model is not None, "fit first"
        return np.clip(self.model.predict(X), self.lo, self.hi)


def _forest_mean(forest: Any, X: np.ndarray) -> np.ndarray:
    """The forest's prediction (mean of its trees), without joblib's per-call overhead; a model without
    trees (``kind="gp"``) predicts its posterior mean."""
    if not hasattr(forest, "estimators_"):
        return np.asarray(forest.predict(np.asarray(X, dtype=float))).reshape(len(X), -1)
    total = _tree_values(forest.estimators_[0], X).copy()
    for tree in forest.estimators_[1:]:
        total += _tree_values(tree, X)
    return total / len(forest.estimators_)


def _fill_nan(a: np.ndarray) -> np.ndarray:
    """Replace non-finite entries by the column maximum (a diverged value counts as the worst seen)."""
    a = np.array(a, dtype=float)
    bad = ~np.isfinite(a)
    if bad.any():
        col_max = np.nanmax(np.where(bad, np.nan, a), axis=0)
        a[bad] = np.take(np.nan_to_num(col_max, nan=0.0), np.nonzero(bad)[1])
    return a
