"""CASH problems: combined algorithm selection and hyperparameter optimization (Thornton et al., KDD 2013).

One ``ConfigSpace.ConfigurationSpace`` chooses a classifier (SVM, random forest, k-NN, logistic
regression, gradient boosting); each classifier's hyperparameters are conditional on that choice (and
the SVM's ``gamma`` / ``degree`` further on its kernel).  The value is the holdout error (1 - accuracy)
on a fixed stratified 70/30 split (seed 0) of scikit-learn's bundled ``digits`` or ``breast_cancer``
data, features standardized on the training part.  Every model is single-threaded and seeded, so an
evaluation is deterministic; sizes are capped so that one evaluation stays well under a second.

The optimum is unknown: ``Problem.optimum`` is ``None`` and the harness measures regret against the
best value any optimizer reached for that problem in the same run.
"""
from __future__ import annotations

import math
import warnings
from functools import lru_cache
from typing import Callable

import ConfigSpace as CS
import numpy as np

from .problems import Problem

__all__ = ["cash_space", "cash_problems", "make_cash_fn", "DATASETS"]

DATASETS = ("digits", "breast_cancer")
SPLIT_SEED = 0
TEST_FRACTION = 0.3


def cash_space() -> CS.ConfigurationSpace:
    cs = CS.ConfigurationSpace()
    clf = CS.Categorical("classifier", ["svm", "rf", "knn", "logreg", "gb"])
    kernel = CS.Categorical("svm_kernel", ["rbf", "poly", "linear"])
    gamma = CS.Float("svm_gamma", (1e-5, 10.0), log=True)
    degree = CS.Integer("svm_degree", (2, 4))
    by_clf = {
        "svm": [CS.Float("svm_C", (1e-3, 1e3), log=True), kernel],
        "rf": [CS.Integer("rf_n_estimators", (4, 32), log=True), CS.Float("rf_max_features", (0.05, 1.0)),
               CS.Integer("rf_min_samples_leaf", (1, 32), log=True), CS.Categorical("rf_criterion", ["gini", "entropy"])],
        "knn": [CS.Integer("knn_n_neighbors", (1, 64), log=True),
                CS.Categorical("knn_weights", ["uniform", "distance"]), CS.Categorical("knn_metric", ["l1", "l2"])],
        "logreg": [CS.Float("lr_C", (1e-4, 1e4), log=True), CS.Categorical("lr_class_weight", ["none", "balanced"])],
        "gb": [CS.Float("gb_learning_rate", (0.01, 1.0), log=True), CS.Integer("gb_max_iter", (4, 32), log=True),
               CS.Integer("gb_max_leaf_nodes", (4, 32), log=True), CS.Integer("gb_min_samples_leaf", (1, 64), log=True),
               CS.Float("gb_l2_regularization", (1e-6, 10.0), log=True)],
    }
    cs.add([clf, gamma, degree, *(hp for hps in by_clf.values() for hp in hps)])
    cs.add([CS.EqualsCondition(hp, clf, name) for name, hps in by_clf.items() for hp in hps]
           + [CS.InCondition(gamma, kernel, ["rbf", "poly"]), CS.EqualsCondition(degree, kernel, "poly")])
    return cs


@lru_cache(maxsize=None)
def _data(dataset: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn import datasets
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    loaders = {"digits": datasets.load_digits, "breast_cancer": datasets.load_breast_cancer}
    if dataset not in loaders:
        raise ValueError(f"unknown CASH dataset {dataset!r}; choose one of {DATASETS}")
    X, y = loaders[dataset](return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=TEST_FRACTION, random_state=SPLIT_SEED, stratify=y)
    scaler = StandardScaler().fit(Xtr)
    return scaler.transform(Xtr), scaler.transform(Xte), ytr, yte


def _model(c: dict):  # noqa: ANN202 - a scikit-learn estimator
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.svm import SVC

    kind = c["classifier"]
    if kind == "svm":
        k = c["svm_kernel"]
        return SVC(C=c["svm_C"], kernel=k, gamma=c.get("svm_gamma", "scale"), degree=c.get("svm_degree", 3),
                   max_iter=20000, random_state=0)
    if kind == "rf":
        return RandomForestClassifier(n_estimators=c["rf_n_estimators"], max_features=c["rf_max_features"],
                                      min_samples_leaf=c["rf_min_samples_leaf"], criterion=c["rf_criterion"],
                                      n_jobs=1, random_state=0)
    if kind == "knn":
        return KNeighborsClassifier(n_neighbors=c["knn_n_neighbors"], weights=c["knn_weights"],
                                    p=1 if c["knn_metric"] == "l1" else 2, n_jobs=1)
    if kind == "logreg":
        cw = None if c["lr_class_weight"] == "none" else "balanced"
        return LogisticRegression(C=c["lr_C"], class_weight=cw, max_iter=300)
    if kind == "gb":
        return HistGradientBoostingClassifier(
            learning_rate=c["gb_learning_rate"], max_iter=c["gb_max_iter"], max_leaf_nodes=c["gb_max_leaf_nodes"],
            min_samples_leaf=c["gb_min_samples_leaf"], l2_regularization=c["gb_l2_regularization"],
            early_stopping=False, random_state=0)
    raise ValueError(f"unknown classifier {kind!r}")


def make_cash_fn(dataset: str) -> Callable[[dict], float]:
    """``fn(config) -> holdout error`` on ``dataset``; identical configurations are evaluated once."""
    cache: dict[tuple, float] = {}

    def fn(config: dict) -> float:
        key = tuple(sorted((k, v) for k, v in config.items()))
        if key not in cache:
            cache[key] = _evaluate(dataset, config)
        return cache[key]

    return fn


def _evaluate(dataset: str, config: dict) -> float:
    from threadpoolctl import threadpool_limits

    Xtr, Xte, ytr, yte = _data(dataset)
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore")
        model = _model(config).fit(Xtr, ytr)
        err = float(np.mean(model.predict(Xte) != yte))
    return err if math.isfinite(err) else 1.0


def cash_problems() -> dict[str, Problem]:
    return {f"cash_{d}": Problem(f"cash_{d}", cash_space(), make_cash_fn(d), None, continuous=False)
            for d in DATASETS}
