"""Every optimizer of the searcher benchmark behind one signature: ``run(problem, seed, n) -> values``.

``values[i]`` is the objective value of the i-th evaluation (minimized).  tunestack's searchers go
through their public ask/tell API; the peers (imported lazily, they live in ``.bench-venv`` only) use
their own ordinary entry points with default settings:

* ``optuna_tpe`` / ``optuna_mvtpe``: ``TPESampler(multivariate=False, seed=)`` (univariate; Optuna 5's
  default ``multivariate=None`` means multivariate for one objective) and ``TPESampler(multivariate=True,
  group=<space is conditional>, seed=)``, ``study.optimize`` with the define-by-run space of
  :func:`.spaces.optuna_suggest`;
* ``hyperopt_tpe``: ``fmin(algo=tpe.suggest, rstate=default_rng(seed))`` on :func:`.spaces.hyperopt_space`;
* ``smac_hpo``: SMAC3's ``HyperparameterOptimizationFacade`` (random-forest BO, its default initial
  design, intensifier and acquisition maximizer) driven by ``ask``/``tell`` on the ConfigSpace itself,
  ``deterministic=True``.  Its random forest is the facade's ``get_model`` with two settings changed
  that do not change the model: ``n_jobs=1`` instead of ``-1`` (every optimizer here runs on one
  thread) and ``max_leaf_nodes=None`` instead of ``2**20`` (both mean unlimited, but with ``2**20``
  scikit-learn's best-first tree builder preallocates for a million leaves: 0.5 s per tree, 5 ms with
  ``None``; the trees are grown to the same stopping rules, depth-first instead of best-first);
* ``cma``: pycma's ``CMAEvolutionStrategy`` in the unit cube with ``bounds=[0, 1]`` (its default
  ``BoundTransform``), ``sigma0=0.3``, a uniform random start, and IPOP restarts (Auger & Hansen 2005):
  whenever ``es.stop()`` fires the strategy restarts from a new random point with twice the population.
  Neither ``cma`` nor tunestack's ``cmaes`` knows the budget, so a 500-evaluation run's first 100
  evaluations are exactly a 100-evaluation run.
"""
from __future__ import annotations

import copy
import math
import tempfile
import warnings
from typing import Callable

import numpy as np

from .problems import Problem

__all__ = ["OPTIMIZERS", "CONTINUOUS_ONLY", "TUNESTACK", "PEERS", "run_optimizer", "applicable"]

TUNESTACK = ("rfbo", "tpe", "cmaes", "random")
PEERS = ("optuna_tpe", "optuna_mvtpe", "hyperopt_tpe", "smac_hpo", "cma")
OPTIMIZERS = TUNESTACK + PEERS
CONTINUOUS_ONLY = ("cmaes", "cma")

Runner = Callable[[Problem, int, int], list[float]]


def applicable(optimizer: str, problem: Problem) -> bool:
    return problem.continuous or optimizer not in CONTINUOUS_ONLY


def _value(problem: Problem, config: dict) -> float:
    v = float(problem.fn(config))
    return v if math.isfinite(v) else math.inf


# ---- tunestack ------------------------------------------------------------------------------------------
def _tunestack(name: str) -> Runner:
    def run(problem: Problem, seed: int, n: int) -> list[float]:
        from tunestack.searchers import create

        s = create(name, problem.space, mode="min", seed=seed)
        values = []
        for _ in range(n):
            sug = s.ask()
            v = _value(problem, sug.config)
            s.tell(sug.id, v)
            values.append(v)
        return values

    return run


# ---- Optuna ---------------------------------------------------------------------------------------------
def _optuna(multivariate: bool) -> Runner:
    def run(problem: Problem, seed: int, n: int) -> list[float]:
        import optuna

        from .spaces import optuna_suggest

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        conditional = bool(problem.space.conditions)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ExperimentalWarning for multivariate / group
            # explicit both ways: since Optuna 5 ``multivariate=None`` (the default) means True
            kw = {"multivariate": True, "group": conditional} if multivariate else {"multivariate": False}
            sampler = optuna.samplers.TPESampler(seed=seed, **kw)
            study = optuna.create_study(direction="minimize", sampler=sampler)
            study.optimize(lambda t: _value(problem, optuna_suggest(t, problem.space)), n_trials=n)
        return [float(t.value) for t in study.trials]

    return run


# ---- hyperopt -------------------------------------------------------------------------------------------
def _hyperopt(problem: Problem, seed: int, n: int) -> list[float]:
    from hyperopt import STATUS_OK, Trials, fmin, tpe

    from .spaces import hyperopt_config, hyperopt_space

    values: list[float] = []

    def objective(sample: dict) -> dict:
        v = _value(problem, hyperopt_config(problem.space, sample))
        values.append(v)
        return {"loss": v, "status": STATUS_OK}

    fmin(objective, hyperopt_space(problem.space), algo=tpe.suggest, max_evals=n, trials=Trials(),
         rstate=np.random.default_rng(seed), show_progressbar=False)
    return values


# ---- SMAC3 ----------------------------------------------------------------------------------------------
def _smac(problem: Problem, seed: int, n: int) -> list[float]:
    from smac import HyperparameterOptimizationFacade, Scenario
    from smac.runhistory.dataclasses import TrialValue

    values = []
    with tempfile.TemporaryDirectory(prefix="smac-bench-") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy's "mean of empty slice" inside SMAC
        scenario = Scenario(copy.deepcopy(problem.space), deterministic=True, n_trials=n, seed=seed,
                            output_directory=tmp)
        model = HyperparameterOptimizationFacade.get_model(scenario)  # the facade's own forest, except:
        model._rf_opts["n_jobs"] = 1  # one thread (its default -1 starts a thread per core), and
        model._rf_opts["max_leaf_nodes"] = None  # "no limit" (for 2**20 sklearn preallocates: 0.5 s a tree)
        smac = HyperparameterOptimizationFacade(scenario, _smac_dummy_target, model=model, overwrite=True,
                                                logging_level=40)
        for _ in range(n):
            info = smac.ask()
            v = _value(problem, dict(info.config))
            smac.tell(info, TrialValue(cost=v))
            values.append(v)
    return values


def _smac_dummy_target(config: object, seed: int = 0) -> float:
    raise RuntimeError("the benchmark drives SMAC by ask/tell; the target function is never called")


# ---- pycma ----------------------------------------------------------------------------------------------
def _cma(problem: Problem, seed: int, n: int) -> list[float]:
    import cma

    from tunestack.space import SearchSpace

    space = SearchSpace.create(problem.space)
    d = space.dim
    rng = np.random.default_rng(seed)
    values: list[float] = []
    popsize, restart = 4 + int(3 * math.log(d)), 0
    while len(values) < n:
        opts = {"bounds": [0.0, 1.0], "popsize": popsize, "seed": seed * 1000 + restart + 1, "verbose": -9}
        es = cma.CMAEvolutionStrategy(rng.uniform(0.0, 1.0, d).tolist(), 0.3, opts)
        while not es.stop() and len(values) < n:
            xs = es.ask()
            fs = []
            for x in xs:
                v = _value(problem, space.decode(np.clip(np.asarray(x), 0.0, 1.0)))
                fs.append(v)
                values.append(v)
            es.tell(xs, fs)
        popsize, restart = popsize * 2, restart + 1  # IPOP
    return values[:n]


_RUNNERS: dict[str, Runner] = {
    **{name: _tunestack(name) for name in TUNESTACK},
    "optuna_tpe": _optuna(False),
    "optuna_mvtpe": _optuna(True),
    "hyperopt_tpe": _hyperopt,
    "smac_hpo": _smac,
    "cma": _cma,
}


def run_optimizer(optimizer: str, problem: Problem, seed: int, n: int) -> list[float]:
    if optimizer not in _RUNNERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; choose from {list(_RUNNERS)}")
    if not applicable(optimizer, problem):
        raise ValueError(f"optimizer {optimizer!r} runs on continuous problems only, not {problem.name!r}")
    values = _RUNNERS[optimizer](problem, seed, n)
    if len(values) != n:
        raise RuntimeError(f"{optimizer} on {problem.name} made {len(values)} evaluations instead of {n}")
    return values
