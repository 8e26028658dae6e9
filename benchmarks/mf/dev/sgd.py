"""A development learning-curve table: a linear SGD classifier on Nystroem RBF features, budget = epochs.

Not one of the reported benchmarks (``mlp_digits``, ``gbm``): the BOHB settings were chosen on this one
and on :mod:`.synthetic`, so that the reported tables stay a held-out check.  Another model family
(a linear model trained by stochastic gradient descent on random kernel features), another data set
(``make_classification`` with 3 classes, seed 7), another fidelity behaviour (learning-rate schedules,
averaging and the hinge/log/huber losses make curves cross).

Run (resumable, ``benchmarks/mf/_work/sgd_dev.jsonl``; about 0.3-1.5 CPU s per configuration)::

    nice -n 10 python -m benchmarks.mf.dev.sgd          # 384 configurations x 40 epochs, then pack

Cost = thread CPU seconds per epoch (training + validation); the harness charges whole epochs anyway.
"""
from __future__ import annotations

import argparse
import time
import warnings
from typing import Any

import ConfigSpace as CS
import numpy as np

from ..table import DATA_DIR, pack, run_generation

NAME = "sgd_dev"
N_CONFIGS = 384
N_EPOCHS = 40
SOBOL_SEED = 20261201
DATA_SEED = 7
METRICS = ("val_error", "cpu_seconds")


def config_space() -> CS.ConfigurationSpace:
    """8 hyperparameters, two of them conditional (``eta0`` not with the 'optimal' schedule,
    ``l1_ratio`` only with the elastic net)."""
    cs = CS.ConfigurationSpace(name=NAME)
    schedule = CS.Categorical("learning_rate", ["optimal", "invscaling", "adaptive"], default="optimal")
    penalty = CS.Categorical("penalty", ["l2", "elasticnet"], default="l2")
    eta0 = CS.Float("eta0", (1e-4, 1.0), log=True, default=0.01)
    l1_ratio = CS.Float("l1_ratio", (0.0, 1.0), default=0.15)
    cs.add([
        CS.Categorical("loss", ["hinge", "log_loss", "modified_huber"], default="hinge"),
        CS.Float("alpha", (1e-7, 1e-1), log=True, default=1e-4),
        schedule, eta0, penalty, l1_ratio,
        CS.Float("gamma", (1e-3, 1.0), log=True, default=0.05),
        CS.Integer("n_components", (16, 256), log=True, default=64),
        CS.Categorical("average", [False, True], default=False),
    ])
    cs.add([CS.NotEqualsCondition(eta0, schedule, "optimal"),
            CS.EqualsCondition(l1_ratio, penalty, "elasticnet")])
    return cs


def config_seed(index: int) -> int:
    return int(np.random.SeedSequence([SOBOL_SEED, index]).generate_state(1)[0] % (2 ** 31 - 1))


def design(n: int = N_CONFIGS) -> list[dict[str, Any]]:
    from tunestack.searchers.initial_design import sobol_design
    from tunestack.space import SearchSpace

    space = SearchSpace.from_configspace(config_space())
    return [space.decode_flat(v) for v in sobol_design(space, n, SOBOL_SEED)]


def load_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import make_classification
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = make_classification(n_samples=2400, n_features=16, n_informative=10, n_redundant=2, n_classes=3,
                               n_clusters_per_class=2, class_sep=1.0, flip_y=0.02, random_state=DATA_SEED)
    Xtr, Xva, ytr, yva = train_test_split(X, y, test_size=1 / 3, stratify=y, random_state=DATA_SEED)
    sc = StandardScaler().fit(Xtr)
    return sc.transform(Xtr), ytr, sc.transform(Xva), yva


def fit_curve(config: dict[str, Any], seed: int, data: tuple) -> dict[str, list]:
    from sklearn.kernel_approximation import Nystroem
    from sklearn.linear_model import SGDClassifier

    Xtr, ytr, Xva, yva = data
    c0 = time.thread_time()
    ny = Nystroem(gamma=config["gamma"], n_components=int(config["n_components"]), random_state=seed)
    A = ny.fit_transform(Xtr)
    B = ny.transform(Xva)
    clf = SGDClassifier(loss=config["loss"], alpha=config["alpha"], penalty=config["penalty"],
                        l1_ratio=config.get("l1_ratio", 0.15), learning_rate=config["learning_rate"],
                        eta0=config.get("eta0", 0.01), average=bool(config["average"]), random_state=seed)
    classes = np.unique(ytr)
    out: dict[str, list] = {"val_error": [], "cpu_seconds": []}
    setup = time.thread_time() - c0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(N_EPOCHS):
            c = time.thread_time()
            clf.partial_fit(A, ytr, classes=classes)
            err = float(np.mean(clf.predict(B) != yva))
            out["val_error"].append(err if np.isfinite(err) else 1.0)
            out["cpu_seconds"].append(time.thread_time() - c + setup)
            setup = 0.0
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=None)
    args = ap.parse_args(argv)
    configs = design()
    data = load_data()
    records = run_generation(NAME, configs, config_seed, lambda c, s: fit_curve(c, s, data), args.limit)
    if len(records) == len(configs):
        meta = {"description": "SGDClassifier on Nystroem RBF features, make_classification(2400, 16 "
                               "features, 3 classes, seed 7), 2/3 : 1/3 split; validation error per epoch",
                "budget": "epoch", "min_budget": 1, "max_budget": N_EPOCHS, "sobol_seed": SOBOL_SEED,
                "command": "nice -n 10 python -m benchmarks.mf.dev.sgd"}
        out = pack(NAME, records, METRICS, range(1, N_EPOCHS + 1), meta, DATA_DIR / "dev" / f"{NAME}.json.gz",
                   digits={"cpu_seconds": 3})
        print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
