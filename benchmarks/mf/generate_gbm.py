"""Learning curves of scikit-learn gradient boosting: validation error after each boosting iteration.

Run (resumable; finished configs are appended to ``benchmarks/mf/_work/gbm.jsonl``)::

    nice -n 10 python -m benchmarks.mf.generate_gbm                   # all 512 configs, then pack
    nice -n 10 python -m benchmarks.mf.generate_gbm --limit 10 --no-pack          # timing estimate

Budget = number of boosting iterations (1 .. 200).  One ``fit`` per configuration gives the whole
curve: a ``monitor`` callback times every boosting stage as it is fitted, and ``staged_predict_proba``
on the validation set times the evaluation of every stage; the cost of iteration ``k`` is the sum of
the two.  Data: ``make_classification`` (3000 samples, 20 features, fixed seed), stratified 2/3 : 1/3
train/validation split.  Configurations: a scrambled Sobol sample of :func:`config_space`; config
``i`` fits with ``random_state=config_seed(i)``.
"""
from __future__ import annotations

import time
from typing import Any

import ConfigSpace as CS
import numpy as np

from .table import generate, generator_main, index_seed, machine_info, sobol_configs

NAME = "gbm"
N_CONFIGS = 512
N_ITER = 200
SOBOL_SEED = 20261122
DATA_SEED = 0
METRICS = ("val_error", "val_logloss", "seconds", "cpu_seconds")
TIMING_NOTE = ("seconds: wall time of each step (training + validation); cpu_seconds: CPU time of the one "
               "training thread in that step. Measured on a shared 2-core machine whose load average "
               "reached ~18 during generation, so wall time is inflated ~2-5.5x by other jobs at random; "
               "cpu_seconds is the contention-free cost.")


def config_space() -> CS.ConfigurationSpace:
    """7 hyperparameters of ``GradientBoostingClassifier``; ``max_depth`` only without a leaf cap."""
    cs = CS.ConfigurationSpace(name=NAME)
    tree_shape = CS.Categorical("tree_shape", ["depth", "leaves"], default="depth")
    max_depth = CS.Integer("max_depth", (1, 8), default=3)
    max_leaf_nodes = CS.Integer("max_leaf_nodes", (2, 64), log=True, default=8)
    cs.add([
        CS.Float("learning_rate", (0.01, 1.0), log=True, default=0.1),
        tree_shape, max_depth, max_leaf_nodes,
        CS.Float("subsample", (0.3, 1.0), default=1.0),
        CS.Float("max_features", (0.1, 1.0), default=1.0),
        CS.Integer("min_samples_leaf", (1, 64), log=True, default=1),
    ])
    cs.add([CS.EqualsCondition(max_depth, tree_shape, "depth"),
            CS.EqualsCondition(max_leaf_nodes, tree_shape, "leaves")])
    return cs


def config_seed(index: int) -> int:
    return index_seed(SOBOL_SEED, index)


def design(n: int = N_CONFIGS) -> list[dict[str, Any]]:
    return sobol_configs(config_space(), n, SOBOL_SEED)


def load_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import make_classification
    from sklearn.model_selection import train_test_split

    X, y = make_classification(n_samples=3000, n_features=20, n_informative=8, n_redundant=4,
                               n_clusters_per_class=3, flip_y=0.03, class_sep=0.8, random_state=DATA_SEED)
    Xtr, Xva, ytr, yva = train_test_split(X, y, test_size=1 / 3, stratify=y, random_state=DATA_SEED)
    return Xtr, ytr, Xva, yva


def make_model(config: dict[str, Any], seed: int) -> Any:
    from sklearn.ensemble import GradientBoostingClassifier

    depth = config["tree_shape"] == "depth"
    return GradientBoostingClassifier(
        n_estimators=N_ITER, learning_rate=config["learning_rate"], subsample=config["subsample"],
        max_features=config["max_features"], min_samples_leaf=int(config["min_samples_leaf"]),
        max_depth=int(config["max_depth"]) if depth else None,
        max_leaf_nodes=None if depth else int(config["max_leaf_nodes"]), random_state=seed)


def fit_curve(config: dict[str, Any], seed: int, data: tuple) -> dict[str, list]:
    """One fit; per-iteration validation error, log loss and measured seconds (fit + evaluation)."""
    Xtr, ytr, Xva, yva = data
    model = make_model(config, seed)
    stamps: list[tuple[float, float]] = [(time.perf_counter(), time.thread_time())]

    def monitor(i: int, est: Any, local: dict) -> bool:
        stamps.append((time.perf_counter(), time.thread_time()))
        return False

    model.fit(Xtr, ytr, monitor=monitor)
    train_wall = np.diff([s[0] for s in stamps])
    train_cpu = np.diff([s[1] for s in stamps])
    out: dict[str, list] = {m: [] for m in METRICS}
    eps = 1e-15
    t, c = time.perf_counter(), time.thread_time()
    for k, proba in enumerate(model.staged_predict_proba(Xva)):
        p_true = np.clip(proba[np.arange(len(yva)), yva], eps, 1.0)
        out["val_error"].append(float(np.mean(proba.argmax(1) != yva)))
        out["val_logloss"].append(float(-np.mean(np.log(p_true))))
        t2, c2 = time.perf_counter(), time.thread_time()
        out["seconds"].append(float(train_wall[k] + t2 - t))
        out["cpu_seconds"].append(float(train_cpu[k] + c2 - c))
        t, c = t2, c2
    return out


def meta() -> dict[str, Any]:
    from tunestack.space import SearchSpace

    return {
        "description": "sklearn GradientBoostingClassifier on make_classification(n_samples=3000, "
                       "n_features=20, n_informative=8, n_redundant=4, n_clusters_per_class=3, "
                       f"flip_y=0.03, class_sep=0.8, random_state={DATA_SEED}); stratified 2/3 train "
                       "1/3 validation split; validation error per boosting iteration",
        "budget": "boosting iteration", "min_budget": 1, "max_budget": N_ITER, "objective": "val_error",
        "cost": "cpu_seconds", "sobol_seed": SOBOL_SEED, "timing": TIMING_NOTE,
        "space": SearchSpace.from_configspace(config_space()).describe(),
        "machine": machine_info(),
        "command": "nice -n 10 python -m benchmarks.mf.generate_gbm",
    }


def run(limit: int | None, do_pack: bool, shard: tuple[int, int] = (0, 1)) -> None:
    configs = design()
    data = load_data()
    work = lambda config, seed: fit_curve(config, seed, data)  # noqa: E731
    generate(NAME, configs, config_seed, work, METRICS, range(1, N_ITER + 1), meta, limit, do_pack, shard)


def main(argv: list[str] | None = None) -> None:
    generator_main(__doc__, run, argv)


if __name__ == "__main__":
    main()
