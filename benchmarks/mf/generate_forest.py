"""Learning curves of scikit-learn random forests: validation error after each tree added.

A third model family for the multi-fidelity benchmarks (bagged trees, where ``gbm`` is boosted trees and
``mlp_digits`` a neural network), made on 2026-12-06 as a check that no optimizer was run on before
the table was committed.  Run (resumable; finished configs are appended to
``benchmarks/mf/_work/forest*.jsonl``)::

    nice -n 10 python -m benchmarks.mf.generate_forest --shard 0/2 & \
    nice -n 10 python -m benchmarks.mf.generate_forest --shard 1/2          # the last one packs

Budget = number of trees (1 .. 64).  The forest grows one tree at a time (``warm_start``); the
validation probabilities are the running mean of the trees' own ``predict_proba``, so the cost of step
``k`` is the CPU time of fitting tree ``k`` plus predicting the validation set with it.  Data:
``make_classification`` (2400 samples, 24 features, 4 classes, fixed seed; not the ``gbm`` data),
stratified 5/8 : 3/8 train/validation split.  Configurations: a scrambled Sobol sample of
:func:`config_space`; config ``i`` fits with ``random_state=config_seed(i)``.
"""
from __future__ import annotations

import time
from typing import Any

import ConfigSpace as CS
import numpy as np

from .table import generate, generator_main, index_seed, machine_info, sobol_configs

NAME = "forest"
N_CONFIGS = 512
N_TREES = 64
SOBOL_SEED = 20261206
DATA_SEED = 7
METRICS = ("val_error", "val_logloss", "seconds", "cpu_seconds")
TIMING_NOTE = ("seconds: wall time of each step (one tree fitted + the validation set predicted with it); "
               "cpu_seconds: CPU time of the one thread in that step (the contention-free cost). Measured "
               "on a shared 2-core machine running two shards at once.")


def config_space() -> CS.ConfigurationSpace:
    """8 hyperparameters of ``RandomForestClassifier``; ``max_depth`` only when depth is limited,
    ``max_samples`` only with bootstrap."""
    cs = CS.ConfigurationSpace(name=NAME)
    depth_limit = CS.Categorical("depth_limit", ["none", "limited"], default="none")
    max_depth = CS.Integer("max_depth", (2, 24), log=True, default=8)
    bootstrap = CS.Categorical("bootstrap", [True, False], default=True)
    max_samples = CS.Float("max_samples", (0.1, 1.0), default=1.0)
    cs.add([
        CS.Float("max_features", (0.05, 1.0), log=True, default=0.2),
        depth_limit, max_depth,
        CS.Integer("min_samples_split", (2, 64), log=True, default=2),
        CS.Integer("min_samples_leaf", (1, 32), log=True, default=1),
        bootstrap, max_samples,
        CS.Categorical("criterion", ["gini", "entropy"], default="gini"),
    ])
    cs.add([CS.EqualsCondition(max_depth, depth_limit, "limited"),
            CS.EqualsCondition(max_samples, bootstrap, True)])
    return cs


def config_seed(index: int) -> int:
    return index_seed(SOBOL_SEED, index)


def design(n: int = N_CONFIGS) -> list[dict[str, Any]]:
    return sobol_configs(config_space(), n, SOBOL_SEED)


def load_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import make_classification
    from sklearn.model_selection import train_test_split

    X, y = make_classification(n_samples=2400, n_features=24, n_informative=10, n_redundant=6, n_classes=4,
                               n_clusters_per_class=2, flip_y=0.04, class_sep=0.9, random_state=DATA_SEED)
    Xtr, Xva, ytr, yva = train_test_split(X, y, test_size=3 / 8, stratify=y, random_state=DATA_SEED)
    return Xtr, ytr, Xva, yva


def make_model(config: dict[str, Any], seed: int) -> Any:
    from sklearn.ensemble import RandomForestClassifier

    boot = bool(config["bootstrap"])
    return RandomForestClassifier(
        n_estimators=1, warm_start=True, criterion=config["criterion"],
        max_features=float(config["max_features"]),
        max_depth=int(config["max_depth"]) if config["depth_limit"] == "limited" else None,
        min_samples_split=int(config["min_samples_split"]), min_samples_leaf=int(config["min_samples_leaf"]),
        bootstrap=boot, max_samples=float(config["max_samples"]) if boot else None, random_state=seed, n_jobs=1)


def fit_curve(config: dict[str, Any], seed: int, data: tuple) -> dict[str, list]:
    """Trees added one at a time; per-tree validation error, log loss and measured seconds."""
    Xtr, ytr, Xva, yva = data
    model = make_model(config, seed)
    out: dict[str, list] = {m: [] for m in METRICS}
    total = np.zeros((len(yva), len(np.unique(ytr))))
    eps = 1e-15
    for k in range(1, N_TREES + 1):
        t, c = time.perf_counter(), time.thread_time()
        model.set_params(n_estimators=k)
        model.fit(Xtr, ytr)
        total += model.estimators_[-1].predict_proba(Xva)
        proba = total / k
        t2, c2 = time.perf_counter(), time.thread_time()
        p_true = np.clip(proba[np.arange(len(yva)), yva], eps, 1.0)
        out["val_error"].append(float(np.mean(proba.argmax(1) != yva)))
        out["val_logloss"].append(float(-np.mean(np.log(p_true))))
        out["seconds"].append(float(t2 - t))
        out["cpu_seconds"].append(float(c2 - c))
    return out


def meta() -> dict[str, Any]:
    from tunestack.space import SearchSpace

    return {
        "description": "sklearn RandomForestClassifier grown one tree at a time on make_classification("
                       "n_samples=2400, n_features=24, n_informative=10, n_redundant=6, n_classes=4, "
                       f"n_clusters_per_class=2, flip_y=0.04, class_sep=0.9, random_state={DATA_SEED}); "
                       "stratified 5/8 train 3/8 validation split; validation error per tree",
        "budget": "trees", "min_budget": 1, "max_budget": N_TREES, "objective": "val_error",
        "cost": "cpu_seconds", "sobol_seed": SOBOL_SEED, "timing": TIMING_NOTE,
        "space": SearchSpace.from_configspace(config_space()).describe(),
        "machine": machine_info(),
        "command": "nice -n 10 python -m benchmarks.mf.generate_forest --shard 0/2 (and 1/2)",
    }


def run(limit: int | None, do_pack: bool, shard: tuple[int, int] = (0, 1)) -> None:
    configs = design()
    data = load_data()
    work = lambda config, seed: fit_curve(config, seed, data)  # noqa: E731
    generate(NAME, configs, config_seed, work, METRICS, range(1, N_TREES + 1), meta, limit, do_pack, shard)


def main(argv: list[str] | None = None) -> None:
    generator_main(__doc__, run, argv)


if __name__ == "__main__":
    main()
