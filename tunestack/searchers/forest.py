"""Random-forest surrogate with a predictive mean and variance (the model of SMAC).

Hutter, Hoos & Leyton-Brown (2011), "Sequential model-based optimization for general algorithm
configuration", Sec. 4.2: a regression forest; the predictive distribution at ``x`` is a Gaussian with the
mean of the trees' predictions and their variance.  Following Hutter et al. (2014), "Algorithm runtime
prediction", Sec. 4.3.2, each tree also contributes the variance of the training targets in its leaf, and
the forest's variance is the law of total variance over the mixture of the trees' leaf distributions:

    mu(x)      = 1/T sum_t m_t(x)
    sigma^2(x) = 1/T sum_t (v_t(x) + m_t(x)^2) - mu(x)^2

with ``m_t``, ``v_t`` the mean and variance of the (bootstrap-weighted) targets in the leaf of tree ``t``.
The trees are CART trees on bootstrap samples (SMAC's forest) or extremely randomized trees (Geurts,
Ernst & Wehenkel 2006), the default; see :class:`ForestConfig`.

Inputs are vectors of :class:`~tunestack.space.SearchSpace`: numeric dimensions in ``[0, 1]``, categorical
dimensions as choice indices, inactive dimensions ``nan``.  Inactive values are imputed with ``-1``, a
value outside every active range, so a tree can split active from inactive configurations (as SMAC does).
The trees are scikit-learn's; their seeds and bootstrap samples come from a generator seeded with one
integer, so fits are deterministic.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.tree import DecisionTreeRegressor, ExtraTreeRegressor

__all__ = ["ForestConfig", "RandomForestSurrogate", "impute_inactive", "INACTIVE"]

INACTIVE = -1.0  # imputed value of inactive (nan) dimensions, outside [0, 1] and every choice index
_MIN_VARIANCE = 1e-12


@dataclass(frozen=True)
class ForestConfig:
    """Settings of the forest.

    The defaults are extremely randomized trees (Geurts, Ernst & Wehenkel 2006: random split thresholds,
    no bootstrap) grown to single-sample leaves: the mean interpolates the observations, and the spread
    of the trees' random thresholds gives the variance between observations (zero at an observed point,
    so EI never re-proposes one).  On rfbo's development problems (``benchmarks/rfbo/dev_problems.py``)
    this beat SMAC's forest (10 bootstrapped CART trees, max_features 5/6, min_samples_split 3,
    min_samples_leaf 3: ``ForestConfig(n_trees=10, max_features=5/6, min_samples_split=3,
    min_samples_leaf=3, bootstrap=True, extra_trees=False)``) on most problems; see
    ``benchmarks/rfbo/results.md``.
    """

    n_trees: int = 10
    max_features: float = 1.0  # fraction of dimensions tried at each split
    min_samples_split: int = 2
    min_samples_leaf: int = 1
    bootstrap: bool = False
    leaf_variance: bool = True  # add within-leaf variance (law of total variance)
    extra_trees: bool = True  # random split thresholds (Geurts et al. 2006) instead of the best split

    def __post_init__(self) -> None:
        if self.n_trees < 1:
            raise ValueError(f"n_trees must be >= 1, got {self.n_trees}")
        if not 0.0 < self.max_features <= 1.0:
            raise ValueError(f"max_features must be a fraction in (0, 1], got {self.max_features}")
        if self.min_samples_split < 2:
            raise ValueError(f"min_samples_split must be >= 2, got {self.min_samples_split}")
        if self.min_samples_leaf < 1:
            raise ValueError(f"min_samples_leaf must be >= 1, got {self.min_samples_leaf}")


def impute_inactive(X: np.ndarray) -> np.ndarray:
    """A float32 copy of ``X`` (C order, as the trees want it) with ``nan`` replaced by :data:`INACTIVE`."""
    out = np.ascontiguousarray(X, dtype=np.float32)
    if np.isnan(out).any():
        out = np.where(np.isnan(out), np.float32(INACTIVE), out)
    return out


class RandomForestSurrogate:
    """A regression forest over search-space vectors with Gaussian predictive mean and variance."""

    def __init__(self, config: ForestConfig | None = None):
        self.config = config or ForestConfig()
        self._trees: list = []

    @property
    def fitted(self) -> bool:
        return bool(self._trees)

    def fit(self, X: np.ndarray, y: np.ndarray, seed: int) -> "RandomForestSurrogate":
        """Fit on vectors ``X`` (``nan`` = inactive) and targets ``y``; ``seed`` is an integer."""
        X = impute_inactive(X)
        y = np.asarray(y, dtype=float)
        if X.ndim != 2 or X.shape[0] != y.shape[0] or X.shape[0] == 0:
            raise ValueError(f"cannot fit the forest on X of shape {X.shape} and y of shape {y.shape}")
        c = self.config
        cls = ExtraTreeRegressor if c.extra_trees else DecisionTreeRegressor
        rng = np.random.default_rng(int(seed))
        n = X.shape[0]
        self._trees = []
        for _ in range(c.n_trees):
            # bootstrap as sample weights (counts), as scikit-learn's forests do; leaf values and
            # impurities are then the bootstrap-weighted means and variances
            weight = np.bincount(rng.integers(0, n, n), minlength=n).astype(float) if c.bootstrap else None
            tree = cls(max_features=c.max_features, min_samples_split=c.min_samples_split,
                       min_samples_leaf=c.min_samples_leaf, random_state=int(rng.integers(2**31 - 1)))
            tree.fit(X, y, sample_weight=weight, check_input=False)
            t = tree.tree_
            self._trees.append((t, t.value[:, 0, 0].astype(float), t.impurity.astype(float)))
        return self

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Predictive mean and variance at each row of ``X`` (law of total variance over the trees)."""
        if not self._trees:
            raise RuntimeError("the forest is not fitted")
        Xf = impute_inactive(np.atleast_2d(X))
        n = Xf.shape[0]
        first = np.zeros(n)
        second = np.zeros(n)
        for tree, means, variances in self._trees:
            leaf = tree.apply(Xf)
            m = means[leaf]
            first += m
            second += m * m
            if self.config.leaf_variance:
                second += variances[leaf]
        t = len(self._trees)
        mean = first / t
        var = np.maximum(second / t - mean * mean, _MIN_VARIANCE)
        return mean, var
